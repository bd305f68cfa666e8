/**
 * The serving engine: a tier's list in the five steps of DESIGN.md "Serving a tier" — who asks,
 * what may be shown, where candidates come from, blend and rules (those three in
 * list-stages.ts), the answer — on the version the model holder serves, with recently computed
 * lists reused (answer-cache.ts). Also where the engine hears of changes: events, item changes,
 * deletion, consent, session merges.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { RealtimeState } from '../realtime/types.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type {
  Change,
  EventType,
  Item,
  MerchantRules,
  PositionLog,
  ShelfEvent,
  Store,
} from '../store/types.ts';
import { answer, answerItems, positionLog } from './answer.ts';
import { explained } from './explain.ts';
import type { Explanation, ListTrace } from './explain.ts';
import { AnswerCache, answerKey } from './answer-cache.ts';
import type { AnswerCacheOptions, AnswerCacheStats, CacheEntry } from './answer-cache.ts';
import type { SegmentLists } from './candidates.ts';
import { stillAllowed } from './filters.ts';
import { ListStages } from './list-stages.ts';
import type { CatalogueLabels } from './merchant-rules.ts';
import { ModelHolder } from './model-holder.ts';
import { applyItems, ItemsHeard, tierDefaults } from './served.ts';
import { SideVersions } from './side-versions.ts';
import type { Served, ServedSource } from './served.ts';
import type {
  Impression,
  RecommendedItem,
  Recommendation,
  RecommendRequest,
  ServingConfig,
  Tier,
  TierConfig,
} from './types.ts';
import { DEFAULT_SERVING_CONFIG } from './types.ts';
import { TrendingState } from './trending-state.ts';
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
  /** How long loading a version holds the event loop at a time, ms. @defaultValue 5 */
  loadSliceMs?: number;
  /**
   * Before a swap, this many of the lists most recently used are computed on the new version
   * (`warm`); 0: none. @defaultValue 2000
   */
  warmLists?: number;
  /**
   * Evaluation engines only: each version's index remembers up to this many answers
   * (memo-index.ts), as a tuning asks the same searches under every setting. @defaultValue 0
   */
  searchMemo?: number;
}

/** A list's items and their ids, both frozen (a cached list's are shared by its answers). */
type Listed = Pick<CacheEntry<Served>, 'items' | 'itemIds'>;

export const DEFAULT_ANSWER_CACHE: AnswerCacheOptions = { ttlMs: 30_000, entries: 100_000 };
/** How long a swap's warm-up holds the event loop at a time, ms. */
const WARM_SLICE_MS = 5;
export const MAX_LIMIT = 100;

export class Engine {
  private readonly now: () => number;
  private readonly models: ModelHolder;
  private readonly visitors: Visitors;
  private readonly trending: TrendingState;
  private readonly stages: ListStages;
  private readonly answers: AnswerCache<Served>;
  private readonly side: SideVersions;
  private readonly heard = new ItemsHeard();
  /** The engine's configuration; the merchandising rules in it change (`setMerchantRules`). */
  private config: ServingConfig;
  /** Each served version's tier defaults, and the configuration they were made from. */
  private readonly defaults = new WeakMap<Served, { from: ServingConfig; tiers: Record<Tier, TierConfig> }>();

  constructor(private readonly o: EngineOptions) {
    this.now = o.now ?? Date.now;
    this.config = o.config ?? DEFAULT_SERVING_CONFIG;
    const source: ServedSource = {
      registry: o.registry,
      store: o.store,
      now: this.now,
      heard: this.heard,
      ...(o.loadSliceMs !== undefined ? { sliceMs: o.loadSliceMs } : {}),
      ...(o.searchMemo ? { searchMemo: o.searchMemo } : {}),
    };
    this.models = new ModelHolder({ ...source, log: o.log, prepare: (next) => this.warm(next) });
    this.visitors = new Visitors(o.store, o.realtime, { consumed: this.config.consumed, log: o.log });
    this.stages = new ListStages(o.realtime.rotation.policy);
    this.trending = new TrendingState({
      counters: o.realtime.trending,
      store: o.store,
      log: o.log,
      now: this.now,
    });
    this.answers = new AnswerCache(o.answerCache ?? DEFAULT_ANSWER_CACHE);
    this.side = new SideVersions({
      ...source,
      log: o.log,
      onLoad: (s) => this.trending.follow(s),
      onDrop: (s) => this.trending.unfollow(s),
    });
  }

  /**
   * Holds `versions` loaded beside the current one (experiment variants' `modelVersion`), and
   * lets go of any other; a request whose configuration names one is served from it.
   */
  serveBeside(versions: readonly string[]): Promise<void> {
    return this.side.want(versions);
  }

