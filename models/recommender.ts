import type { FactorTopK } from './factor-top-k.ts';
import type { Csr } from './sparse.ts';

/**
 * What every collaborative model offers to evaluation and serving: fit on a user × item
 * matrix, then score all items for a user given that user's row of interactions. The row is
 * passed explicitly so that a user unseen at fit time (fold-in) scores the same way.
 */
export interface Recommender {
  readonly name: string;
  fit(train: Csr): Promise<void>;
  /**
   * Writes a score for every item into `out` (length = train.cols). `userIndex` is the row
   * in the fitted matrix, or -1 for a user seen only through `items`/`weights`.
   */
  scoreInto(userIndex: number, items: Int32Array, weights: Float32Array, out: Float32Array): void;
  /**
   * Optional: the top `k` items of each fitted user row in `users`, leaving out row u's items
   * `exclude.indices[exclude.indptr[u] ..)`: the same lists as `scoreInto` then `topK` (score
   * descending, index ascending) user by user, computed in blocks.
   */
  recommendBatch?(users: Int32Array, k: number, exclude: Pick<Csr, 'indptr' | 'indices'>): FactorTopK;
}
