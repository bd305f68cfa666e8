/**
 * The serving engine: request → who → candidates → filters → blend → rules → answer, on the
 * model version loaded last. A swap loads the next version in the background and replaces
 * one reference; a request keeps the model it started with, so none fails during a swap.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { neighboursOf } from '../../models/item-neighbours.ts';
import { rowIndices, rowValues } from '../../models/sparse.ts';
import { topK } from '../../models/top-k.ts';
import type { TopK } from '../../models/top-k.ts';
import { ItemFilter } from '../index/item-filter.ts';
import type { RealtimeState, RecentEvent, Subject } from '../realtime/types.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { Segment } from '../segments/segments.ts';
import type { EventType, Item, ShelfEvent, Store } from '../store/types.ts';
import { AnswerCache, answerKey } from './answer-cache.ts';
import type { AnswerCacheOptions, AnswerCacheStats } from './answer-cache.ts';
import { Blend } from './blend.ts';
import { addContentVector, addTrending, loadServingModel } from './serving-model.ts';
import type { ServingModel } from './serving-model.ts';
import { applyRules, RULES_POOL_PER_SLOT, shortlist } from './rules.ts';
import type { Scored } from './rules.ts';
import type {
  Impression,
  RecommendedItem,
  Recommendation,
  RecommendRequest,
  RequestFilters,
  ServingConfig,
  Tier,
} from './types.ts';
import { DEFAULT_SERVING_CONFIG } from './types.ts';

export interface EngineOptions {
  store: Store;
  realtime: RealtimeState;
  registry: ModelRegistry;
  log: Logger;
  config?: ServingConfig;
  now?: () => number;
  /** Called with every list served (feedback attributes later events to it). */
  onImpression?: (impression: Impression) => void;
  /** Reuse of recently computed lists (see answer-cache.ts); default: 30 s, 100k lists. */
  answerCache?: AnswerCacheOptions;
}

/** Per-segment lists of what users engage with now, best first (segment-trending.ts makes them). */
export interface SegmentLists {
  items: Record<Segment, readonly { itemId: string; score: number }[]>;
}

export const DEFAULT_ANSWER_CACHE: AnswerCacheOptions = { ttlMs: 30_000, entries: 100_000 };

export const MAX_LIMIT = 100;
/** How strongly each event type ties a user to an item when folding in fresh events. */
const FOLD_IN_WEIGHTS: Partial<Record<EventType, number>> = {
  view: 1,
  click: 2,
  add_to_cart: 4,
  purchase: 8,
  rating: 4,
};
/** Recent events read per request (history, exclusions, neighbour seeds). */
const HISTORY = 50;
const NEIGHBOUR_SEEDS = 10;
/** The global trending list is recomputed at most this often, and this long. */
const TRENDING_CACHE_MS = 2000;
const TRENDING_CACHE_SIZE = 2000;
/** Category top lists kept at once (refilled on demand). */
const TRENDING_CACHE_LISTS = 1000;
/** Users remembered as having no stored events, at most (then the set starts over). */
const WARMED_MAX = 1_000_000;
/** Storefront trending's weight for a visitor without history when the `new` segment has a list. */
const COLD_STOREFRONT_SHARE = 0.5;
/** New arrivals offered to the exposure slot (more only matter when the category cap bites). */
const NEW_ARRIVAL_CANDIDATES = 5;

interface Who {
  userId?: string;
  subject: Subject | null;
  /** Personalization allowed (consent, not deleted). */
  personal: boolean;
  history: RecentEvent[];
}

export class Engine {
  private model: ServingModel | null = null;
  private readonly config: ServingConfig;
  private readonly now: () => number;
  private readonly consent = new Map<string, boolean>();
  /** Users read from the store without finding any events (not read again; bounded). */
  private readonly warmed = new Set<string>();
  /** Users deleted since the current model was trained: their vectors are never used. */
  private readonly forgotten = new Set<string>();
  private swapping: Promise<void> | null = null;
  private segmentLists: SegmentLists | null = null;
  private newcomers: { model: ServingModel; lists: SegmentLists; top: TopK } | null = null;
  /** Bitset buffers a request writes its filters into (see `scratch`). */
  private readonly scratchWords = { filter: new Uint32Array(0), arrivals: new Uint32Array(0) };
  /** The candidates of the request being computed (reused: see blend.ts). */
  private readonly blend = new Blend();
  /** The blended candidates' items and boosted scores (reused). */
  private blendItems = new Int32Array(0);
  private blendScores = new Float64Array(0);
  private readonly answers: AnswerCache<ServingModel>;
  /** Trending top lists and, once one is needed beyond the global list, every item's score. */
  private trendingCache: {
    model: ServingModel;
    at: number;
    /** Per category path ('' = the whole catalogue), the most trending items. */
    top: Map<string, TopK>;
    all?: Float32Array;
  } | null = null;

