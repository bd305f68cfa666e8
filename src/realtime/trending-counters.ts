/**
 * Real-time trending counters: per item, Σ weight · 2^(−(t − timestamp) / halfLife) over the
 * engagement of the window, in memory in embedded mode and in Redis with `REDIS_URL`, so that
 * every replica ranks alike (issue #12, build item 6). Serving mirrors them into its item space
 * (src/serving/trending-state.ts).
 *
 * What counts, the same in every implementation (`describeRealtime` holds them to it):
 * - the per-visitor cap (src/store/engagement-cap.ts): each (visitor, item, event type) at
 *   most once per UTC day;
 * - an event dated after `now` counts as of `now`: a score never comes from the future, so one
 *   event dated 2099 cannot make its item's score Infinity and every other one 0;
 * - live events (`add`) of a day before yesterday are not counted: the cap remembers only
 *   today's and yesterday's visitors (its memory bound). The store's window is counted once,
 *   at the first start (`claimSeed`, `seed`), with the cap applied while reading it;
 * - an item scores only once `minVisitors` visits count for it in the epochs a read sums (a
 *   visit: a visitor's first engagement with the item in a UTC day, whatever its type). The cap
 *   bounds one visitor's weight, not their rank: in a quiet shop one visitor's click and
 *   purchase made that item first for every visitor without history.
 *
 * Decay without rewriting: the window's time is cut into epochs one window long; an event adds
 * `weight · 2^((timestamp − epochStart) / halfLife)` to its item in its epoch's counter, and a
 * score at `at` sums the current and the previous epoch, each times `2^((epochStart − at) /
 * halfLife)`. Exponents stay within window / halfLife (7 by default): no overflow, no rebase.
 */
import type { EventType } from '../store/types.ts';

/** One engagement event as trending counts it. */
export interface Engagement {
  /** Whose: `subjectKey` of the user or session (the cap is per visitor). */
  visitor: string;
  itemId: string;
  type: EventType;
  /** Epoch ms. */
  timestamp: number;
  /** The event type's trending weight; > 0. */
  weight: number;
  /**
   * Whether it is the visitor's first engagement with the item that day, as the caller's cap
   * found it: only for seeded days before yesterday (`seed`), whose visitors the counters do
   * not remember; they tell the later days' visits themselves.
   */
  visit?: boolean;
}

export interface TrendingCountersOptions {
  /** Half-life of an event's weight, ms. */
  halfLifeMs: number;
  /**
   * How far back events count, ms (at most 512 half-lives): a read sums events up to one to two
   * windows old (the older part decayed by 2^(−window / halfLife) or more).
   */
  windowMs: number;
  /** Visits an item needs, in the epochs a read sums, to score (≥ 1). */
  minVisitors: number;
}

export interface TrendingRead {
  /**
   * Item id → score at the read's `at`: every item with a score when `full`, else the items
   * changed since the cursor given, perhaps with some changed at its very instant (an item
   * absent keeps the score read before).
   */
  scores: Map<string, number>;
  full: boolean;
  /** Give it to the next read to get only what changed since this one. */
  cursor: number;
}

export interface TrendingCounters {
  /** Counts live events (capped, clamped to `now`, the day before yesterday and older dropped); how many counted. */
  add(events: readonly Engagement[], now: number): Promise<number>;
  /**
   * True for the one caller that should seed these counters from the store: the first since
   * they are empty (another replica, or an earlier start, may have done it already).
   */
  claimSeed(): Promise<boolean>;
  /** The seed is counted (or given up): callers waiting in `seedCounted` go on. */
  seedDone(): Promise<void>;
  /**
   * Resolves once the caller that claimed the seed has counted it, or after `timeoutMs`: a
   * replica starting beside it then reads whole counters, not half a seed.
   */
  seedCounted(timeoutMs: number): Promise<void>;
  /**
   * Counts the store's window, already capped by the caller (`OncePerPeriod` over events in time
   * order); today's and yesterday's are checked against live events counted meanwhile.
   */
  seed(events: readonly Engagement[], now: number): Promise<void>;
  /** Scores at `at`: all of them (`since` null, or too old to answer from), or those changed since. */
  read(at: number, since: number | null): Promise<TrendingRead>;
  /** `read` without a promise, where the counters are in this process. */
  readNow?(at: number, since: number | null): TrendingRead;
}

/**
 * Trending remembers about a week: a two-day half-life; a window of several half-lives. An item
 * trends once three visits engaged with it.
 */
export const DEFAULT_TRENDING: Readonly<TrendingCountersOptions> = Object.freeze({
  halfLifeMs: 2 * 86_400_000,
  windowMs: 14 * 86_400_000,
  minVisitors: 3,
});

/** Live events of a day before this one (the day before `now`'s) are not counted. */
export const oldestLiveDay = (now: number, dayMs: number): number => Math.floor(now / dayMs) - 1;

/** The epoch arithmetic both implementations share. */
export class TrendingEpochs {
  readonly halfLifeMs: number;
  readonly epochMs: number;
  readonly minVisitors: number;

  constructor(o: TrendingCountersOptions) {
    if (!(o.halfLifeMs > 0 && Number.isFinite(o.halfLifeMs)))
      throw new RangeError(`halfLifeMs must be a finite number > 0, got ${o.halfLifeMs}`);
    if (!(o.windowMs > 0 && o.windowMs / o.halfLifeMs <= 512))
      throw new RangeError(`windowMs must be > 0 and at most 512 half-lives, got ${o.windowMs}`);
    if (!(Number.isInteger(o.minVisitors) && o.minVisitors >= 1))
      throw new RangeError(`minVisitors must be an integer >= 1, got ${o.minVisitors}`);
    this.halfLifeMs = o.halfLifeMs;
    this.epochMs = o.windowMs;
    this.minVisitors = o.minVisitors;
  }

  epochOf(timestamp: number): number {
    return Math.floor(timestamp / this.epochMs);
  }

  /** What an event adds to its epoch's counter. */
  increment(timestamp: number, weight: number): number {
    return weight * 2 ** ((timestamp - this.epochOf(timestamp) * this.epochMs) / this.halfLifeMs);
  }

  /** The factor turning a counter of `epoch` into a score at `at`. */
  factor(epoch: number, at: number): number {
    return 2 ** ((epoch * this.epochMs - at) / this.halfLifeMs);
  }
}
