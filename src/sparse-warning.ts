/**
 * A warning said at most once every `everyMs`: a dependency that does not answer (Redis) fails
 * every request the same way, and one line per request buried the log.
 */
import type { Logger } from 'pino';

export class SparseWarning {
  private last = -Infinity;

  constructor(
    private readonly log: Logger | undefined,
    private readonly message: string,
    private readonly everyMs = 30_000,
  ) {}

  /** Logs `err` with the message, unless it was said less than `everyMs` ago. */
  say(err: unknown): void {
    const now = Date.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    this.log?.warn({ err }, this.message);
  }
}