  constructor(private readonly o: EngineOptions) {
    this.config = o.config ?? DEFAULT_SERVING_CONFIG;
    this.now = o.now ?? Date.now;
    this.answers = new AnswerCache(o.answerCache ?? DEFAULT_ANSWER_CACHE);
  }

  /**
   * What each segment engages with now (src/segments/segment-trending.ts); visitors without
   * history get the `new` segment's list. Replaces the lists set before.
   */
  setSegmentTrending(lists: SegmentLists): void {
    this.segmentLists = lists;
  }

  /** The `new` segment's list in the served model's item indexes (mapped once per model and list). */
  private newcomersTop(m: ServingModel): TopK | null {
    const lists = this.segmentLists;
    if (!lists) return null;
    const mapped = this.newcomers;
    if (mapped && mapped.model === m && mapped.lists === lists) return mapped.top;
    const found = lists.items.new.flatMap((e) => {
      const i = m.catalog.indexOf(e.itemId);
      return i === undefined ? [] : [{ i, score: e.score }];
    });
    const top = {
      indices: Int32Array.from(found, (f) => f.i),
      scores: Float32Array.from(found, (f) => f.score),
    };
    this.newcomers = { model: m, lists, top };
    return top;
  }

  /** Hits and misses of the list cache since start, and its size. */
  answerCacheStats(): AnswerCacheStats {
    return this.answers.stats();
  }

  /** The version being served (null: trending only, no model yet). */
  get version(): string | null {
    return this.model?.version ?? null;
  }

  get ready(): boolean {
    return this.model !== null;
  }

  /** A known user, an available item and its department, for examples in docs and logs. */
  example(): { userId?: string; itemId?: string; category?: string } {
    const m = this.model;
    if (!m) return {};
    const items = m.catalog.availableFilter().items();
    const item = items.length ? m.catalog.item(items[0]!) : undefined;
    const userId = m.userIndex.keys().next().value;
    return {
      ...(userId !== undefined ? { userId } : {}),
      ...(item ? { itemId: item.itemId } : {}),
      ...(item?.categories[0] ? { category: item.categories[0].split(' > ')[0]! } : {}),
    };
  }

  /** Items in the served catalogue (0 before the first swap). */
  get catalogSize(): number {
    return this.model?.catalog.size ?? 0;
  }

  /** Loads `version` (default: the registry's current one) and swaps it in atomically. */
  async swap(version?: string | null): Promise<void> {
    const target = version === undefined ? await this.o.registry.current() : version;
    const t0 = performance.now();
    const next = await loadServingModel(this.o.registry, this.o.store, target, this.now);
    this.model = next;
    this.o.log.info({ version: target, ms: Math.round(performance.now() - t0) }, 'model swapped in');
  }

  /** Swaps when the registry's current version differs from the served one (poll or pub/sub). */
  async refresh(): Promise<boolean> {
    if (this.swapping) return false;
    const current = await this.o.registry.current();
    if (this.model && current === this.model.version) return false;
    this.swapping = this.swap(current).finally(() => (this.swapping = null));
    await this.swapping;
    return true;
  }

