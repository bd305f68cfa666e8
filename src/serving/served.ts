/**
 * What one swap serves: an immutable model version and the tiers' default configurations it
 * is served with, and beside them the state that moves while it is served — the catalogue
 * (stock, status, new items), the content vectors of items the model never saw, and trending
 * counters. A request reads one `Served` from start to answer.
 */
import type { TrendingModel } from '../../models/trending.ts';
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
  /** Each tier's configuration when a request brings none. */
  readonly defaults: Readonly<Record<Tier, TierConfig>>;
}

/**
 * Each tier's default configuration while `model` is served: the engine's `config`, with the
 * rules the version was tuned with in place of those of the tiers it tuned (version-rules.ts).
 */
export function tierDefaults(config: ServingConfig, model: ServingModel): Record<Tier, TierConfig> {
  const c = withVersionRules(config, model.rules);
  return Object.fromEntries(TIERS.map((t) => [t, tierConfig(c, t)])) as Record<Tier, TierConfig>;
}

/** Loads `version` (null: trending only) with the store's catalogue, recent events and erasures. */
export async function loadServed(
  registry: ModelRegistry,
  store: Store,
  version: string | null,
  now: () => number,
  config: ServingConfig,
): Promise<Served> {
  const items: Item[] = [];
  for await (const item of allItems(store)) items.push(item);
  // Erased users' vectors are dropped at load: a version trained before an erasure never
  // personalizes for that user.
  const model = await loadServingModel(registry, version, new Set(await store.erasedUsers()));
  const catalog = new Catalog(model.itemIds, items, now);
  return {
    model,
    catalog,
    vectors: new CatalogVectors(model, catalog),
    trending: emptyTrending(catalog),
    defaults: tierDefaults(config, model),
  };
}

/** Item changes (stock, price, status, new items): the next request sees them. */
export function applyItems(s: Served, items: readonly Item[]): void {
  for (const item of items) s.vectors.changed(s.catalog.upsert(item).index);
}
