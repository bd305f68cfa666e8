/**
 * Failed authentication, limited per client address: past `max` failures (a missing or unknown
 * key) in a minute, the address is answered 429 — before any key it sends is looked at, so
 * guessing keys stops there — until the window ends.
 *
 * The failures are counted by the rate limiter's own store (`@fastify/rate-limit`'s
 * `createRateLimit`: in memory, or in Redis shared by every replica when `REDIS_URL` is set),
 * not a second limiter. Each replica also remembers the addresses it found over the limit, so
 * that checking a request costs a map lookup, not a round trip: a replica learns of an address
 * blocked elsewhere at its first failure from it. While blocked, every key-bearing request from
 * the address is refused, a valid key too (it could be the next guess); the block lasts at most
 * the window.
 */
import type { FastifyRequest } from 'fastify';
import { ShelfError } from '../errors.ts';

/** What `app.createRateLimit(…)` returns: one count per call. */
export type FailureCounter = (
  req: FastifyRequest,
) => Promise<{ isAllowed: true } | { isAllowed: false; isExceeded: boolean; ttl: number }>;

/** Addresses remembered as blocked at once (beyond it the oldest go; the store still counts them). */
const MAX_BLOCKED = 10_000;

export class AuthFailures {
  /** Address → end of its block, epoch ms; insertion order is age. */
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    private readonly count: FailureCounter,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The 429 to answer `ip` with while it is blocked, else null (no lookup when none is). */
  refusal(ip: string): ShelfError | null {
    if (this.blockedUntil.size === 0) return null;
    const until = this.blockedUntil.get(ip);
    if (until === undefined) return null;
    const left = until - this.now();
    if (left <= 0) {
      this.blockedUntil.delete(ip);
      return null;
    }
    return tooMany(this.max, left);
  }

  /**
   * Counts one failure of `req`'s address; the 429 to answer instead of the 401 once it is over
   * the limit, else null. A store that cannot count (Redis down) leaves the 401 as it is.
   */
  async failed(req: FastifyRequest): Promise<ShelfError | null> {
    let result: Awaited<ReturnType<FailureCounter>>;
    try {
      result = await this.count(req);
    } catch (err) {
      req.log.warn({ err }, 'failed authentications could not be counted');
      return null;
    }
    if (result.isAllowed || !result.isExceeded) return null;
    this.block(req.ip, this.now() + result.ttl);
    return tooMany(this.max, result.ttl);
  }

  private block(ip: string, until: number): void {
    this.blockedUntil.delete(ip);
    if (this.blockedUntil.size >= MAX_BLOCKED) {
      const now = this.now();
      for (const [k, t] of this.blockedUntil) if (t <= now) this.blockedUntil.delete(k);
      if (this.blockedUntil.size >= MAX_BLOCKED)
        this.blockedUntil.delete(this.blockedUntil.keys().next().value as string);
    }
    this.blockedUntil.set(ip, until);
  }
}

function tooMany(max: number, leftMs: number): ShelfError {
  const seconds = Math.max(1, Math.ceil(leftMs / 1000));
  return ShelfError.of(
    'SHELF_ERR_RATE_LIMITED',
    `more than ${max} failed authentications per minute from this address; retry in ${seconds} s`,
    { retryAfterSeconds: seconds },
  );
}