  async recommend(req: RecommendRequest): Promise<Recommendation> {
    const m = this.model;
    if (!m) throw new Error('the engine has no model loaded: call swap() first');
    const rules = this.config.tiers[req.tier];
    const limit = Math.max(1, Math.min(req.limit ?? 20, MAX_LIMIT));
    const now = this.now();
    const found = this.who(req);
    const who = found instanceof Promise ? await found : found;
    const c = m.catalog;
    const category = req.category;
    const key = this.answers.enabled ? answerKey(req, limit) : null;
    const stamp = key !== null ? historyStamp(who, this.forgotten) : '';
    if (key !== null) {
      const hit = this.answers.get(key, m, now, stamp, c.version, stillAllowed, req);
      if (hit) return this.answer(m, req, who, hit.items, now);
    }
    const itemOf = (id: string | undefined) => (id === undefined ? undefined : c.indexOf(id));
    const pageItem = itemOf(req.itemId);
    const cart = (req.cartItemIds ?? []).flatMap((id) => itemOf(id) ?? []);

    // Filters: available, category subtree, request filters, exclusions.
    const exclude = new Set<number>(cart);
    if (pageItem !== undefined) exclude.add(pageItem);
    for (const id of req.exclude ?? []) {
      const i = c.indexOf(id);
      if (i !== undefined) exclude.add(i);
    }
    for (const e of who.history) {
      const i = c.indexOf(e.itemId);
      if (
        i !== undefined &&
        (e.type === 'purchase' || e.type === 'dislike') &&
        !(e.type === 'purchase' && c.item(i)?.repurchasable)
      ) {
        exclude.add(i);
      }
    }
    const excluded = [...exclude];
    // The request's bitsets are written into buffers this engine reuses: everything from here
    // to the answer runs without an await, and no filter outlives the request.
    const available = c.availableFilter();
    const words = Math.max(available.words.length, ItemFilter.wordsFor(c.size));
    let filter = available.intersect(
      category ? [c.categoryFilter(category)] : [],
      excluded,
      this.scratch('filter', words),
    );
    if (req.filters) filter = narrow(filter, c, req.filters);

    // Candidates.
    const blend = this.blend;
    blend.reset();
    const pool = Math.min(filter.count, limit * 4 + 20);
    const x = this.queryVector(m, req.tier, who, pageItem, cart);
    const w = rules.weights;
    // The nearest 2 × limit: enough for MMR and the category cap to choose from next to the
    // neighbours and trending candidates, and the ANN search costs grow faster than k.
    const nearest = Math.min(filter.count, 2 * limit + 10);
    if (x && m.index && w.vector > 0 && nearest > 0) {
      const found = m.index.search(x, nearest, filter);
      const norm = minMax(found.scores);
      const reason =
        req.tier === 'similar' && pageItem !== undefined
          ? `similar to "${c.item(pageItem)?.title ?? req.itemId}"`
          : req.tier === 'cart'
            ? 'goes with your cart'
            : 'recommended for you';
      const r = blend.reason(reason);
      for (let j = 0; j < found.indices.length; j++)
        blend.add(found.indices[j]!, w.vector * norm(found.scores[j]!), r);
    }
    const seeds = this.seeds(req.tier, who, pageItem, cart, c);
    if (m.neighbours && w.neighbours > 0)
      this.fromLists(blend, m.neighbours, seeds, filter, w.neighbours, c, 'neighbours');
    if (m.complements && w.complements > 0) {
      const basket = req.tier === 'cart' ? cart.map((i) => ({ item: i, weight: 1, verb: 'cart' })) : seeds;
      this.fromLists(blend, m.complements, basket, filter, w.complements, c, 'complements');
    }
    let trendWeight = x ? w.trending : Math.max(w.trending, 1);
    // A visitor with no history at all is in the `new` segment: what new customers engage with
    // now comes first, storefront trending fills the rest.
    const cold =
      !x && who.personal && who.history.length === 0 && req.tier !== 'similar' && req.tier !== 'cart';
    const newcomers = cold ? this.newcomersTop(m) : null;
    if (newcomers && trendWeight > 0) {
      const top = keepAllowed(newcomers, filter, pool);
      const norm = minMax(top.scores);
      const r = blend.reason('popular with new customers');
      for (let j = 0; j < top.indices.length; j++)
        blend.add(top.indices[j]!, trendWeight * norm(top.scores[j]!), r);
      if (top.indices.length) trendWeight *= COLD_STOREFRONT_SHARE;
    }
    if (trendWeight > 0) {
      const top = this.trendingTop(m, filter, pool, now, category);
      const norm = minMax(top.scores);
      const where = category ? `trending in ${category.split(' > ').pop()}` : 'trending now';
      const r = blend.reason(where);
      for (let j = 0; j < top.indices.length; j++)
        blend.add(top.indices[j]!, trendWeight * norm(top.scores[j]!), r);
    }

    // Rules: boosts, pins, the new-arrival slot, diversity.
    // New arrivals are all available: when only exclusions narrow the request, drop those from
    // them instead of intersecting two catalogue-wide bitsets.
    const allowedNew = (fresh: ItemFilter) =>
      !category && !req.filters
        ? fresh.without(excluded, this.scratch('arrivals', words))
        : fresh.intersect([filter], undefined, this.scratch('arrivals', words));
    const newArrivals = rules.newItemSlot >= 0 ? this.newArrivalCandidates(m, allowedNew, x, now) : [];
    const pins = this.config.pins
      .filter((p) => (!p.tiers || p.tiers.includes(req.tier)) && (!p.category || p.category === category))
      .flatMap((p) => {
        const i = c.indexOf(p.itemId);
        return i !== undefined && filter.has(i) ? [{ index: i, slot: p.slot }] : [];
      });
    const chosen = applyRules(
      this.candidates(blend, c, limit * RULES_POOL_PER_SLOT + pins.length + 1, newArrivals),
      {
        limit,
        rules,
        pins,
        newArrivals,
        categoryOf: (i) => c.item(i)?.categories[0] ?? '',
        vectorOf: (i) => m.index?.vector(i) ?? null,
      },
    );
    const answerItems = this.answerItems(m, chosen);
    if (key !== null) {
      this.answers.set(key, {
        model: m,
        at: now,
        stamp,
        catalogVersion: c.version,
        ...(who.userId !== undefined ? { userId: who.userId } : {}),
        indices: chosen.map((s) => s.index),
        items: answerItems,
      });
    }
    return this.answer(m, req, who, answerItems, now);
  }

