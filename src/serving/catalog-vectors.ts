/**
 * The item vectors serving searches: the model's index (read only) and, beside it, content
 * vectors for the items the model never saw, encoded when they appear (at load, or when an item
 * is added while the version is served). An item delisted while the version is served has no
 * vector until it is listed again.
 */
import type { TopK } from '../../models/top-k.ts';
import type { ItemFilter } from '../index/item-filter.ts';
import { VectorStore } from '../index/vector-store.ts';
import type { Catalog } from './catalog.ts';
import type { ServingModel } from './serving-model.ts';

export class CatalogVectors {
  /** Content vectors of catalogue items `base + j` at row `j` (null without encoder or index). */
  private readonly cold: VectorStore | null;
  private readonly base: number;
  /** Items delisted since load. */
  private readonly removed = new Set<number>();

  constructor(
    private readonly model: ServingModel,
    private readonly catalog: Catalog,
  ) {
    this.base = model.itemIds.length;
    this.cold = model.encoder && model.index ? new VectorStore(model.index.dims) : null;
    for (let i = this.base; i < catalog.size; i++) this.encode(i);
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
      if (index >= this.base) this.cold?.unset(index - this.base);
    } else {
      this.removed.delete(index);
      this.encode(index);
    }
  }

  /** Gives item `index` a content vector when the model never saw it and it has none yet. */
  private encode(index: number): void {
    const item = this.catalog.item(index);
    const cold = this.cold;
    if (!cold || !item || index < this.base || cold.isLive(index - this.base)) return;
    const v = new Float32Array(cold.dims);
    this.model.encoder!.encodeInto([item], v);
    cold.set(index - this.base, v);
  }

  /** The item's vector (a view), or null. */
  vector(index: number): Float32Array | null {
    if (this.removed.size && this.removed.has(index)) return null;
    if (index < this.base) return this.model.index?.vector(index) ?? null;
    const j = index - this.base;
    return this.cold?.isLive(j) ? this.cold.row(j) : null;
  }

  /** The best `k` allowed items for `query`: the model's index and the content vectors, merged. */
  search(query: Float32Array, k: number, filter: ItemFilter): TopK {
    const found = this.model.index!.search(query, k, filter);
    // Delisted items are never allowed (filters.ts), so `removed` needs no check here.
    const cold = this.cold;
    if (!cold || cold.size === 0) return found;
    const indices: number[] = [];
    const scores: number[] = [];
    for (let j = 0; j < cold.itemSpace; j++) {
      const i = this.base + j;
      if (cold.isLive(j) && filter.has(i)) {
        indices.push(i);
        scores.push(Math.fround(cold.dot(j, query))); // as the index scores: float32
      }
    }
    if (!indices.length) return found;
    for (let r = 0; r < found.indices.length; r++) {
      indices.push(found.indices[r]!);
      scores.push(found.scores[r]!);
    }
    // Model items come first in the item space: order the merged list by score, then index.
    const order = Array.from(indices.keys()).sort(
      (a, b) => scores[b]! - scores[a]! || indices[a]! - indices[b]!,
    );
    const top = order.slice(0, k);
    return {
      indices: Int32Array.from(top, (r) => indices[r]!),
      scores: Float32Array.from(top, (r) => scores[r]!),
    };
  }
}
