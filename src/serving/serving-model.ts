/**
 * One model version made ready to serve: the ALS model, its lists, the content encoder, the
 * catalogue in serving item space and the ANN index over it. Immutable but for the catalogue
 * and index updates of item changes, so a hot swap only replaces the reference.
 */
import type { AlsModel } from '../../models/als.ts';
import { ContentEncoder } from '../../models/content-encoder.ts';
import type { NeighbourLists } from '../../models/item-neighbours.ts';
import type { Csr } from '../../models/sparse.ts';
import { TrendingModel } from '../../models/trending.ts';
import { float32From, int32From } from '../../models/typed-bytes.ts';
import type { AnnIndex } from '../index/ann-index.ts';
import { buildAnnIndex, loadAnnIndex } from '../index/build-ann-index.ts';
import { loadAlsVersion } from '../registry/als-version.ts';
import type { ModelRegistry, VersionManifest } from '../registry/model-registry.ts';
import { VERSION_FILES as F } from '../registry/version-files.ts';
import type { EventType, Item, ShelfEvent, Store } from '../store/types.ts';
import { allItems } from '../store/all-items.ts';
import { Catalog } from './catalog.ts';

export interface ServingModel {
  version: string | null;
  manifest: VersionManifest | null;
  als: AlsModel | null;
  userIndex: Map<string, number>;
  userRows: Csr | null;
  neighbours: NeighbourLists | null;
  complements: NeighbourLists | null;
  encoder: ContentEncoder | null;
  catalog: Catalog;
  /** Vectors of the model's items and of encoded cold-start items, in serving item space. */
  index: AnnIndex | null;
  trending: TrendingModel;
}

/** How much an event says about an item's popularity right now. */
export const TRENDING_WEIGHTS: Partial<Record<EventType, number>> = {
  view: 1,
  click: 2,
  add_to_cart: 4,
  purchase: 8,
};
/** Trending remembers about a week; the window read at start covers several half-lives. */
export const TRENDING_HALF_LIFE_MS = 2 * 86_400_000;
export const TRENDING_WINDOW_MS = 14 * 86_400_000;
/** Room for items added after load (beyond it they get no trending score until the next swap). */
const TRENDING_HEADROOM = 1.25;

function lists(rowsBytes: Buffer, scoreBytes: Buffer, rows: number, what: string): NeighbourLists {
  const indices = int32From(rowsBytes, what);
  const scores = float32From(scoreBytes, what);
  const k = rows ? indices.length / rows : 0;
  if (!Number.isInteger(k) || scores.length !== indices.length)
    throw new RangeError(`${what}: sizes do not match`);
  return { rows, k, indices, scores };
}

/** Loads `version` (or, with null, a model-less catalogue that serves trending only). */
export async function loadServingModel(
  registry: ModelRegistry,
  store: Store,
  version: string | null,
  now: () => number,
): Promise<ServingModel> {
  const items: Item[] = [];
  for await (const item of allItems(store)) items.push(item);
  if (version === null) {
    const catalog = new Catalog([], items, now);
    return {
      version: null,
      manifest: null,
      als: null,
      userIndex: new Map(),
      userRows: null,
      neighbours: null,
      complements: null,
      encoder: null,
      catalog,
      index: null,
      trending: await loadTrending(store, catalog, now()),
    };
  }
  const { manifest, model, userIds, itemIds } = await loadAlsVersion(registry, version);
  const file = (name: string) => registry.file(version, name);
  const has = (name: string) => name in manifest.files;
  const userRows: Csr | null = has(F.userItemsIndptr)
    ? {
        rows: userIds.length,
        cols: itemIds.length,
        indptr: int32From(await file(F.userItemsIndptr)),
        indices: int32From(await file(F.userItemsIndices)),
        values: float32From(await file(F.userItemsValues)),
      }
    : null;
  const neighbours = has(F.neighboursIndices)
    ? lists(await file(F.neighboursIndices), await file(F.neighboursScores), itemIds.length, 'neighbours')
    : null;
  const complements = has(F.complementsIndices)
    ? lists(await file(F.complementsIndices), await file(F.complementsScores), itemIds.length, 'complements')
    : null;
  let encoder: ContentEncoder | null = null;
  if (has(F.contentEncoder)) {
    const encoderManifest = JSON.parse((await file(F.contentEncoder)).toString('utf8')) as {
      files: Record<string, unknown>;
    };
    const files: Record<string, Uint8Array> = {};
    for (const name of Object.keys(encoderManifest.files)) files[name] = await file(name);
    encoder = ContentEncoder.fromArtefact(encoderManifest, files);
  }
  const catalog = new Catalog(itemIds, items, now);
  const vectors = { data: model.itemFactors, rows: itemIds.length, cols: model.factors };
  const index = has(F.annIndex)
    ? await loadAnnIndex(await registry.path(version, F.annIndex), { vectors })
    : await buildAnnIndex(vectors);
  const served: ServingModel = {
    version,
    manifest,
    als: model,
    userIndex: new Map(userIds.map((id, u) => [id, u])),
    userRows,
    neighbours,
    complements,
    encoder,
    catalog,
    index,
    trending: await loadTrending(store, catalog, now()),
  };
  // Items the model never saw get a vector from their content, from their first minute.
  for (let i = itemIds.length; i < catalog.size; i++) addContentVector(served, i);
  return served;
}

/** Gives a cold-start item a content vector in the index; false when there is no encoder. */
export function addContentVector(m: ServingModel, index: number): boolean {
  const item = m.catalog.item(index);
  if (!m.encoder || !m.index || !item) return false;
  const v = new Float32Array(m.encoder.factors);
  m.encoder.encodeInto([item], v);
  m.index.add(index, v);
  return true;
}

async function loadTrending(store: Store, catalog: Catalog, now: number): Promise<TrendingModel> {
  const trending = new TrendingModel({
    items: Math.ceil(catalog.size * TRENDING_HEADROOM) + 64,
    halfLifeMs: TRENDING_HALF_LIFE_MS,
  });
  for await (const e of store.streamEvents({ from: now - TRENDING_WINDOW_MS }))
    addTrending(trending, catalog, e);
  return trending;
}

export function addTrending(
  trending: TrendingModel,
  catalog: Catalog,
  e: Pick<ShelfEvent, 'itemId' | 'type' | 'timestamp'>,
): void {
  const w = TRENDING_WEIGHTS[e.type];
  const i = catalog.indexOf(e.itemId);
  if (w && i !== undefined && i < trending.items) trending.add(i, e.timestamp, w);
}