  /** The blended candidates, boosted, that the rules need to see (see `shortlist`). */
  private candidates(
    blend: Blend,
    c: ServingModel['catalog'],
    m: number,
    newArrivals: readonly { index: number }[],
  ): Scored[] {
    const n = blend.count;
    if (this.blendScores.length < n) {
      this.blendScores = new Float64Array(Math.ceil(n * 1.5));
      this.blendItems = new Int32Array(this.blendScores.length);
    }
    const scores = this.blendScores;
    const items = this.blendItems;
    for (let j = 0; j < n; j++) {
      items[j] = blend.itemAt(j);
      scores[j] = blend.scoreAt(j) * this.boost(c.item(items[j]!)!);
    }
    const keep = shortlist(
      scores,
      items,
      n,
      m,
      newArrivals.map((a) => a.index),
    );
    return keep.map((j) => ({ index: items[j]!, score: scores[j]!, reason: blend.reasonAt(j) }));
  }

  /** The items of an answer, frozen: a cached list hands the same array to every answer. */
  private answerItems(m: ServingModel, chosen: readonly Scored[]): readonly RecommendedItem[] {
    return Object.freeze(
      chosen.map((s) =>
        Object.freeze({ itemId: m.catalog.item(s.index)!.itemId, score: round(s.score), reason: s.reason }),
      ),
    );
  }

  /** The answer for `items`, under a new recommendation id, with its impression. */
  private answer(
    m: ServingModel,
    req: RecommendRequest,
    who: Who,
    items: readonly RecommendedItem[],
    now: number,
  ): Recommendation {
    const recommendationId = randomUUID();
    const answer: Recommendation = { recommendationId, tier: req.tier, modelVersion: m.version, items };
    if (req.variant) answer.variant = req.variant; // assigned, not spread: see makeWho
    this.o.onImpression?.({
      recommendationId,
      tier: req.tier,
      ...(who.userId ? { userId: who.userId } : {}),
      ...(req.sessionId ? { sessionId: req.sessionId } : {}),
      ...(req.variant ? { variant: req.variant } : {}),
      modelVersion: m.version,
      itemIds: answer.items.map((i) => i.itemId),
      timestamp: now,
    });
    return answer;
  }

  /** A reused bitset buffer of at least `words` words (one per use, so two never overlap). */
  private scratch(use: 'filter' | 'arrivals', words: number): Uint32Array {
    let buf = this.scratchWords[use];
    if (buf.length < words) {
      buf = new Uint32Array(Math.ceil(words * 1.25));
      this.scratchWords[use] = buf;
    }
    return buf;
  }

