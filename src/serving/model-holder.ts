/**
 * The version being served, apart from the request path: loads a version beside the one in
 * use and replaces one reference, so a request keeps what it started with and none fails
 * during a swap.
 */
import type { Logger } from 'pino';
import { Turns } from '../turns.ts';
import { loadServed } from './served.ts';
import type { Served, ServedSource } from './served.ts';

export interface ModelHolderOptions extends ServedSource {
  log: Logger;
  /** Called with a loaded version before it is swapped in (the one in use still serving). */
  prepare?: (next: Served) => Promise<void>;
}

export class ModelHolder {
  private served: Served | null = null;
  /** The version last loaded (null: none; undefined: nothing loaded yet). */
  private version: string | null | undefined = undefined;
  private readonly swaps = new Turns();
  /** Swaps asked and not yet ended. */
  private pending = 0;
  /** The version that last failed to load, and when. */
  private failed: { version: string | null; at: number } | null = null;

  constructor(private readonly o: ModelHolderOptions) {}

  /** What is served now (null before the first swap). */
  get current(): Served | null {
    return this.served;
  }

  /**
   * Loads `version` (default: the registry's current one) and swaps it in atomically. Swaps take
   * turns, so the last one asked is the one served.
   */
  swap(version?: string | null): Promise<void> {
    return this.turn(async () => {
      await this.load(version === undefined ? await this.o.registry.current() : version);
    });
  }

  /**
   * Swaps in the registry's current version when another one is loaded. The change feed brings
   * a version to every replica at once; this is the net under it, for a version change this
   * process failed to apply (the feed does not apply a change twice) and for a version made
   * current by a process that died before it logged the change (the registry is written first).
   * Not while a swap is under way; a version that failed to load is tried again `retryMs` later.
   * @returns whether it swapped
   */
  follow(retryMs: number): Promise<boolean> {
    if (this.pending || this.version === undefined) return Promise.resolve(false);
    return this.turn(async () => {
      const current = await this.o.registry.current();
      if (current === this.version) return false;
      const failed = this.failed;
      if (failed?.version === current && this.o.now() - failed.at < retryMs) return false;
      this.o.log.warn(
        { served: this.version, current },
        'the registry names another current version than the one served: swapping it in',
      );
      await this.load(current);
      return true;
    });
  }

  private async turn<T>(task: () => Promise<T>): Promise<T> {
    this.pending++;
    try {
      return await this.swaps.run(task);
    } finally {
      this.pending--;
    }
  }

  private async load(target: string | null): Promise<void> {
    const t0 = performance.now();
    try {
      this.served = await loadServed(this.o, target, this.o.prepare);
    } catch (err) {
      this.failed = { version: target, at: this.o.now() };
      throw err;
    }
    this.failed = null;
    // Said as it is: a load of the version already served refreshes its catalogue and
    // erasures, and a store without a version serves trending only (once it listens: a first
    // start trains before it does, and said "serving trending" a minute before answering).
    const what =
      target === null
        ? 'no model version yet: trending only, once serving'
        : target === this.version
          ? 'model reloaded'
          : 'model swapped in';
    this.version = target;
    this.o.log.info({ version: target, ms: Math.round(performance.now() - t0) }, what);
  }
}
