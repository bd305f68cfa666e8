/**
 * The item vectors serving searches. A version's index holds the content vectors of the
 * catalogue's items its fit never saw when it was published; at load, before anything is
 * served, it gains those of items added since (one index, one search). While served it is never
 * written: items added later get their content vector in a small index beside it, searched with
 * it and merged.
 *
 * The later items' index numbers an item `i` as `i − offset`, `offset` being the catalogue's
 * size at load rounded down to a whole bitset word, so a request's filter is handed to it as a
 * view of the filter's words from `offset` on (no copy, no per-item work). An item delisted
 * while served has no vector until it is listed again.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { TopK } from '../../models/top-k.ts';
import type { AnnIndex } from '../index/ann-index.ts';
import { ExactIndex } from '../index/exact-index.ts';
import { ItemFilter } from '../index/item-filter.ts';
import type { Item } from '../store/types.ts';
import type { Catalog } from './catalog.ts';
import type { ServingModel } from './serving-model.ts';

/** How long loading a version holds the event loop at a time, ms. */
export const DEFAULT_SLICE_MS = 5;

export class CatalogVectors {
  /** Items delisted since load. */
  private readonly removed = new Set<number>();
  /** Items in the main index: the catalogue at load. */
  private readonly loaded: number;
  private readonly offset: number;
  /** Content vectors of items added while served (null without encoder or index). */
  private readonly later: AnnIndex | null;

  /** Vectors of `model` over `catalog`; `addUnseen` before serving. */
  constructor(
    private readonly model: ServingModel,
    private readonly catalog: Catalog,
  ) {
    const index = model.index;
    const encoder = model.encoder;
    this.loaded = catalog.size;
    this.offset = catalog.size & ~31;
    this.later = index && encoder ? ExactIndex.empty(index.dims) : null;
  }

  /**
   * Adds the content vectors of the catalogue's items the version does not hold (newer than it:
   * it holds those it was published with) to its index, before it is served. Should they be
   * many, that is many graph insertions (seconds): done in slices of `sliceMs`, each followed by
   * a turn of the event loop, so the version being replaced keeps answering meanwhile.
   */
  async addUnseen(sliceMs = DEFAULT_SLICE_MS): Promise<void> {
    const { index, encoder } = this.model;
    if (!index || !encoder) return;
    let sliceEnd = performance.now() + sliceMs;
    for (let i = this.model.itemIds.length + this.model.contentItemIds.length; i < this.loaded; i++) {
      const item = this.catalog.item(i);
      if (item) index.add(i, this.contentVector(item));
      if (performance.now() >= sliceEnd) {
        await yieldToEventLoop();
        sliceEnd = performance.now() + sliceMs;
      }
    }
  }

  private contentVector(item: Item): Float32Array {
    const v = new Float32Array(this.model.encoder!.factors);
    this.model.encoder!.encodeInto([item], v);
    return v;
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
    const item = this.catalog.item(index);
    if (item?.status === 'delisted') {
      this.removed.add(index);
      return;
    }
    this.removed.delete(index);
    const later = this.later;
    if (!later || !item || index < this.loaded || later.has(index - this.offset)) return;
    later.add(index - this.offset, this.contentVector(item));
  }

  /** The item's vector (a view), or null. */
  vector(index: number): Float32Array | null {
    if (this.removed.size && this.removed.has(index)) return null;
    if (index < this.loaded) return this.model.index?.vector(index) ?? null;
    return this.later?.vector(index - this.offset) ?? null;
  }

  /** The best `k` allowed items for `query`: the main index and the later items', merged. */
  search(query: Float32Array, k: number, filter: ItemFilter): TopK {
    // Delisted items are never allowed (filters.ts), so `removed` needs no check here.
    const found = this.model.index!.search(query, k, filter);
    const later = this.later;
    const from = this.offset >>> 5;
    if (!later || later.size === 0 || filter.words.length <= from) return found;
    const more = later.search(query, k, ItemFilter.fromWords(filter.words.subarray(from)));
    if (more.indices.length === 0) return found;
    return merge(found, more, this.offset, k);
  }
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