  /**
   * New arrivals that may take the exposure slot, best first: the closest to the query vector
   * when there is one (an exact search over the few new items), else the newest.
   */
  private newArrivalCandidates(
    m: ServingModel,
    allowedOf: (fresh: ItemFilter) => ItemFilter,
    x: Float32Array | null,
    now: number,
  ) {
    const fresh = m.catalog.newArrivals(now);
    if (fresh.filter.count === 0) return [];
    const allowed = allowedOf(fresh.filter);
    if (allowed.count === 0) return [];
    if (x && m.index) {
      const found = m.index.search(x, NEW_ARRIVAL_CANDIDATES, allowed);
      if (found.indices.length)
        return Array.from(found.indices, (index, r) => ({ index, score: found.scores[r]! }));
    }
    return fresh.list
      .filter((i) => allowed.has(i))
      .slice(0, NEW_ARRIVAL_CANDIDATES)
      .map((index, r) => ({ index, score: -r }));
  }

  /** Feeds stored events to real-time state and trending (call after the store accepted them). */
  async ingest(events: readonly ShelfEvent[]): Promise<void> {
    const m = this.model;
    for (const e of events) {
      const subject: Subject | null = e.userId
        ? { userId: e.userId }
        : e.sessionId
          ? { sessionId: e.sessionId }
          : null;
      if (subject)
        await this.o.realtime.record(subject, [{ itemId: e.itemId, type: e.type, timestamp: e.timestamp }]);
      if (m) addTrending(m.trending, m.catalog, e);
    }
  }

  /** Applies item changes (stock, price, status, new items) to the served catalogue at once. */
  updateItems(items: readonly Item[]): void {
    const m = this.model;
    if (!m) return;
    for (const item of items) {
      const { index, added } = m.catalog.upsert(item);
      if (item.status === 'delisted') m.index?.remove(index);
      else if (added || !m.index?.has(index)) {
        const own =
          m.als && index < m.als.itemCount
            ? m.als.itemFactors.subarray(index * m.als.factors, (index + 1) * m.als.factors)
            : null;
        if (own) m.index?.add(index, own);
        else addContentVector(m, index);
      }
    }
  }

  /** Right to deletion: no real-time state, no vector, cold from now on. */
  async forgetUser(userId: string): Promise<void> {
    this.forgotten.add(userId);
    this.consent.delete(userId);
    this.answers.forgetUser(userId);
    await this.o.realtime.forget({ userId });
  }

  async mergeSession(sessionId: string, userId: string): Promise<void> {
    await this.o.realtime.mergeSession(sessionId, userId);
  }

  /** Forget cached consent after a profile change. */
  userChanged(userId: string): void {
    this.consent.delete(userId);
    this.answers.forgetUser(userId);
  }

  /**
   * Who asks: their consent, subject and recent events. Without a promise when nothing has to be
   * awaited (consent known, real-time state in this process, nothing to read from the store),
   * which is every list-cache hit of a returning visitor in embedded mode.
   */
  private who(req: RecommendRequest): Who | Promise<Who> {
    const userId = req.userId;
    const rt = this.o.realtime;
    const personal = userId === undefined ? true : this.consent.get(userId);
    if (personal === undefined || !rt.recentNow) return this.whoAsync(req);
    const subject = subjectOf(req);
    const history = subject && personal ? rt.recentNow(subject, HISTORY) : [];
    if (!history.length && subject && personal && this.mayWarm(userId)) return this.whoAsync(req);
    return makeWho(userId, subject, personal, history);
  }

  /** Whether `userId`'s events may still have to be read from the store (first sight since start). */
  private mayWarm(userId: string | undefined): boolean {
    return userId !== undefined && !this.forgotten.has(userId) && !this.warmed.has(userId);
  }

  private async whoAsync(req: RecommendRequest): Promise<Who> {
    const userId = req.userId;
    let personal = true;
    if (userId !== undefined) {
      let allowed = this.consent.get(userId);
      if (allowed === undefined) {
        allowed = (await this.o.store.getUser(userId))?.consent.personalization ?? true;
        this.consent.set(userId, allowed);
      }
      personal = allowed;
    }
    const subject = subjectOf(req);
    let history: RecentEvent[] = [];
    if (subject && personal) {
      history = await this.o.realtime.recent(subject, HISTORY);
      if (!history.length && this.mayWarm(userId)) {
        // First sight since start: warm the real-time state from the store. Later events
        // reach real-time state through `ingest`, so a user found without any is not read again.
        history = (await this.o.store.recentEvents(userId!, HISTORY)).map((e) => ({
          itemId: e.itemId,
          type: e.type,
          timestamp: e.timestamp,
        }));
        if (history.length) await this.o.realtime.record(subject, history);
        else {
          if (this.warmed.size >= WARMED_MAX) this.warmed.clear();
          this.warmed.add(userId!);
        }
      }
    }
    return makeWho(userId, subject, personal, history);
  }

