/**
 * Time-decayed popularity and trending per item and per category, for the cold-start fallback
 * and the `homepage` / `category` tiers.
 *
 * Each event adds `weight · 2^(−(t − timestamp) / halfLife)` to its item's score at time t. The
 * model stores, per item, `S = Σ weight · 2^((timestamp − ref) / halfLife)` relative to a
 * reference time `ref`, so the score at any time t is `S · 2^((ref − t) / halfLife)`: one
 * multiply, whatever the order in which events arrived. When an event is more than
 * `REBASE_HALF_LIVES` half-lives after `ref`, every S is rescaled and `ref` moves to that
 * event (rebase-to-reference), so nothing overflows; events over ~1000 half-lives older than
 * the newest one underflow to 0, i.e. weigh less than 2^−1000 of a fresh event.
 *
 * Exponential decay multiplies every item by the same factor as time passes, so the ranking by
 * decayed score does not depend on the query time; only the reported values do.
 *
 * Optional "rising" score: a second accumulator with a long half-life (the baseline), and
 *
 *     rising(i, t) = (s_i(t) / h_short) / ((l_i(t) + risingPrior) / h_long)
 *
 * i.e. the recent event rate over the long-run rate: about 1 for an item selling steadily,
 * well above 1 for one taking off. `risingPrior` (in weight units) keeps items with a single
 * event from topping the list.
 */
import { positive, topK } from './top-k.ts';
import type { TopK } from './top-k.ts';
import type { NeighbourLists } from './item-neighbours.ts';

const HOUR_MS = 3_600_000;
/** Rebase once an event is this many half-lives past the reference time (2^64 ≪ 2^1023). */
const REBASE_HALF_LIVES = 64;
const FORMAT_VERSION = 1;

/** Item → category ids, CSR style: item i's categories are `indices[indptr[i] .. indptr[i+1])`. */
export interface ItemCategories {
  /** Number of distinct category ids. */
  categories: number;
  indptr: Int32Array;
  indices: Int32Array;
}

export interface TrendingOptions {
  /** Number of items (item indices are 0 … items − 1). */
  items: number;
  /** Half-life of the score in ms. @defaultValue 24 h */
  halfLifeMs?: number;
  /** Half-life of the baseline kept for `rising`; 0 keeps none. @defaultValue 0 */
  baselineHalfLifeMs?: number;
  /** Pseudo-weight added to the baseline in `rising`. @defaultValue 5 */
  risingPrior?: number;
  /** Reference time in epoch ms. @defaultValue the first event's timestamp */
  referenceTime?: number;
  /** Category membership (see `buildItemCategories`); without it only global queries work. */
  categories?: ItemCategories;
}

export interface TrendingQuery {
  /** Restrict to items of this category id. */
  category?: number;
  /** `score` (decayed weight) or `rising` (needs a baseline half-life). @defaultValue 'score' */
  kind?: 'score' | 'rising';
  /** Epoch ms at which scores are reported. @defaultValue the newest event seen */
  at?: number;
}

/** The small JSON half of a serialised model; `TrendingBuffers` holds the arrays. */
export interface TrendingMeta {
  formatVersion: number;
  items: number;
  halfLifeMs: number;
  baselineHalfLifeMs: number;
  risingPrior: number;
  referenceTime: number | null;
  newestTime: number | null;
  events: number;
  categories: number | null;
}

export interface TrendingBuffers {
  /** Float64 per item, relative to `referenceTime`. */
  scores: Float64Array;
  /** Float64 per item; empty without a baseline. */
  baseline: Float64Array;
  /** Empty without categories. */
  categoryIndptr: Int32Array;
  categoryIndices: Int32Array;
}

export class TrendingModel {
  readonly items: number;
  readonly halfLifeMs: number;
  readonly baselineHalfLifeMs: number;
  readonly risingPrior: number;
  private readonly scores: Float64Array;
  private readonly baseline: Float64Array;
  private readonly itemCategories: ItemCategories | null;
  /** Category → its items ascending (the transpose of `itemCategories`), built lazily. */
  private categoryItems: { indptr: Int32Array; indices: Int32Array } | null = null;
  private ref: number | null;
  private newest: number | null = null;
  private eventCount = 0;

