/**
 * Stage 2, where candidates come from, each source normalised to [0, 1] and weighted by the
 * tier's configuration into the request's blend: the nearest items to the query vector,
 * item-to-item neighbours of the visitor's history (or the page item), bought-together
 * complements, what the `new` segment engages with (visitors without history), trending, and
 * when these leave the list short (old data, no history, an unknown item), popularity over the
 * allowed catalogue; and the new arrivals offered to the exposure slot.
 */
import { neighboursOf } from '../../models/item-neighbours.ts';
import type { NeighbourLists } from '../../models/item-neighbours.ts';
import { hashToken } from '../../models/text-features.ts';
import type { TopK } from '../../models/top-k.ts';
import { subjectKey } from '../realtime/types.ts';
import type { ItemFilter } from '../index/item-filter.ts';
import type { Segment } from '../segments/segments.ts';
import { REJECTIONS } from '../store/event-weights.ts';
import { EVENT_TYPES } from '../store/types.ts';
import type { Blend } from './blend.ts';
import type { Catalog } from './catalog.ts';
import type { Allowed, Context } from './filters.ts';
import type { Served } from './served.ts';
import { keepAllowed, popularTop, topAmong, TrendingTop } from './top-lists.ts';
import type { RecommendRequest, Tier, TierConfig } from './types.ts';
import { typeBit } from './visitor.ts';
import type { Visitor } from './visitor.ts';

/** Per-segment lists of what users engage with now, best first (segment-trending.ts makes them). */
export interface SegmentLists {
  items: Record<Segment, readonly { itemId: string; score: number }[]>;
}

export interface CandidateRequest {
  s: Served;
  req: RecommendRequest;
  who: Visitor;
  ctx: Context;
  allowed: Allowed;
  /** The query vector (queryVector), null without one. */
  x: Float32Array | null;
  config: TierConfig;
  limit: number;
  now: number;
}

interface Seed {
  item: number;
  weight: number;
  verb: string;
}

/** Items whose neighbours or complements are candidates. */
const NEIGHBOUR_SEEDS = 10;
/** Storefront trending's weight for a visitor without history when the `new` segment has a list. */
const COLD_STOREFRONT_SHARE = 0.5;
/**
 * The fallback's weight: below every other source's candidates but their lowest, which min-max
 * normalisation scores 0.
 */
const POPULAR_WEIGHT = 1e-3;
/** New arrivals offered to the exposure slot (more only matter when the category cap bites). */
const NEW_ARRIVAL_CANDIDATES = 5;

export class Candidates {
  private segmentLists: SegmentLists | null = null;
  private newcomers: { served: Served; lists: SegmentLists; top: TopK } | null = null;
  private readonly trending = new TrendingTop();
  /** Per item, the EASE sum of the request being computed (zero between requests). */
  private easeSums = new Float32Array(0);
  /** Which items `easeSums` holds a sum for (a sum may be 0). */
  private easeMarks = new Uint8Array(0);

  /** Replaces the segment lists (visitors without history get the `new` segment's). */
  setSegmentLists(lists: SegmentLists): void {
    this.segmentLists = lists;
  }