  /** The vector the tier searches with: the user's (stored or folded in), the page item's, the cart's. */
  private queryVector(
    m: ServingModel,
    tier: Tier,
    who: Who,
    pageItem: number | undefined,
    cart: number[],
  ): Float32Array | null {
    if (!m.index) return null;
    if (tier === 'similar') return pageItem !== undefined ? m.index.vector(pageItem) : null;
    if (tier === 'cart')
      return meanVector(
        cart.flatMap((i) => m.index!.vector(i) ?? []),
        m.index.dims,
      );
    if (!who.personal || !m.als) return null;
    const als = m.als;
    const u =
      who.userId !== undefined && !this.forgotten.has(who.userId) ? m.userIndex.get(who.userId) : undefined;
    const trainedUntil = m.manifest?.data.to ?? Number.NEGATIVE_INFINITY;
    const fresh = who.history.filter((e) => e.timestamp > trainedUntil || u === undefined);
    if (u !== undefined && fresh.length === 0)
      return als.userFactors.subarray(u * als.factors, (u + 1) * als.factors);
    // Fold in: the user's training row (if any) plus the fresh events, on the training scale.
    const weights = new Map<number, number>();
    if (u !== undefined && m.userRows) {
      const idx = rowIndices(m.userRows, u);
      const val = rowValues(m.userRows, u);
      idx.forEach((i, k) => weights.set(i, val[k]!));
    }
    for (const e of fresh) {
      const i = m.catalog.indexOf(e.itemId);
      const wgt = FOLD_IN_WEIGHTS[e.type];
      if (i !== undefined && i < als.itemCount && wgt) weights.set(i, (weights.get(i) ?? 0) + wgt);
    }
    if (weights.size === 0) return null;
    const out = new Float32Array(als.factors);
    als.foldIn(Int32Array.from(weights.keys()), Float32Array.from(weights.values()), out);
    return out;
  }

  /** Items whose neighbours or complements are candidates, most recent first. */
  private seeds(
    tier: Tier,
    who: Who,
    pageItem: number | undefined,
    cart: number[],
    c: ServingModel['catalog'],
  ) {
    if (tier === 'similar' && pageItem !== undefined) return [{ item: pageItem, weight: 1, verb: 'viewed' }];
    if (tier === 'cart') return cart.map((item) => ({ item, weight: 1, verb: 'added' }));
    const seen = new Set<number>();
    const out: { item: number; weight: number; verb: string }[] = [];
    for (const e of who.history) {
      const i = c.indexOf(e.itemId);
      if (i === undefined || seen.has(i) || e.type === 'dislike') continue;
      seen.add(i);
      out.push({ item: i, weight: 1 / (1 + out.length), verb: e.type === 'purchase' ? 'bought' : 'viewed' });
      if (out.length === NEIGHBOUR_SEEDS) break;
    }
    return out;
  }

  private fromLists(
    blend: Blend,
    lists: NonNullable<ServingModel['neighbours']>,
    seeds: { item: number; weight: number; verb: string }[],
    filter: ItemFilter,
    weight: number,
    c: ServingModel['catalog'],
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
            : `because you ${s.verb} "${title}"`;
      const r = blend.reason(reason);
      for (let j = 0; j < list.indices.length; j++) {
        const i = list.indices[j]!;
        if (filter.has(i)) blend.add(i, (weight * s.weight * list.scores[j]!) / max, r);
      }
    }
  }

  /**
   * The most trending allowed items: from a cached top list (of the catalogue, or of the
   * request's category subtree) when the filter lets enough through, else exactly over the
   * allowed items (a filter that excludes most of the cached list).
   */
  private trendingTop(m: ServingModel, filter: ItemFilter, k: number, now: number, category?: string): TopK {
    let cache = this.trendingCache;
    if (!cache || cache.model !== m || now - cache.at > TRENDING_CACHE_MS || now < cache.at) {
      cache = { model: m, at: now, top: new Map() };
      this.trendingCache = cache;
    }
    const scores = () => {
      if (!cache.all) {
        cache.all = new Float32Array(m.trending.items);
        m.trending.scoresInto(now, cache.all);
      }
      return cache.all;
    };
    const best = (allowed: Int32Array, n: number): TopK => {
      const all = scores();
      const gathered = Float32Array.from(allowed, (i) => (i < all.length ? all[i]! : 0));
      const top = topK(gathered, n);
      return { indices: top.indices.map((j) => allowed[j]!), scores: top.scores };
    };
    const where = category ?? '';
    let list = cache.top.get(where);
    if (!list) {
      list = category
        ? best(m.catalog.categoryFilter(category).items(), TRENDING_CACHE_SIZE)
        : m.trending.top(TRENDING_CACHE_SIZE, { at: now });
      if (cache.top.size >= TRENDING_CACHE_LISTS) cache.top.clear();
      cache.top.set(where, list);
    }
    const kept = keepAllowed(list, filter, k);
    return kept.indices.length >= k || list.indices.length < TRENDING_CACHE_SIZE
      ? kept
      : best(filter.items(), k);
  }

  private boost(item: Item): number {
    const b = this.config.boosts;
    if (!b.itemIds && !b.brands && !b.categories) return 1;
    let f = b.itemIds?.[item.itemId] ?? 1;
    if (item.brand && b.brands?.[item.brand]) f *= b.brands[item.brand]!;
    for (const [path, factor] of Object.entries(b.categories ?? {})) {
      if (item.categories.some((p) => p === path || p.startsWith(path + ' > '))) f *= factor;
    }
    return f;
  }
}

