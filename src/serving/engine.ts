/**
 * The serving engine: a tier's list in the five steps of DESIGN.md "Serving a tier" — who asks,
 * what may be shown, where candidates come from, blend and rules, the answer — on the version
 * the model holder serves, with recently computed lists reused (answer-cache.ts). Also where
 * the engine hears of changes: events, item changes, deletion, consent, session merges.
 */
import type { Logger } from 'pino';
import type { RealtimeState } from '../realtime/types.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { Item, ShelfEvent, Store } from '../store/types.ts';
import { answer, answerItems } from './answer.ts';
import { AnswerCache, answerKey } from './answer-cache.ts';
import type { AnswerCacheOptions, AnswerCacheStats } from './answer-cache.ts';
import { Blend } from './blend.ts';
import { Candidates } from './candidates.ts';
import type { CandidateRequest, SegmentLists } from './candidates.ts';
import { contextOf, Filters, stillAllowed } from './filters.ts';
import { ModelHolder } from './model-holder.ts';
import { queryVector } from './query-vector.ts';
import { applyEvents, applyItems } from './served.ts';
import type { Served } from './served.ts';
import { applyRules, booster, pinsOf, RULES_POOL_PER_SLOT } from './rules.ts';
import type { Scored } from './rules.ts';
import type { Impression, Recommendation, RecommendRequest, ServingConfig, TierConfig } from './types.ts';
import { DEFAULT_SERVING_CONFIG } from './types.ts';
import { historyStamp, Visitors } from './visitor.ts';
import type { Visitor } from './visitor.ts';

export interface EngineOptions {
  store: Store;
  realtime: RealtimeState;
  registry: ModelRegistry;
  log: Logger;
  /**
   * Each tier's default configuration (a request may carry its own); while a version with tuned
   * rules is served, those replace the rules of the tiers it tuned (served.ts `tierDefaults`).
   */
  config?: ServingConfig;
  now?: () => number;
  /** Called with every list served (feedback attributes later events to it). */
  onImpression?: (impression: Impression) => void;
  /** Reuse of recently computed lists (see answer-cache.ts); default: 30 s, 100k lists. */
  answerCache?: AnswerCacheOptions;
}

export const DEFAULT_ANSWER_CACHE: AnswerCacheOptions = { ttlMs: 30_000, entries: 100_000 };
export const MAX_LIMIT = 100;

export class Engine {
  private readonly now: () => number;
  private readonly models: ModelHolder;
  private readonly visitors: Visitors;
  private readonly filters = new Filters();
  private readonly sources = new Candidates();
  /** The candidates of the request being computed (reused: see blend.ts). */
  private readonly blend = new Blend();
  private readonly answers: AnswerCache<Served>;

  constructor(private readonly o: EngineOptions) {
    this.now = o.now ?? Date.now;
    const config = o.config ?? DEFAULT_SERVING_CONFIG;
    this.models = new ModelHolder({
      registry: o.registry,
      store: o.store,
      log: o.log,
      now: this.now,
      config,
    });
    this.visitors = new Visitors(o.store, o.realtime, config.consumed);
    this.answers = new AnswerCache(o.answerCache ?? DEFAULT_ANSWER_CACHE);
  }

  async recommend(req: RecommendRequest): Promise<Recommendation> {
    const s = this.models.current;
    if (!s) throw new Error('the engine has no model loaded: call swap() first');
    const config = req.config ?? s.defaults[req.tier];
    const limit = Math.max(1, Math.min(req.limit ?? 20, MAX_LIMIT));
    const now = this.now();
    // 1. Who asks.
    const found = this.visitors.of(req);
    const who = found instanceof Promise ? await found : found;
    const version = s.model.version;
    const key = this.answers.enabled ? answerKey(req, limit) : null;
    const stamp = key !== null ? historyStamp(who) : '';
    if (key !== null) {
      const hit = this.answers.get(key, s, now, stamp, s.catalog.version, stillAllowed, req);
      if (hit) return answer(version, req, config.name, who, hit.items, now, this.o.onImpression);
    }
    const chosen = this.list(s, req, who, config, limit, now);
    const items = answerItems(s.catalog, chosen);
    if (key !== null) {
      this.answers.set(key, {
        model: s,
        at: now,
        stamp,
        catalogVersion: s.catalog.version,
        ...(who.userId !== undefined ? { userId: who.userId } : {}),
        indices: chosen.map((c) => c.index),
        items,
      });
    }
    // 5. The answer.
    return answer(version, req, config.name, who, items, now, this.o.onImpression);
  }