  /** Adds every source's candidates to `blend`. */
  collect(blend: Blend, r: CandidateRequest): void {
    const { s, req, who, ctx, x, limit, now } = r;
    const { filter } = r.allowed;
    const w = r.config.weights;
    const c = s.catalog;
    const pool = Math.min(filter.count, limit * 4 + 20);
    // The nearest 2 × limit: enough for MMR and the category cap to choose from next to the
    // neighbours and trending candidates, and the ANN search costs grow faster than k.
    const nearest = Math.min(filter.count, 2 * limit + 10);
    if (x && w.vector > 0 && nearest > 0) {
      const found = s.vectors.search(x, nearest, filter);
      const reason =
        req.tier === 'similar' && ctx.pageItem !== undefined
          ? `similar to "${c.item(ctx.pageItem)?.title ?? req.itemId}"`
          : req.tier === 'cart'
            ? 'goes with your cart'
            : 'recommended for you';
      addList(blend, found, w.vector, reason);
    }
    const seeds = seedsOf(req.tier, who, ctx, c);
    const m = s.model;
    if (m.ease && w.ease > 0 && who.personal) this.fromEase(blend, s, who, filter, w.ease, nearest, now);
    if (m.neighbours && w.neighbours > 0)
      fromLists(blend, m.neighbours, seeds, filter, w.neighbours, c, 'neighbours');
    if (m.complements && w.complements > 0) {
      const basket =
        req.tier === 'cart' ? ctx.cart.map((i) => ({ item: i, weight: 1, verb: 'cart' })) : seeds;
      fromLists(blend, m.complements, basket, filter, w.complements, c, 'complements');
    }
    let trendWeight = x ? w.trending : Math.max(w.trending, 1);
    // A visitor with no history at all is in the `new` segment: what new customers engage with
    // now comes first, storefront trending fills the rest.
    const cold =
      !x && who.personal && who.history.length === 0 && req.tier !== 'similar' && req.tier !== 'cart';
    const newcomers = cold ? this.newcomersTop(s) : null;
    if (newcomers && trendWeight > 0) {
      const top = keepAllowed(newcomers, filter, pool);
      addList(blend, top, trendWeight, 'popular with new customers');
      if (top.indices.length) trendWeight *= COLD_STOREFRONT_SHARE;
    }
    if (trendWeight > 0) {
      const category = req.category;
      const top = this.trending.top(s, filter, pool, now, category);
      addList(
        blend,
        top,
        trendWeight,
        category ? `trending in ${category.split(' > ').pop()}` : 'trending now',
      );
    }
    // Only items no source reached: a fallback adds nothing to a real candidate's score. As
    // many more as rotation demotes: with only `limit` candidates (a visitor without history on
    // a shop with nothing trending) all of them shown and demoted, the list could not move on.
    const demoted = Math.min(who.demoted.size, filter.count);
    if (blend.count < limit + demoted && filter.count > blend.count)
      addList(blend, popularTop(s, filter, limit + demoted + blend.count), POPULAR_WEIGHT, 'popular', true);
  }

  /**
   * New arrivals that may take the exposure slot, best first: the closest to the query vector
   * when there is one (an exact search over the few new items), else the newest from the
   * visitor's own starting place.
   */
  newArrivals(r: CandidateRequest): { index: number; score: number }[] {
    if (r.config.newItemSlot < 0) return [];
    const { s, x } = r;
    const fresh = s.catalog.newArrivals(r.now);
    if (fresh.filter.count === 0) return [];
    const allowed = r.allowed.allowedNew(fresh.filter);
    if (allowed.count === 0) return [];
    if (x && s.vectors.searchable) {
      const found = s.vectors.search(x, NEW_ARRIVAL_CANDIDATES, allowed);
      if (found.indices.length)
        return Array.from(found.indices, (index, j) => ({ index, score: found.scores[j]! }));
    }
    // Without a taste vector every visitor would get the newest: each starts at a place of
    // their own in the list (a hash of who they are), so every new arrival gets its share of
    // exposure. The same visitor keeps their order (and rotation moves them along it).
    const newest = fresh.list.filter((i) => allowed.has(i)).slice(0, NEW_ARRIVAL_CANDIDATES);
    const n = newest.length;
    const start = r.who.subject && n ? hashToken(subjectKey(r.who.subject)) % n : 0;
    return [...newest.slice(start), ...newest.slice(0, start)].map((index, j) => ({ index, score: -j }));
  }

  /**
   * EASE's rows summed over every item the visitor engaged with (their whole consumed history
   * and the recent events), the best `k` allowed kept, min-max normalised like the vector source.
   */
  private fromEase(
    blend: Blend,
    s: Served,
    who: Visitor,
    filter: ItemFilter,
    weight: number,
    k: number,
    now: number,
  ): void {
    const lists = s.model.ease!;
    if (this.easeSums.length < lists.rows) {
      this.easeSums = new Float32Array(lists.rows);
      this.easeMarks = new Uint8Array(lists.rows);
    }
    const sums = this.easeSums;
    const marks = this.easeMarks;
    const touched: number[] = [];
    // Each item the visitor engaged with, weighed by the recency of its newest event, as fitted.
    const newest = new Map<number, number>();
    const note = (itemId: string, at: number) => {
      const j = s.catalog.indexOf(itemId);
      if (j !== undefined && j < lists.rows && at > (newest.get(j) ?? -Infinity)) newest.set(j, at);
    };
    for (const e of who.history) if (s.model.eventWeights[e.type] > 0) note(e.itemId, e.timestamp);
    // A consumed item only if one of its types weighs: a disliked or hidden item (consumed, so
    // that the filters keep it out) is not engagement, and its EASE row must not lift its likes.
    let weighed = 0;
    for (const t of EVENT_TYPES) if (s.model.eventWeights[t] > 0) weighed |= typeBit(t);
    for (const [itemId, c] of who.consumed) if (c.types & weighed) note(itemId, c.at);
    // Recency from the visitor's newest event, not from now: the list is min-max normalised, so
    // a factor common to every weight changes nothing, but 2^(−age / halfLife) from now was 0
    // for a history years old (a returning customer, a dataset like Online Retail's), every
    // sum 0, and every item tied at the top score.
    const halfLife = s.model.easeHalfLifeMs;
    let latest = -Infinity;
    for (const at of newest.values()) latest = Math.max(latest, Math.min(at, now));
    for (const [j, at] of newest) {
      const wj = Math.pow(0.5, Math.max(0, latest - at) / halfLife);
      const row = neighboursOf(lists, j);
      for (let r = 0; r < row.indices.length; r++) {
        const i = row.indices[r]!;
        if (!filter.has(i)) continue;
        if (!marks[i]) {
          marks[i] = 1;
          touched.push(i);
        }
        sums[i]! += wj * row.scores[r]!;
      }
    }
    if (!touched.length) return;
    const top = topAmong(touched, sums, k);
    for (const i of touched) {
      sums[i] = 0;
      marks[i] = 0;
    }
    addList(blend, top, weight, 'recommended for you');
  }