/** The first `k` items of a best-first list that `filter` allows. */
function keepAllowed(list: TopK, filter: ItemFilter, k: number): TopK {
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

function subjectOf(req: RecommendRequest): Subject | null {
  return req.userId !== undefined
    ? { userId: req.userId }
    : req.sessionId !== undefined
      ? { sessionId: req.sessionId }
      : null;
}

function makeWho(
  userId: string | undefined,
  subject: Subject | null,
  personal: boolean,
  history: RecentEvent[],
): Who {
  // Assigned, not spread: this runs for every request, list-cache hits included.
  const who: Who = { subject, personal, history };
  if (userId !== undefined) who.userId = userId;
  return who;
}

/** Whether every item of a cached list is still allowed for `req` (checked after a catalogue change). */
function stillAllowed(m: ServingModel, req: RecommendRequest, indices: readonly number[]): boolean {
  const c = m.catalog;
  const available = c.availableFilter();
  const inCategory = req.category ? c.categoryFilter(req.category) : null;
  return indices.every((i) => {
    const item = c.item(i);
    return (
      item !== undefined &&
      available.has(i) &&
      (!inCategory || inCategory.has(i)) &&
      (!req.filters || passesFilters(item, req.filters))
    );
  });
}

/** Request filters (price range, brand, attribute equals) applied to the allowed items. */
function narrow(filter: ItemFilter, c: ServingModel['catalog'], f: RequestFilters): ItemFilter {
  const keep = (i: number) => {
    const item = c.item(i);
    return item !== undefined && passesFilters(item, f);
  };
  return ItemFilter.fromItems(Array.from(filter.items()).filter(keep), c.size);
}

function passesFilters(item: Item, f: RequestFilters): boolean {
  if (f.minPrice !== undefined && !(item.price !== undefined && item.price >= f.minPrice)) return false;
  if (f.maxPrice !== undefined && !(item.price !== undefined && item.price <= f.maxPrice)) return false;
  if (f.brand !== undefined && item.brand !== f.brand) return false;
  for (const [k, v] of Object.entries(f.attributes ?? {})) if (item.attributes[k] !== v) return false;
  return true;
}

/**
 * What a cached list depends on in the visitor's state: personalization allowed, deleted, and
 * their recent events (count, newest, and the sum of timestamps, so a late event counts too).
 */
function historyStamp(who: Who, forgotten: ReadonlySet<string>): string {
  // Exact: the history holds at most HISTORY (50) millisecond timestamps, and their sum stays
  // far below 2^53.
  let sum = 0;
  for (const e of who.history) sum += e.timestamp;
  const newest = who.history[0];
  const gone = who.userId !== undefined && forgotten.has(who.userId);
  return `${who.personal ? 1 : 0}${gone ? 1 : 0}:${who.history.length}:${sum}:${newest ? `${newest.type}:${newest.itemId}` : ''}`;
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

function meanVector(vectors: Float32Array[], dims: number): Float32Array | null {
  if (!vectors.length) return null;
  const out = new Float32Array(dims);
  for (const v of vectors) for (let d = 0; d < dims; d++) out[d]! += v[d]! / vectors.length;
  return out;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