  constructor(options: TrendingOptions) {
    const { items } = options;
    if (!(Number.isInteger(items) && items >= 0))
      throw new RangeError(`items must be an integer >= 0, got ${items}`);
    this.items = items;
    this.halfLifeMs = options.halfLifeMs ?? 24 * HOUR_MS;
    this.baselineHalfLifeMs = options.baselineHalfLifeMs ?? 0;
    this.risingPrior = options.risingPrior ?? 5;
    if (!(this.halfLifeMs > 0)) throw new RangeError(`halfLifeMs must be > 0, got ${this.halfLifeMs}`);
    if (!(this.baselineHalfLifeMs >= 0))
      throw new RangeError(`baselineHalfLifeMs must be >= 0, got ${this.baselineHalfLifeMs}`);
    if (!(this.risingPrior > 0)) throw new RangeError(`risingPrior must be > 0, got ${this.risingPrior}`);
    if (options.referenceTime !== undefined && !Number.isFinite(options.referenceTime))
      throw new RangeError(`referenceTime must be finite, got ${options.referenceTime}`);
    this.ref = options.referenceTime ?? null;
    this.scores = new Float64Array(items);
    this.baseline = new Float64Array(this.baselineHalfLifeMs > 0 ? items : 0);
    const cats = options.categories ?? null;
    if (cats) {
      if (cats.indptr.length !== items + 1)
        throw new RangeError(`categories.indptr has length ${cats.indptr.length}, expected ${items + 1}`);
      for (const c of cats.indices)
        if (!(c >= 0 && c < cats.categories)) throw new RangeError(`category id ${c} out of range`);
    }
    this.itemCategories = cats;
  }

  /** Epoch ms of the newest event ingested, or null before any. */
  get newestTime(): number | null {
    return this.newest;
  }

  /** Number of events ingested. */
  get events(): number {
    return this.eventCount;
  }

  /** Adds one event. Any order; weight must be finite (negative weights undo earlier ones). */
  add(itemIndex: number, timestamp: number, weight = 1): void {
    if (!(itemIndex >= 0 && itemIndex < this.items && Number.isInteger(itemIndex)))
      throw new RangeError(`itemIndex ${itemIndex} out of range [0, ${this.items})`);
    if (!Number.isFinite(timestamp)) throw new RangeError(`timestamp must be finite, got ${timestamp}`);
    if (!Number.isFinite(weight)) throw new RangeError(`weight must be finite, got ${weight}`);
    if (this.ref === null) this.ref = timestamp;
    if ((timestamp - this.ref) / this.halfLifeMs > REBASE_HALF_LIVES) this.rebase(timestamp);
    const d = timestamp - this.ref;
    this.scores[itemIndex]! += weight * 2 ** (d / this.halfLifeMs);
    if (this.baseline.length > 0) this.baseline[itemIndex]! += weight * 2 ** (d / this.baselineHalfLifeMs);
    if (this.newest === null || timestamp > this.newest) this.newest = timestamp;
    this.eventCount++;
  }

  /**
   * Sets an item's decayed score at time `at` to `score` (a counter kept elsewhere, e.g. shared
   * by replicas, mirrored here); the baseline, if any, is left as it is.
   */
  setScore(itemIndex: number, at: number, score: number): void {
    if (!(itemIndex >= 0 && itemIndex < this.items && Number.isInteger(itemIndex)))
      throw new RangeError(`itemIndex ${itemIndex} out of range [0, ${this.items})`);
    if (!Number.isFinite(at)) throw new RangeError(`at must be finite, got ${at}`);
    if (!Number.isFinite(score)) throw new RangeError(`score must be finite, got ${score}`);
    if (this.ref === null) this.ref = at;
    if ((at - this.ref) / this.halfLifeMs > REBASE_HALF_LIVES) this.rebase(at);
    this.scores[itemIndex] = score * 2 ** ((at - this.ref) / this.halfLifeMs);
    if (this.newest === null || at > this.newest) this.newest = at;
  }

  /** Adds events from parallel arrays; `weights` defaults to 1 each. */
  addBatch(itemIndex: Int32Array, timestamp: Float64Array, weights?: Float32Array | Float64Array): void {
    const n = itemIndex.length;
    if (timestamp.length !== n || (weights && weights.length !== n))
      throw new RangeError('itemIndex, timestamp and weights differ in length');
    for (let e = 0; e < n; e++) this.add(itemIndex[e]!, timestamp[e]!, weights ? weights[e]! : 1);
  }

  /** Writes every item's decayed score at time `at` (default: the newest event) into `out`. */
  scoresInto(at: number | undefined, out: Float64Array | Float32Array): void {
    if (out.length !== this.items)
      throw new RangeError(`out has length ${out.length}, expected ${this.items}`);
    const f = this.decayFactor(this.halfLifeMs, at);
    for (let i = 0; i < this.items; i++) out[i] = this.scores[i]! * f;
  }