  /** The `new` segment's list in the served item indexes (mapped once per swap and list). */
  private newcomersTop(s: Served): TopK | null {
    const lists = this.segmentLists;
    if (!lists) return null;
    const mapped = this.newcomers;
    if (mapped && mapped.served === s && mapped.lists === lists) return mapped.top;
    const found = lists.items.new.flatMap((e) => {
      const i = s.catalog.indexOf(e.itemId);
      return i === undefined ? [] : [{ i, score: e.score }];
    });
    const top = {
      indices: Int32Array.from(found, (f) => f.i),
      scores: Float32Array.from(found, (f) => f.score),
    };
    this.newcomers = { served: s, lists, top };
    return top;
  }
}

/**
 * Adds a best-first list, min-max normalised and weighted, under one reason; with `onlyNew`,
 * only the items no source added yet.
 */
function addList(blend: Blend, list: TopK, weight: number, reason: string, onlyNew = false): void {
  const norm = minMax(list.scores);
  const r = blend.reason(reason);
  for (let j = 0; j < list.indices.length; j++) {
    const i = list.indices[j]!;
    if (!onlyNew || !blend.has(i)) blend.add(i, weight * norm(list.scores[j]!), r);
  }
}

/** Items whose neighbours or complements are candidates, most recent first. */
function seedsOf(tier: Tier, who: Visitor, ctx: Context, c: Catalog): Seed[] {
  // The page's item: no view of the visitor's (a request may name no visitor at all).
  if (tier === 'similar' && ctx.pageItem !== undefined)
    return [{ item: ctx.pageItem, weight: 1, verb: 'page' }];
  if (tier === 'cart') return ctx.cart.map((item) => ({ item, weight: 1, verb: 'added' }));
  const seen = new Set<number>();
  const out: Seed[] = [];
  for (const e of who.history) {
    const i = c.indexOf(e.itemId);
    if (i === undefined || seen.has(i) || REJECTIONS.includes(e.type)) continue;
    seen.add(i);
    out.push({ item: i, weight: 1 / (1 + out.length), verb: e.type === 'purchase' ? 'bought' : 'viewed' });
    if (out.length === NEIGHBOUR_SEEDS) break;
  }
  return out;
}

function fromLists(
  blend: Blend,
  lists: NeighbourLists,
  seeds: Seed[],
  filter: ItemFilter,
  weight: number,
  c: Catalog,
  kind: 'neighbours' | 'complements',
): void {
  for (const s of seeds) {
    if (s.item >= lists.rows) continue;
    const list = neighboursOf(lists, s.item);
    const max = list.scores[0] ?? 0;
    if (!(max > 0)) continue;
    const title = c.item(s.item)?.title ?? '';
    const reason =
      kind === 'complements'
        ? `bought together with "${title}"`
        : s.verb === 'cart'
          ? `goes with "${title}"`
          : s.verb === 'page'
            ? `similar to "${title}"`
            : `because you ${s.verb} "${title}"`;
    const r = blend.reason(reason);
    for (let j = 0; j < list.indices.length; j++) {
      const i = list.indices[j]!;
      if (filter.has(i)) blend.add(i, (weight * s.weight * list.scores[j]!) / max, r);
    }
  }
}

function minMax(scores: Float32Array): (s: number) => number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of scores) {
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  const span = hi - lo;
  return span > 0 ? (s) => (s - lo) / span : () => 1;
}