  /**
   * The tier's default configuration on the version served now (or on `version`, when it is held
   * beside it: its own tuned rules); null before the first swap or when `version` is not held.
   */
  defaultConfig(tier: Tier, version?: string): TierConfig | null {
    const current = this.models.current;
    const s = version === undefined || current?.model.version === version ? current : this.side.get(version);
    return s ? this.defaultsOf(s)[tier] : null;
  }

  /**
   * Each tier's configuration on `s` when a request brings none: the engine's, with the rules
   * the version was tuned with (served.ts `tierDefaults`); made again once the merchandising
   * rules change, so every list from then on, an experiment variant's too (built on these),
   * has the new ones.
   */
  private defaultsOf(s: Served): Record<Tier, TierConfig> {
    const made = this.defaults.get(s);
    if (made?.from === this.config) return made.tiers;
    const tiers = tierDefaults(this.config, s.model);
    this.defaults.set(s, { from: this.config, tiers });
    return tiers;
  }

  /**
   * Serves `rules` (pins and boosts) from the next request on, on every version; lists made
   * under the previous ones are not reused (answer-cache.ts compares them).
   */
  setMerchantRules(rules: MerchantRules): void {
    this.config = { ...this.config, pins: rules.pins, boosts: rules.boosts };
  }

  /** What the served catalogue holds, for checking merchandising rules (merchant-rules.ts). */
  catalogueLabels(): CatalogueLabels {
    const brands = new Set<string>();
    const categories = new Set<string>();
    const c = this.models.current?.catalog;
    for (let i = 0; c && i < c.size; i++) {
      const item = c.item(i);
      if (item?.brand) brands.add(item.brand);
      for (const path of item?.categories ?? []) {
        const parts = path.split(' > ');
        for (let k = 1; k <= parts.length; k++) categories.add(parts.slice(0, k).join(' > '));
      }
    }
    return {
      item: (id) => {
        const i = c?.indexOf(id);
        return i === undefined ? undefined : c!.item(i);
      },
      brands,
      categories,
    };
  }

  async recommend(req: RecommendRequest): Promise<Recommendation> {
    const current = this.models.current;
    if (!current) throw new Error('the engine has no model loaded: call swap() first');
    this.trending.serve(current);
    const config = req.config ?? this.defaultsOf(current)[req.tier];
    const s = config.modelVersion === undefined ? current : this.versionFor(config.modelVersion, current);
    const limit = Math.max(1, Math.min(req.limit ?? 20, MAX_LIMIT));
    const now = this.now();
    // 1. Who asks.
    const found = this.visitors.of(req, now);
    const who = found instanceof Promise ? await found : found;
    const list = this.itemsFor(s, req, who, config, limit, now);
    const positions = req.arms
      ? this.positionsOf(current, req, who, config, limit, now, list.items)
      : undefined;
    return this.answered(s.model.version, req, config.name, who, list, now, positions);
  }

  /** Steps 2–4, or the list computed for the same request and visitor state a moment ago. */
  private itemsFor(
    s: Served,
    req: RecommendRequest,
    who: Visitor,
    config: TierConfig,
    limit: number,
    now: number,
  ): Listed {
    const key = this.answers.enabled ? answerKey(req, limit) : null;
    const stamp = key !== null ? stampOf(who, s) : '';
    if (key !== null) {
      const hit = this.answers.get(key, s, config, now, stamp, s.catalog.version, stillAllowed, req);
      if (hit) return hit;
    }
    const entry = this.computed(s, req, who, config, limit, now, stamp);
    if (key !== null) this.answers.set(key, entry);
    return entry;
  }

  /** Steps 2–4 on `s`, as the cache entry that keeps the list for the visitor's `stamp`. */
  private computed(
    s: Served,
    req: RecommendRequest,
    who: Visitor,
    config: TierConfig,
    limit: number,
    now: number,
    stamp: string,
  ): CacheEntry<Served> {
    const chosen = this.stages.list(s, req, who, config, limit, now);
    const items = answerItems(s.catalog, chosen);
    return {
      model: s,
      config,
      at: now,
      stamp,
      catalogVersion: s.catalog.version,
      ...(who.userId !== undefined ? { userId: who.userId } : {}),
      indices: chosen.map((c) => c.index),
      req,
      limit,
      items,
      itemIds: Object.freeze(items.map((i) => i.itemId)),
    };
  }

