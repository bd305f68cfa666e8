import type { Recommender } from '../recommender.ts';
import type { Csr } from '../sparse.ts';

export interface Rp3betaOptions {
  /** Exponent on both transition probabilities (α = 1 is plain P³). @defaultValue 1 */
  alpha?: number;
  /** Popularity penalty: column j is divided by deg(j)^β. @defaultValue 0.5 */
  beta?: number;
}

/**
 * RP3beta (Paudel et al. 2017, "Updatable, accurate, diverse, and scalable recommendations for
 * interactive applications"): a three-step random walk item → user → item on the binary
 * user × item graph, `W[i][j] = Σ_u (1/deg(i))^α (1/deg(u))^α / deg(j)^β`, with a zero
 * diagonal and no neighbourhood cut-off (dense `cols²`). A user's score for j is the sum of
 * W[i][j] over their items i (weights ignored: the graph is binary).
 */
export class Rp3betaModel implements Recommender {
  readonly name = 'rp3beta';
  readonly alpha: number;
  readonly beta: number;
  /** Item × item walk weights, row-major; empty until `fit`. */
  weights: Float32Array = new Float32Array(0);
  private cols = 0;

  constructor(options: Rp3betaOptions = {}) {
    this.alpha = options.alpha ?? 1;
    this.beta = options.beta ?? 0.5;
    if (!(this.alpha > 0)) throw new RangeError(`alpha must be > 0, got ${this.alpha}`);
    if (!(this.beta >= 0)) throw new RangeError(`beta must be >= 0, got ${this.beta}`);
  }

  async fit(train: Csr): Promise<void> {
    const n = train.cols;
    const itemDegree = new Float64Array(n);
    for (let p = 0; p < train.indices.length; p++)
      if (train.values[p] !== 0) itemDegree[train.indices[p]!]!++;
    const itemStep = new Float64Array(n);
    for (let i = 0; i < n; i++) itemStep[i] = itemDegree[i]! > 0 ? Math.pow(itemDegree[i]!, -this.alpha) : 0;
    const w = new Float64Array(n * n);
    const own: number[] = [];
    for (let r = 0; r < train.rows; r++) {
      own.length = 0;
      for (let p = train.indptr[r]!; p < train.indptr[r + 1]!; p++)
        if (train.values[p] !== 0) own.push(train.indices[p]!);
      if (own.length === 0) continue;
      const userStep = Math.pow(own.length, -this.alpha);
      for (const i of own) {
        const row = i * n;
        const step = itemStep[i]! * userStep;
        for (const j of own) w[row + j]! += step;
      }
    }
    const out = new Float32Array(n * n);
    const penalty = new Float64Array(n);
    for (let j = 0; j < n; j++) penalty[j] = itemDegree[j]! > 0 ? Math.pow(itemDegree[j]!, -this.beta) : 0;
    for (let i = 0; i < n; i++) {
      const row = i * n;
      for (let j = 0; j < n; j++) out[row + j] = i === j ? 0 : w[row + j]! * penalty[j]!;
    }
    this.weights = out;
    this.cols = n;
  }

  scoreInto(_userIndex: number, items: Int32Array, weights: Float32Array, out: Float32Array): void {
    const n = this.cols;
    if (out.length !== n) throw new RangeError(`out has length ${out.length}, expected ${n}`);
    out.fill(0);
    const w = this.weights;
    for (let p = 0; p < items.length; p++) {
      const i = items[p]!;
      if (i < 0 || i >= n || weights[p] === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) out[j]! += w[row + j]!;
    }
  }
}
