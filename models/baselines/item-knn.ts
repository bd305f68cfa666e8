import type { Recommender } from '../recommender.ts';
import type { Csr } from '../sparse.ts';
import { transpose } from '../sparse.ts';

/**
 * Item-based nearest neighbours, the protocol's baseline (/work/shared/EVALUATION.md): cosine
 * similarity between the item columns of the binary user × item matrix,
 * `s(i, j) = |users(i) ∩ users(j)| / √(|users(i)| · |users(j)|)`, and a user's score for j is
 * the sum of s(i, j) over the items i in the user's row (weights ignored: the matrix is
 * binary). No neighbourhood cut-off, so the similarity matrix is dense (`cols²` floats) and
 * its diagonal is zero.
 */
export class ItemKnnModel implements Recommender {
  readonly name = 'item-knn';
  /** Item × item cosine similarities, row-major; empty until `fit`. */
  similarity: Float32Array = new Float32Array(0);
  private cols = 0;

  async fit(train: Csr): Promise<void> {
    const n = train.cols;
    const byItem = transpose(train);
    // Co-occurrence counts from each user's item pairs (upper triangle, then mirrored).
    const co = new Float32Array(n * n);
    const norm = new Float64Array(n);
    for (let r = 0; r < train.rows; r++) {
      const start = train.indptr[r]!;
      const end = train.indptr[r + 1]!;
      for (let p = start; p < end; p++) {
        if (train.values[p] === 0) continue;
        const row = train.indices[p]! * n;
        for (let q = p + 1; q < end; q++) if (train.values[q] !== 0) co[row + train.indices[q]!]!++;
      }
    }
    for (let i = 0; i < n; i++) {
      let c = 0;
      for (let p = byItem.indptr[i]!; p < byItem.indptr[i + 1]!; p++) if (byItem.values[p] !== 0) c++;
      norm[i] = c > 0 ? 1 / Math.sqrt(c) : 0;
    }
    for (let i = 0; i < n; i++) {
      const ni = norm[i]!;
      co[i * n + i] = 0;
      for (let j = i + 1; j < n; j++) {
        const s = co[i * n + j]! * ni * norm[j]!;
        co[i * n + j] = s;
        co[j * n + i] = s;
      }
    }
    this.similarity = co;
    this.cols = n;
  }

  scoreInto(_userIndex: number, items: Int32Array, weights: Float32Array, out: Float32Array): void {
    const n = this.cols;
    if (out.length !== n) throw new RangeError(`out has length ${out.length}, expected ${n}`);
    out.fill(0);
    const s = this.similarity;
    for (let p = 0; p < items.length; p++) {
      const i = items[p]!;
      if (i < 0 || i >= n || weights[p] === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) out[j]! += s[row + j]!;
    }
  }
}
