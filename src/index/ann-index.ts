/**
 * Top-k by inner product over item vectors: the one interface serving asks for candidates,
 * with two implementations: `HnswIndex` (hnswlib graph, approximate, for large catalogues) and
 * `ExactIndex` (brute force over a flat Float32Array: the ground truth, and the choice for small
 * catalogues; see `build-ann-index.ts` for the threshold).
 *
 * Items are dense indices `0 .. n - 1` in the model version's item space (the model's id map
 * translates them to `itemId`s). New items are appended with new indices (`add`), delisted ones
 * removed (`remove`), without a rebuild.
 */
import type { TopK } from '../../models/top-k.ts';
import type { ItemFilter } from './item-filter.ts';

/** Parallel arrays ordered by score descending, then item index ascending. */
export type AnnResult = TopK;

export interface AnnIndex {
  readonly kind: 'hnsw' | 'exact';
  /** Vector length. */
  readonly dims: number;
  /** Items that a search can return (added and not removed). */
  readonly size: number;
  /** One past the largest item index ever added: the item space the index knows. */
  readonly itemSpace: number;

  /**
   * The best `k` live items for `query` by inner product, restricted to `filter` when given.
   * Synchronous: it blocks the event loop for the length of the search (about a millisecond
   * at 1M items; see benchmarks/serving-index.ts).
   */
  search(query: Float32Array, k: number, filter?: ItemFilter): AnnResult;
  /** Whether `itemIndex` is live. */
  has(itemIndex: number): boolean;
  /** The stored vector of a live item (a view, not a copy), or null. */
  vector(itemIndex: number): Float32Array | null;
  /** Inserts `itemIndex`, or replaces its vector (and revives it if it was removed). */
  add(itemIndex: number, vector: Float32Array): void;
  /** Makes `itemIndex` unsearchable; false when it was not live. */
  remove(itemIndex: number): boolean;
  /**
   * Writes the index: its data at `path` (`ExactIndex`: the raw float32 rows; `HnswIndex`:
   * the first norm stratum's hnswlib graph, the others at `path.1`, `path.2`, …) and
   * `path + '.json'` (kind, item space, live items, strata). Resolves to the files written.
   */
  save(path: string): Promise<string[]>;
}