  /** Writes every item's rising score at time `at` into `out` (needs a baseline half-life). */
  risingInto(at: number | undefined, out: Float64Array | Float32Array): void {
    if (this.baseline.length === 0 && this.items > 0)
      throw new RangeError('rising needs baselineHalfLifeMs > 0');
    if (out.length !== this.items)
      throw new RangeError(`out has length ${out.length}, expected ${this.items}`);
    const fs = this.decayFactor(this.halfLifeMs, at) / this.halfLifeMs;
    const fl = this.decayFactor(this.baselineHalfLifeMs, at);
    const prior = this.risingPrior;
    const hl = this.baselineHalfLifeMs;
    for (let i = 0; i < this.items; i++) {
      const s = this.scores[i]! * fs;
      out[i] = s > 0 ? s / ((Math.max(0, this.baseline[i]! * fl) + prior) / hl) : 0;
    }
  }

  /**
   * Sum of the decayed scores of each category's items at time `at`, per category id
   * (a category's own trend, e.g. to order category carousels).
   */
  categoryScoresInto(at: number | undefined, out: Float64Array): void {
    const cats = this.requireCategories();
    if (out.length !== cats.categories)
      throw new RangeError(`out has length ${out.length}, expected ${cats.categories}`);
    out.fill(0);
    const f = this.decayFactor(this.halfLifeMs, at);
    for (let i = 0; i < this.items; i++) {
      const s = this.scores[i]! * f;
      for (let p = cats.indptr[i]!; p < cats.indptr[i + 1]!; p++) out[cats.indices[p]!]! += s;
    }
  }

  /**
   * Top-k items by score descending then index ascending, globally or within one category.
   * Items whose float32 score at `at` is not positive (never seen, cancelled out, or over ~149
   * half-lives old) are left out, so a list may be shorter than k.
   */
  top(k: number, query: TrendingQuery = {}): TopK {
    const values = this.values(query);
    if (query.category === undefined) return positive(topK(values, k));
    const members = this.membersOf(query.category);
    const local = new Float32Array(members.length);
    for (let p = 0; p < members.length; p++) local[p] = values[members[p]!]!;
    // Members are ascending, so ties by local position are ties by item index.
    const best = positive(topK(local, k));
    for (let p = 0; p < best.indices.length; p++) best.indices[p] = members[best.indices[p]!]!;
    return best;
  }

  /** Every category's top-k at once, in the fixed-stride format of item neighbours. */
  topPerCategory(k: number, query: Omit<TrendingQuery, 'category'> = {}): NeighbourLists {
    const cats = this.requireCategories();
    const values = this.values(query);
    const out: NeighbourLists = {
      rows: cats.categories,
      k,
      indices: new Int32Array(cats.categories * k).fill(-1),
      scores: new Float32Array(cats.categories * k),
    };
    const local = new Float32Array(this.items);
    for (let c = 0; c < cats.categories; c++) {
      const members = this.membersOf(c);
      const view = local.subarray(0, members.length);
      for (let p = 0; p < members.length; p++) view[p] = values[members[p]!]!;
      const best = positive(topK(view, k));
      for (let p = 0; p < best.indices.length; p++) {
        out.indices[c * k + p] = members[best.indices[p]!]!;
        out.scores[c * k + p] = best.scores[p]!;
      }
    }
    return out;
  }

  /** Small JSON plus raw buffers; `TrendingModel.deserialize` restores an identical model. */
  serialize(): { meta: TrendingMeta; buffers: TrendingBuffers } {
    const cats = this.itemCategories;
    return {
      meta: {
        formatVersion: FORMAT_VERSION,
        items: this.items,
        halfLifeMs: this.halfLifeMs,
        baselineHalfLifeMs: this.baselineHalfLifeMs,
        risingPrior: this.risingPrior,
        referenceTime: this.ref,
        newestTime: this.newest,
        events: this.eventCount,
        categories: cats ? cats.categories : null,
      },
      buffers: {
        scores: this.scores.slice(),
        baseline: this.baseline.slice(),
        categoryIndptr: cats ? cats.indptr.slice() : new Int32Array(0),
        categoryIndices: cats ? cats.indices.slice() : new Int32Array(0),
      },
    };
  }

