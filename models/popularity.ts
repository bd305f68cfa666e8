import type { Recommender } from './recommender.ts';
import type { Csr } from './sparse.ts';

/**
 * Non-personalized baseline: every user gets the same scores, the number of distinct users
 * with a non-zero entry for the item in the train matrix (buyers, raters). Ties fall to the
 * lower item index through top-k's rule.
 */
export class PopularityModel implements Recommender {
  readonly name = 'popularity';
  /** Distinct users per item; empty until `fit`. */
  counts: Float32Array = new Float32Array(0);

  async fit(train: Csr): Promise<void> {
    const counts = new Float32Array(train.cols);
    for (let p = 0; p < train.indices.length; p++) if (train.values[p] !== 0) counts[train.indices[p]!]!++;
    this.counts = counts;
  }

  scoreInto(_userIndex: number, _items: Int32Array, _weights: Float32Array, out: Float32Array): void {
    if (out.length !== this.counts.length) {
      throw new RangeError(`out has length ${out.length}, expected ${this.counts.length}`);
    }
    out.set(this.counts);
  }
}