  /**
   * Before `next` is swapped in: the lists most recently used on the version served now, computed
   * on `next` (newest first, a few milliseconds at a time; requests are answered meanwhile from
   * the version served) and staged, to enter the cache together just before the swap. A swap
   * otherwise starts with an empty cache, and its first half second, with every visitor's list
   * computed at once, made answers wait up to 250 ms (the jobs bench at 3,600 req/s on 3,000
   * items). A list whose visitor acts meanwhile is computed again as any other; one naming a
   * version held beside (an experiment's) is not the swap's.
   */
  private async warm(next: Served): Promise<void> {
    const previous = this.models.current;
    const n = this.o.warmLists ?? 2000;
    if (!previous || !this.answers.enabled || n <= 0) return;
    this.trending.follow(next);
    try {
      let sliceEnd = performance.now() + WARM_SLICE_MS;
      for (const [key, e] of this.answers.recent(previous, n)) {
        const config = e.req.config ?? this.defaultsOf(next)[e.req.tier];
        if (config.modelVersion !== undefined) continue;
        try {
          const now = this.now();
          const found = this.visitors.of(e.req, now);
          const who = found instanceof Promise ? await found : found;
          this.answers.stage(key, this.computed(next, e.req, who, config, e.limit, now, stampOf(who, next)));
        } catch (err) {
          // A list that cannot be warmed is computed at its next request; the swap goes on.
          this.o.log.warn({ err, tier: e.req.tier }, 'a list could not be warmed before a swap');
        }
        if (performance.now() >= sliceEnd) {
          await yieldToEventLoop();
          sliceEnd = performance.now() + WARM_SLICE_MS;
        }
      }
    } finally {
      this.trending.unfollow(next);
      // Nothing runs between here and the swap but the load's last steps (no I/O, no request).
      this.answers.commitStaged();
    }
  }

  /**
   * What every arm of `req.arms` would have shown this visitor now (each list as its own
   * request would get it, cached alike), compared position by position with `shown`.
   */
  private positionsOf(
    current: Served,
    req: RecommendRequest,
    who: Visitor,
    config: TierConfig,
    limit: number,
    now: number,
    shown: readonly RecommendedItem[],
  ): PositionLog {
    const { configs, probabilities } = req.arms!;
    const lists = configs.map((c) => {
      if (c.name === config.name) return shown;
      const s = c.modelVersion === undefined ? current : this.versionFor(c.modelVersion, current);
      return this.itemsFor(s, { ...req, config: c }, who, c, limit, now).items;
    });
    return positionLog(
      shown,
      lists,
      configs.map((c) => c.name),
      probabilities,
    );
  }

  /** The version `version` when it is current or held beside it; the current one otherwise. */
  private versionFor(version: string, current: Served): Served {
    if (current.model.version === version) return current;
    return this.side.get(version) ?? current;
  }

  /**
   * Step 5, the answer; the items shown are recorded for rotation, without waiting (serving never
   * waits for it; a failure is logged).
   */
  private answered(
    version: string | null,
    req: RecommendRequest,
    configName: string,
    who: Visitor,
    { items, itemIds }: Listed,
    now: number,
    positions?: PositionLog,
  ): Recommendation {
    if (who.personal && who.subject && itemIds.length && this.o.realtime.rotation.policy.shows > 0) {
      // A state that does not answer is said by Visitors, once in a while.
      void this.visitors.shown(who, itemIds, now);
    }
    return answer(version, req, configName, who, items, now, this.o.onImpression, itemIds, positions);
  }

  /**
   * Why `itemId` is or is not in the list `req` would get now: the same pipeline (no list cache,
   * no impression), traced, and the first stage that kept the item out.
   */
  async explain(req: RecommendRequest, itemId: string): Promise<Explanation> {
    const current = this.models.current;
    if (!current) throw new Error('the engine has no model loaded: call swap() first');
    const config = req.config ?? this.defaultsOf(current)[req.tier];
    const s = config.modelVersion === undefined ? current : this.versionFor(config.modelVersion, current);
    const limit = Math.max(1, Math.min(req.limit ?? 20, MAX_LIMIT));
    const now = this.now();
    const found = this.visitors.of(req, now);
    const who = found instanceof Promise ? await found : found;
    const trace: ListTrace = {};
    const chosen = this.stages.list(s, req, who, config, limit, now, trace);
    const items = answerItems(s.catalog, chosen);
    return explained(s, req, who, config, limit, chosen, trace, this.stages.blend, itemId, items);
  }

  /** Replaces the segment lists; visitors without history get the `new` segment's. */
  setSegmentTrending(lists: SegmentLists): void {
    this.stages.setSegmentLists(lists);
  }

  /** Feeds stored events to real-time state and trending (call after the store accepted them). */
  async ingest(events: readonly ShelfEvent[]): Promise<void> {
    await this.visitors.record(events);
    await this.trending.ingest(events);
  }

  /** Applies item changes (stock, price, status, new items) to the served catalogue at once. */
  updateItems(items: readonly Item[]): void {
    const s = this.models.current;
    if (s) applyItems(s, items);
    for (const side of this.side.all()) applyItems(side, items);
    this.heard.heard(items);
  }

