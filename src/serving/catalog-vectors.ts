/**
 * The item vectors serving searches: the model's index (read only) and, beside it, an index of
 * content vectors for the items the model never saw, encoded when they appear (at load, or when
 * an item is added while the version is served). An item delisted while the version is served
 * has no vector until it is listed again.
 *
 * The content index numbers an item `i` as `i − offset`, `offset` being the model's item count
 * rounded down to a whole bitset word, so a request's filter is handed to it as a view of the
 * filter's words from `offset` on (no copy, no per-item work).
 */
import type { TopK } from '../../models/top-k.ts';
import type { AnnIndex } from '../index/ann-index.ts';
import { buildAnnIndex } from '../index/build-ann-index.ts';
import { ExactIndex } from '../index/exact-index.ts';
import { ItemFilter } from '../index/item-filter.ts';
import type { Catalog } from './catalog.ts';
import type { ServingModel } from './serving-model.ts';

export class CatalogVectors {
  /** Items delisted since load. */
  private readonly removed = new Set<number>();

  private constructor(
    private readonly model: ServingModel,
    private readonly catalog: Catalog,
    /** Content vectors of the catalogue's items beyond the model's (null without encoder or index). */
    private readonly cold: AnnIndex | null,
    private readonly offset: number,
  ) {}

  /** The catalogue's vectors, its cold items' content vectors in an index chosen by their number. */
  static async load(model: ServingModel, catalog: Catalog): Promise<CatalogVectors> {
    const offset = model.itemIds.length & ~31;
    const encoded = encodeCold(model, catalog, offset);
    const cold = encoded ? await buildAnnIndex(encoded.vectors, { include: encoded.include }) : null;
    return new CatalogVectors(model, catalog, cold, offset);
  }

  /** The same with an exact content index, built at once (small catalogues, tests). */
  static exact(model: ServingModel, catalog: Catalog): CatalogVectors {
    const offset = model.itemIds.length & ~31;
    const encoded = encodeCold(model, catalog, offset);
    const cold = encoded ? ExactIndex.build(encoded.vectors, { include: encoded.include }) : null;
    return new CatalogVectors(model, catalog, cold, offset);
  }

  /** Whether there are vectors to search at all. */
  get searchable(): boolean {
    return this.model.index !== null;
  }

  get dims(): number {
    return this.model.index?.dims ?? 0;
  }

  /** Follows a change of item `index`: delisted, no vector; else its own, or a content vector. */
  changed(index: number): void {
    if (this.catalog.item(index)?.status === 'delisted') {
      this.removed.add(index);
      return;
    }
    this.removed.delete(index);
    const item = this.catalog.item(index);
    const cold = this.cold;
    if (!cold || !item || index < this.model.itemIds.length || cold.has(index - this.offset)) return;
    const v = new Float32Array(cold.dims);
    this.model.encoder!.encodeInto([item], v);
    cold.add(index - this.offset, v);
  }

  /** The item's vector (a view), or null. */
  vector(index: number): Float32Array | null {
    if (this.removed.size && this.removed.has(index)) return null;
    if (index < this.model.itemIds.length) return this.model.index?.vector(index) ?? null;
    return this.cold?.vector(index - this.offset) ?? null;
  }

  /** The best `k` allowed items for `query`: the model's index and the content index, merged. */
  search(query: Float32Array, k: number, filter: ItemFilter): TopK {
    // Delisted items are never allowed (filters.ts), so `removed` needs no check here.
    const found = this.model.index!.search(query, k, filter);
    const cold = this.cold;
    const from = this.offset >>> 5;
    if (!cold || cold.size === 0 || filter.words.length <= from) return found;
    const more = cold.search(query, k, ItemFilter.fromWords(filter.words.subarray(from)));
    if (more.indices.length === 0) return found;
    return merge(found, more, this.offset, k);
  }
}

/** The content vectors of `catalog`'s items beyond the model's, rows numbered from `offset`. */
function encodeCold(model: ServingModel, catalog: Catalog, offset: number) {
  if (!model.encoder || !model.index) return null;
  const dims = model.index.dims;
  const rows = Math.max(0, catalog.size - offset);
  const data = new Float32Array(rows * dims);
  const live: number[] = [];
  for (let i = model.itemIds.length; i < catalog.size; i++) {
    const item = catalog.item(i);
    if (!item) continue;
    model.encoder.encodeInto([item], data.subarray((i - offset) * dims, (i - offset + 1) * dims));
    live.push(i - offset);
  }
  return { vectors: { data, rows, cols: dims }, include: ItemFilter.fromItems(live, rows) };
}

/** Two best-first lists (the second numbered from `offset`) merged: score, then index. */
function merge(a: TopK, b: TopK, offset: number, k: number): TopK {
  const n = Math.min(k, a.indices.length + b.indices.length);
  const indices = new Int32Array(n);
  const scores = new Float32Array(n);
  let i = 0;
  let j = 0;
  for (let r = 0; r < n; r++) {
    const takeA =
      j >= b.indices.length ||
      (i < a.indices.length &&
        (a.scores[i]! > b.scores[j]! ||
          (a.scores[i] === b.scores[j] && a.indices[i]! < b.indices[j]! + offset)));
    if (takeA) {
      indices[r] = a.indices[i]!;
      scores[r] = a.scores[i++]!;
    } else {
      indices[r] = b.indices[j]! + offset;
      scores[r] = b.scores[j++]!;
    }
  }
  return { indices, scores };
}
