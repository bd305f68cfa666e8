/**
 * What one swap serves: an immutable model version, and beside it the state that moves while it
 * is served — the catalogue (stock, status, new items), the content vectors of items the model
 * never saw, and trending counters. A request reads one `Served` from start to answer.
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

export interface Served {
  readonly model: ServingModel;
  readonly catalog: Catalog;
  readonly vectors: CatalogVectors;
  /** Filled and kept current from the real-time counters by `TrendingState`. */
  readonly trending: TrendingModel;
}

/** Loads `version` (null: trending only) with the store's catalogue, recent events and erasures. */
export async function loadServed(
  registry: ModelRegistry,
  store: Store,
  version: string | null,
  now: () => number,
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
  };
}

/** Item changes (stock, price, status, new items): the next request sees them. */
export function applyItems(s: Served, items: readonly Item[]): void {
  for (const item of items) s.vectors.changed(s.catalog.upsert(item).index);
}