  static deserialize(meta: TrendingMeta, buffers: TrendingBuffers): TrendingModel {
    if (meta.formatVersion !== FORMAT_VERSION)
      throw new RangeError(`unsupported trending format ${meta.formatVersion}, expected ${FORMAT_VERSION}`);
    const model = new TrendingModel({
      items: meta.items,
      halfLifeMs: meta.halfLifeMs,
      baselineHalfLifeMs: meta.baselineHalfLifeMs,
      risingPrior: meta.risingPrior,
      referenceTime: meta.referenceTime ?? undefined,
      categories:
        meta.categories === null
          ? undefined
          : {
              categories: meta.categories,
              indptr: buffers.categoryIndptr.slice(),
              indices: buffers.categoryIndices.slice(),
            },
    });
    if (buffers.scores.length !== meta.items || buffers.baseline.length !== model.baseline.length)
      throw new RangeError('score buffers do not match the item count');
    model.scores.set(buffers.scores);
    model.baseline.set(buffers.baseline);
    model.newest = meta.newestTime;
    model.eventCount = meta.events;
    return model;
  }

  private values(query: TrendingQuery): Float32Array {
    const out = new Float32Array(this.items);
    if (query.kind === 'rising') this.risingInto(query.at, out);
    else this.scoresInto(query.at, out);
    return out;
  }

  private decayFactor(halfLife: number, at: number | undefined): number {
    const t = at ?? this.newest ?? this.ref ?? 0;
    return this.ref === null ? 0 : 2 ** ((this.ref - t) / halfLife);
  }

  private rebase(newRef: number): void {
    const ref = this.ref!;
    const f = 2 ** ((ref - newRef) / this.halfLifeMs);
    for (let i = 0; i < this.items; i++) this.scores[i]! *= f;
    if (this.baseline.length > 0) {
      const g = 2 ** ((ref - newRef) / this.baselineHalfLifeMs);
      for (let i = 0; i < this.items; i++) this.baseline[i]! *= g;
    }
    this.ref = newRef;
  }

  private requireCategories(): ItemCategories {
    if (!this.itemCategories) throw new RangeError('this model has no categories');
    return this.itemCategories;
  }

  private membersOf(category: number): Int32Array {
    const cats = this.requireCategories();
    if (!(category >= 0 && category < cats.categories))
      throw new RangeError(`category ${category} out of range [0, ${cats.categories})`);
    if (!this.categoryItems) {
      const indptr = new Int32Array(cats.categories + 1);
      for (const c of cats.indices) indptr[c + 1]!++;
      for (let c = 0; c < cats.categories; c++) indptr[c + 1]! += indptr[c]!;
      const fill = indptr.slice(0, cats.categories);
      const indices = new Int32Array(cats.indices.length);
      for (let i = 0; i < this.items; i++)
        for (let p = cats.indptr[i]!; p < cats.indptr[i + 1]!; p++) indices[fill[cats.indices[p]!]!++] = i;
      this.categoryItems = { indptr, indices };
    }
    const ci = this.categoryItems;
    return ci.indices.subarray(ci.indptr[category]!, ci.indptr[category + 1]!);
  }
}

/**
 * Category ids for items from their category paths (`Home > Kitchen > Mugs`): every item
 * belongs to each of its paths and to every prefix of them (`Home > Kitchen`, `Home`). Ids are
 * numbered in order of first appearance; `names[id]` is the full path of id. Each item's ids
 * are distinct and ascending. Path segments are trimmed and empty segments dropped.
 */
export function buildItemCategories(
  paths: readonly (readonly string[])[],
  separator = '>',
): ItemCategories & { names: string[] } {
  const ids = new Map<string, number>();
  const names: string[] = [];
  const indptr = new Int32Array(paths.length + 1);
  const indices: number[] = [];
  const mine = new Set<number>();
  for (let i = 0; i < paths.length; i++) {
    mine.clear();
    for (const path of paths[i]!) {
      const parts = path
        .split(separator)
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      let prefix = '';
      for (const part of parts) {
        prefix = prefix === '' ? part : `${prefix} ${separator.trim()} ${part}`;
        let id = ids.get(prefix);
        if (id === undefined) {
          id = names.length;
          ids.set(prefix, id);
          names.push(prefix);
        }
        mine.add(id);
      }
    }
    const sorted = [...mine].sort((a, b) => a - b);
    indices.push(...sorted);
    indptr[i + 1] = indices.length;
  }
  return { categories: names.length, indptr, indices: Int32Array.from(indices), names };
}