  /** Right to erasure: no real-time state, no vector, cold from now on. */
  async forgetUser(userId: string): Promise<void> {
    this.answers.forgetUser(userId);
    await this.visitors.forget(userId);
  }

  /** The real-time state answers again (Redis reconnected): see Visitors.realtimeBack. */
  realtimeBack(): Promise<void> {
    return this.visitors.realtimeBack();
  }

  /** Deletions of real-time state that failed, tried again (Visitors.retryDeletes). */
  retryRealtimeDeletes(): Promise<void> {
    return this.visitors.retryDeletes();
  }

  mergeSession(sessionId: string, userId: string): Promise<void> {
    return this.visitors.mergeSession(sessionId, userId);
  }

  /**
   * Profiles changed (consent, attributes) or a session was merged, maybe on another replica;
   * `withdrawn` no longer consent to personalization: their real-time state goes at once.
   */
  async usersChanged(userIds: readonly string[], withdrawn: readonly string[] = []): Promise<void> {
    for (const userId of userIds) {
      this.answers.forgetUser(userId);
      this.visitors.changed(userId);
    }
    for (const userId of withdrawn) await this.visitors.withdrawn(userId);
  }

  /**
   * Events of these visitors were stored outside this server (`shelf import events`): what it
   * holds of them is read from the store again at their next request, so an imported purchase
   * keeps its item out at once.
   */
  eventsStored(userIds: readonly string[], sessionIds: readonly string[]): void {
    for (const userId of userIds) {
      this.answers.forgetUser(userId);
      this.visitors.readAgain({ userId });
    }
    for (const sessionId of sessionIds) this.visitors.readAgain({ sessionId });
  }

  /**
   * Applies the change feed (src/changes/): items read again from the store, users erased or
   * changed, visitors' imported events, a version made current. Each change is applied on its
   * own: one that fails (a version whose files this replica cannot read) is logged and does not
   * hold up the others.
   */
  async applyChanges(changes: readonly Change[]): Promise<void> {
    const itemIds = new Set<string>();
    for (const c of changes) {
      try {
        if (c.kind === 'items') for (const id of c.itemIds) itemIds.add(id);
        else if (c.kind === 'users') await this.usersChanged(c.userIds, c.withdrawn);
        else if (c.kind === 'erased') await this.forgetUser(c.userId);
        else if (c.kind === 'visitors') this.eventsStored(c.userIds, c.sessionIds);
        else if (c.kind === 'version' && c.version !== this.version) await this.swap(c.version);
      } catch (err) {
        this.o.log.error({ err, change: c }, 'applying a change failed');
      }
    }
    if (itemIds.size) this.updateItems(await this.o.store.getItems([...itemIds]));
  }

  /**
   * Loads `version` (default: the registry's current one) and swaps it in atomically; the first
   * time, trending's counters are seeded from the store (by the first replica) and read.
   */
  async swap(version?: string | null): Promise<void> {
    await this.startTrending();
    await this.models.swap(version);
  }

  /** Whether an event of `type` keeps its item out of the visitor's lists (purchase, rating, dislike, hide). */
  keepsOut(type: EventType): boolean {
    return this.config.consumed.includes(type);
  }

  /** Whether a stored item is under category `path` (true before a version is loaded: none to tell). */
  hasCategory(path: string): boolean {
    return this.models.current?.catalog.hasCategory(path) ?? true;
  }

  /** The registry's current version swapped in if another is served (ModelHolder.follow). */
  followCurrent(retryMs: number): Promise<boolean> {
    return this.models.follow(retryMs);
  }

  /** Counters that cannot be reached (Redis down) leave trending empty, not the engine down; retried at the next swap. */
  private async startTrending(): Promise<void> {
    try {
      await this.trending.start();
    } catch (err) {
      this.o.log.warn({ err }, 'trending counters could not be read; trying again at the next swap');
    }
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
    // The first available item with a category: a catalogue may have none (Online Retail's).
    const categorised = items.find((i) => s.catalog.item(i)!.categories.length > 0);
    const category = categorised === undefined ? undefined : s.catalog.item(categorised)!.categories[0]!;
    const userId = s.model.userIndex.keys().next().value;
    return {
      ...(userId !== undefined ? { userId } : {}),
      ...(item ? { itemId: item.itemId } : {}),
      ...(category ? { category: category.split(' > ')[0]! } : {}),
    };
  }
}

/**
 * What a cached list was computed from: the visitor's state, and the catalogue's size (a new
 * item, a page item unknown when the list was made or a new arrival, makes cached lists stale,
 * where a change to a listed item is checked item by item).
 */
function stampOf(who: Visitor, s: Served): string {
  return `${historyStamp(who)}|${s.catalog.size}`;
}
