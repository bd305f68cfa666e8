/**
 * What one swap serves: an immutable model version, and beside it the state that moves while it
 * is served — the catalogue (stock, status, new items), the content vectors of items the model
 * never saw, and trending counters. A request reads one `Served` from start to answer.
 */
import type { TrendingModel } from '../../models/trending.ts';
import { MemoIndex } from '../index/memo-index.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { allItems } from '../store/all-items.ts';
import type { Item, Store } from '../store/types.ts';
import { Catalog } from './catalog.ts';
import { CatalogVectors } from './catalog-vectors.ts';
import { loadServingModel } from './serving-model.ts';
import type { ServingModel } from './serving-model.ts';
import { emptyTrending } from './trending-state.ts';
import type { ServingConfig, Tier, TierConfig } from './types.ts';
import { TIERS, tierConfig } from './types.ts';
import { withVersionRules } from './version-rules.ts';

export interface Served {
  readonly model: ServingModel;
  readonly catalog: Catalog;
  readonly vectors: CatalogVectors;
  /** Filled and kept current from the real-time counters by `TrendingState`. */
  readonly trending: TrendingModel;
}

/**
 * Each tier's default configuration while `model` is served: the engine's `config`, with the
 * rules the version was tuned with in place of those of the tiers it tuned (version-rules.ts).
 */
export function tierDefaults(config: ServingConfig, model: ServingModel): Record<Tier, TierConfig> {
  const c = withVersionRules(config, model.rules);
  return Object.fromEntries(TIERS.map((t) => [t, tierConfig(c, t)])) as Record<Tier, TierConfig>;
}

/**
 * Item changes that arrive while versions load. A load reads the catalogue first and is ready
 * seconds later (the unseen items' vectors, catalog-vectors.ts): what changed meanwhile is
 * replayed onto the new version before it is served, or a stock-out or a delisting heard
 * during a swap would be lost until the next one.
 */
export class ItemsHeard {
  private readonly open = new Set<Item[]>();

  /** Called with every item change, beside applying it to what is served. */
  heard(items: readonly Item[]): void {
    for (const pending of this.open) pending.push(...items);
  }

  /** Runs `load`, then applies what was heard meanwhile to what it loaded. */
  async during(load: () => Promise<Served>): Promise<Served> {
    const pending: Item[] = [];
    this.open.add(pending);
    try {
      const s = await load();
      applyItems(s, pending);
      return s;
    } finally {
      this.open.delete(pending);
    }
  }
}

/** Where versions are loaded from, and with what. */
export interface ServedSource {
  registry: ModelRegistry;
  store: Store;
  now: () => number;
  /** The engine's item changes, replayed onto a version loaded while they came. */
  heard: ItemsHeard;
  /** How long a load may hold the event loop at a time, ms (catalog-vectors.ts). */
  sliceMs?: number;
  /** Answers each version's index remembers (evaluation engines, memo-index.ts). */
  searchMemo?: number;
}

/**
 * Loads `version` (null: trending only) with the store's catalogue, recent events and erasures;
 * `prepare` then readies it (item changes heard until it is done are replayed onto it too).
 */
export function loadServed(
  source: ServedSource,
  version: string | null,
  prepare?: (next: Served) => Promise<void>,
): Promise<Served> {
  const { registry, store, now } = source;
  return source.heard.during(async () => {
    const items: Item[] = [];
    for await (const item of allItems(store)) items.push(item);
    // Erased users' vectors are dropped at load: a version trained before an erasure never
    // personalizes for that user.
    const loaded = await loadServingModel(registry, version, new Set(await store.erasedUsers()));
    const model =
      source.searchMemo && loaded.index
        ? { ...loaded, index: new MemoIndex(loaded.index, source.searchMemo) }
        : loaded;
    const catalog = new Catalog([...model.itemIds, ...model.contentItemIds], items, now);
    const vectors = new CatalogVectors(model, catalog);
    await vectors.addUnseen(source.sliceMs);
    const served: Served = { model, catalog, vectors, trending: emptyTrending(catalog) };
    await prepare?.(served);
    return served;
  });
}

/** Item changes (stock, price, status, new items): the next request sees them. */
export function applyItems(s: Served, items: readonly Item[]): void {
  for (const item of items) s.vectors.changed(s.catalog.upsert(item).index);
}
