/**
 * Best-first lists a request keeps the allowed part of: the most trending items, from top lists
 * cached for a short while (of the catalogue, or of a category subtree) so that a request does
 * not score every item of a department; and the most popular, the source of last resort. An item
 * nobody engaged with lately is not trending: it is never in a trending list (it would be
 * shown as "trending in …"), whatever the list's length.
 */
import { positive, topK } from '../../models/top-k.ts';
import type { TopK } from '../../models/top-k.ts';
import type { ItemFilter } from '../index/item-filter.ts';
import type { Served } from './served.ts';

/** The top lists are recomputed at most this often, and this long. */
const TRENDING_CACHE_MS = 2000;
const TRENDING_CACHE_SIZE = 2000;
/** Category top lists kept at once (refilled on demand). */
const TRENDING_CACHE_LISTS = 1000;

export class TrendingTop {
  private cache: {
    served: Served;
    at: number;
    /** Per category path ('' = the whole catalogue), the most trending items. */
    top: Map<string, TopK>;
    /** Every item's score, once one is needed beyond a cached list. */
    all?: Float32Array;
  } | null = null;

  /**
   * From a cached top list when the filter lets enough through, else exactly over the allowed
   * items (a filter that excludes most of the cached list).
   */
  top(s: Served, filter: ItemFilter, k: number, now: number, category?: string): TopK {
    let cache = this.cache;
    if (!cache || cache.served !== s || now - cache.at > TRENDING_CACHE_MS || now < cache.at) {
      cache = { served: s, at: now, top: new Map() };
      this.cache = cache;
    }
    const scores = () => {
      if (!cache.all) {
        cache.all = new Float32Array(s.trending.items);
        s.trending.scoresInto(now, cache.all);
      }
      return cache.all;
    };
    const where = category ?? '';
    let list = cache.top.get(where);
    if (!list) {
      list = category
        ? positive(topAmong(s.catalog.categoryFilter(category).items(), scores(), TRENDING_CACHE_SIZE))
        : s.trending.top(TRENDING_CACHE_SIZE, { at: now });
      if (cache.top.size >= TRENDING_CACHE_LISTS) cache.top.clear();
      cache.top.set(where, list);
    }
    const kept = keepAllowed(list, filter, k);
    return kept.indices.length >= k || list.indices.length < TRENDING_CACHE_SIZE
      ? kept
      : positive(topAmong(filter.items(), scores(), k));
  }
}

/** Popularity top lists, one per served version (immutable, so kept as long as it is served). */
const popular = new WeakMap<Served, TopK>();

/**
 * The `k` most popular allowed items (users per item in training; items the model never saw
 * count 0), always `k` when the filter allows as many: ties and zeros go to the lower index.
 */
export function popularTop(s: Served, filter: ItemFilter, k: number): TopK {
  let list = popular.get(s);
  if (!list) {
    list = topK(s.model.popularity, TRENDING_CACHE_SIZE);
    popular.set(s, list);
  }
  const kept = keepAllowed(list, filter, k);
  if (kept.indices.length >= k || kept.indices.length === filter.count) return kept;
  return topAmong(filter.items(), s.model.popularity, k);
}

/** The best `k` of `items` by `scores[item]` (0 past its end); ties go to the earlier in `items`. */
export function topAmong(items: ArrayLike<number>, scores: ArrayLike<number>, k: number): TopK {
  const gathered = Float32Array.from(items, (i) => (i < scores.length ? scores[i]! : 0));
  const top = topK(gathered, k);
  return { indices: top.indices.map((j) => items[j]!), scores: top.scores };
}

/** The first `k` items of a best-first list that `filter` allows. */
export function keepAllowed(list: TopK, filter: ItemFilter, k: number): TopK {
  const { indices, scores } = list;
  const idx = new Int32Array(Math.min(k, indices.length));
  const val = new Float32Array(idx.length);
  let kept = 0;
  for (let r = 0; r < indices.length && kept < k; r++) {
    if (filter.has(indices[r]!)) {
      idx[kept] = indices[r]!;
      val[kept++] = scores[r]!;
    }
  }
  return { indices: idx.subarray(0, kept), scores: val.subarray(0, kept) };
}
