/**
 * Recently computed lists, so that a visitor who asks again for the same thing (the next page
 * view, a reload, the same tier on another page) gets it without another candidate search.
 * An entry is only reused while all of this holds:
 * - the same model version object is served (a swap or rollback starts afresh, but with the
 *   most recently used lists already computed on the new version: engine.ts `warm`);
 * - the merchandising rules (pins, boosts) are those it was made with;
 * - it is younger than its lifetime: `ttlMs` (trending, new arrivals and pins move on within that
 *   time) less up to a quarter, drawn for each entry. Lists made together (a swap's warm-up, a
 *   burst of traffic after a quiet spell) would otherwise expire together and all be computed
 *   again in the same second: a stampede of misses that held answers 0.3–0.6 s at 3,000 req/s
 *   on 3,000 items (the jobs bench, 30 s after it warmed every visitor's list);
 * - the visitor's recent events are the same (`stamp`: a view, a purchase, a deletion or a
 *   consent change computes anew, on every replica, because real-time state is shared);
 * - every item in it is still allowed: after any catalogue change the items are checked again
 *   (out of stock, delisted, out of the category, outside the request's filters), and a list
 *   with one item no longer allowed is computed anew.
 * An item that becomes available again shows up when the entry expires.
 *
 * Bounded: least recently used entries go first (a Map keeps insertion order; a hit moves an
 * entry from the older half to the end).
 */
import { createRng } from '../../models/random.ts';
import type { Rng } from '../../models/random.ts';
import type { RecommendedItem, RecommendRequest, TierConfig } from './types.ts';

/** The share of `ttlMs` by which an entry's lifetime may fall short of it (see above). */
export const EXPIRY_SPREAD = 0.25;

export interface CacheEntry<M> {
  model: M;
  /** The configuration the list was made with (its pins and boosts must still be the rules'). */
  config: Pick<TierConfig, 'pins' | 'boosts'>;
  at: number;
  stamp: string;
  /** The catalogue version the items were last checked against. */
  catalogVersion: number;
  /** Whose list (for deletion). */
  userId?: string;
  /** The listed items' catalogue indices (what a catalogue change re-checks). */
  indices: readonly number[];
  /** The answer's items, frozen: every answer from this entry shares the array. */
  items: readonly RecommendedItem[];
  /** Their ids, frozen and shared alike (impressions, rotation). */
  itemIds: readonly string[];
  /** The request and its resolved limit (what a swap's warm-up asks the next version again). */
  req: RecommendRequest;
  limit: number;
  /** Its place in the recency order (set by the cache). */
  order?: number;
  /** How long it may be served, ms (drawn by the cache). */
  lifeMs?: number;
}

export interface AnswerCacheOptions {
  /** How long an entry may be served; 0 turns the cache off. */
  ttlMs: number;
  /** At most this many entries. */
  entries: number;
  /** Seeds the lifetimes' draws (default 1). */
  seed?: number;
}

export interface AnswerCacheStats {
  hits: number;
  misses: number;
  size: number;
}

export class AnswerCache<M> {
  private readonly map = new Map<string, CacheEntry<M>>();
  /** Entries for the version about to be served (see `stage`). */
  private readonly staged = new Map<string, CacheEntry<M>>();
  private hits = 0;
  private misses = 0;
  /** Insertions so far: an entry's `order` tells how far from the newest end it is. */
  private seq = 0;
  private readonly rng: Rng;

  constructor(readonly options: AnswerCacheOptions) {
    this.rng = createRng(options.seed ?? 1);
  }

  get enabled(): boolean {
    return this.options.ttlMs > 0 && this.options.entries > 0;
  }

  /**
   * The entry for `key` when it still holds for `model`, `config`, `now` and `stamp`; when the catalogue
   * changed since its items were last checked, `stillAllowed(model, req, indices)` checks them.
   * (A function and its arguments, not a closure: this runs on every hit.)
   */
  get(
    key: string,
    model: M,
    config: Pick<TierConfig, 'pins' | 'boosts'>,
    now: number,
    stamp: string,
    catalogVersion: number,
    stillAllowed: (model: M, req: RecommendRequest, indices: readonly number[]) => boolean,
    req: RecommendRequest,
  ): CacheEntry<M> | null {
    const e = this.map.get(key);
    if (!e) {
      this.misses++;
      return null;
    }
    const holds =
      e.model === model &&
      e.config.pins === config.pins &&
      e.config.boosts === config.boosts &&
      e.stamp === stamp &&
      now >= e.at &&
      now - e.at <= (e.lifeMs ?? this.options.ttlMs) &&
      (e.catalogVersion === catalogVersion || stillAllowed(model, req, e.indices));
    if (!holds) {
      this.map.delete(key);
      this.misses++;
      return null;
    }
    e.catalogVersion = catalogVersion;
    // Recency is kept by re-inserting, but only entries in the older half move: one in the newer
    // half is evicted after every older one anyway (nearly LRU, half the map operations of a hit).
    if (this.seq - (e.order ?? 0) > this.map.size / 2) this.touch(key, e);
    this.hits++;
    return e;
  }

  set(key: string, entry: CacheEntry<M>): void {
    if (!this.enabled) return;
    entry.lifeMs = this.options.ttlMs * (1 - EXPIRY_SPREAD * this.rng.next());
    this.touch(key, entry);
    while (this.map.size > this.options.entries) this.map.delete(this.map.keys().next().value!);
  }

  /** Puts the entry at the newest end of the recency order. */
  private touch(key: string, entry: CacheEntry<M>): void {
    this.map.delete(key);
    entry.order = ++this.seq;
    this.map.set(key, entry);
  }

  /** Up to `n` entries made for `model` with their keys, most recently used first (a swap warms them). */
  recent(model: M, n: number): [string, CacheEntry<M>][] {
    const out: [string, CacheEntry<M>][] = [];
    const entries = [...this.map];
    for (let k = entries.length - 1; k >= 0 && out.length < n; k--)
      if (entries[k]![1].model === model) out.push(entries[k]!);
    return out;
  }

  /**
   * Keeps `entry` apart until {@link commitStaged}: made for a version about to be served, it
   * must not replace the entry the version still served answers from (a request would miss,
   * drop it and compute its list again on the old version, then once more after the swap).
   */
  stage(key: string, entry: CacheEntry<M>): void {
    if (this.enabled) this.staged.set(key, entry);
  }

  /** Moves the staged entries in, the first staged ending most recent. */
  commitStaged(): void {
    const staged = [...this.staged].reverse();
    this.staged.clear();
    for (const [key, entry] of staged) this.set(key, entry);
  }

  /** Drops every list made for `userId` (deletion, consent change), staged ones too. */
  forgetUser(userId: string): void {
    for (const map of [this.map, this.staged])
      for (const [key, e] of map) if (e.userId === userId) map.delete(key);
  }

  stats(): AnswerCacheStats {
    return { hits: this.hits, misses: this.misses, size: this.map.size };
  }
}

/** Everything in a request that shapes the list (not `limit`'s default: callers pass it resolved). */
export function answerKey(req: RecommendRequest, limit: number): string {
  return JSON.stringify([
    req.tier,
    req.userId ?? null,
    req.userId === undefined ? (req.sessionId ?? null) : null,
    req.itemId ?? null,
    req.cartItemIds ?? null,
    req.category ?? null,
    limit,
    req.exclude ?? null,
    req.filters ?? null,
    req.variant ?? null,
    req.config?.name ?? null,
  ]);
}