  /** Steps 2–4 for one request, without an await (the filters live in reused buffers). */
  private list(
    s: Served,
    req: RecommendRequest,
    who: Visitor,
    config: TierConfig,
    limit: number,
    now: number,
  ) {
    const c = s.catalog;
    const ctx = contextOf(c, req);
    // 3. What may be shown (before the candidates: every source searches within it).
    const allowed = this.filters.allowed(s, req, who, ctx, config);
    // 2. Candidates, weighted into the blend.
    const r: CandidateRequest = {
      s,
      req,
      who,
      ctx,
      allowed,
      x: queryVector(s, req.tier, who, ctx),
      config,
      limit,
      now,
    };
    this.blend.reset();
    this.sources.collect(this.blend, r);
    const newArrivals = this.sources.newArrivals(r);
    // 4. Boosts, then the rules: pins, the new-arrival slot, the category cap, MMR.
    const pins = pinsOf(config, req.category, allowed.filter, c);
    const candidates = this.blend.shortlisted(
      booster(config.boosts, c),
      limit * RULES_POOL_PER_SLOT + pins.length + 1,
      newArrivals.map((a) => a.index),
    );
    return applyRules(candidates, {
      limit,
      rules: config,
      pins,
      newArrivals,
      categoryOf: (i) => c.item(i)?.categories[0] ?? null,
      vectorOf: (i) => s.vectors.vector(i),
    }) satisfies Scored[];
  }

  /** Replaces the segment lists; visitors without history get the `new` segment's. */
  setSegmentTrending(lists: SegmentLists): void {
    this.sources.setSegmentLists(lists);
  }

  /** Feeds stored events to real-time state and trending (call after the store accepted them). */
  async ingest(events: readonly ShelfEvent[]): Promise<void> {
    await this.visitors.record(events);
    const s = this.models.current;
    if (s) applyEvents(s, events);
  }

  /** Applies item changes (stock, price, status, new items) to the served catalogue at once. */
  updateItems(items: readonly Item[]): void {
    const s = this.models.current;
    if (s) applyItems(s, items);
  }

  /** Right to deletion: no real-time state, no vector, cold from now on. */
  async forgetUser(userId: string): Promise<void> {
    this.answers.forgetUser(userId);
    await this.visitors.forget(userId);
  }

  mergeSession(sessionId: string, userId: string): Promise<void> {
    return this.visitors.mergeSession(sessionId, userId);
  }

  /** Forget cached consent after a profile change. */
  userChanged(userId: string): void {
    this.visitors.changed(userId);
    this.answers.forgetUser(userId);
  }

  /** Loads `version` (default: the registry's current one) and swaps it in atomically. */
  swap(version?: string | null): Promise<void> {
    return this.models.swap(version);
  }

  /** Swaps when the registry's current version differs from the served one. */
  refresh(): Promise<boolean> {
    return this.models.refresh();
  }

  /** The version being served (null: trending only, no model yet). */
  get version(): string | null {
    return this.models.current?.model.version ?? null;
  }

  get ready(): boolean {
    return this.models.current !== null;
  }

  /** Items in the served catalogue (0 before the first swap). */
  get catalogSize(): number {
    return this.models.current?.catalog.size ?? 0;
  }

  /** Hits and misses of the list cache since start, and its size. */
  answerCacheStats(): AnswerCacheStats {
    return this.answers.stats();
  }

  /** A known user, an available item and its department, for examples in docs and logs. */
  example(): { userId?: string; itemId?: string; category?: string } {
    const s = this.models.current;
    if (!s) return {};
    const items = s.catalog.availableFilter().items();
    const item = items.length ? s.catalog.item(items[0]!) : undefined;
    const userId = s.model.userIndex.keys().next().value;
    return {
      ...(userId !== undefined ? { userId } : {}),
      ...(item ? { itemId: item.itemId } : {}),
      ...(item?.categories[0] ? { category: item.categories[0].split(' > ')[0]! } : {}),
    };
  }
}
