import type { Recommender } from './recommender.ts';
import type { NeighbourLists } from './item-neighbours.ts';
import type { Csr } from './sparse.ts';
import { topK } from './top-k.ts';

export interface EaseOptions {
  /**
   * L2 weight added to the Gram matrix's diagonal. Larger values shrink item-item weights
   * towards zero; tune it on a validation split.
   * @defaultValue 500
   */
  lambda?: number;
}

/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a closed-form
 * item × item linear model `B = I − P · diag(1/diag(P))`, `P = (XᵀX + λI)⁻¹`, with a zero
 * diagonal. A user's scores are `x · B`, the weighted sum of the rows of B for the items they
 * interacted with. Fitting costs one dense `n³` inverse over the items (a few seconds for
 * 3.6k items); scoring is a sparse row times a dense matrix.
 */
export class EaseModel implements Recommender {
  readonly name = 'ease';
  readonly lambda: number;
  /** Item × item weights, row-major (`cols × cols`); empty until `fit`. */
  weights: Float32Array = new Float32Array(0);
  private cols = 0;

  constructor(options: EaseOptions = {}) {
    this.lambda = options.lambda ?? 500;
    if (!(this.lambda > 0)) throw new RangeError(`lambda must be > 0, got ${this.lambda}`);
  }

  async fit(train: Csr): Promise<void> {
    const n = train.cols;
    const gram = gramMatrix(train);
    for (let i = 0; i < n; i++) gram[i * n + i]! += this.lambda;
    invertSpdInPlace(gram, n);
    const weights = new Float32Array(n * n);
    for (let j = 0; j < n; j++) {
      // B[i][j] = −P[i][j] / P[j][j]; P is symmetric so read row j instead of column j.
      const inv = 1 / gram[j * n + j]!;
      const row = j * n;
      for (let i = 0; i < n; i++) weights[i * n + j] = -gram[row + i]! * inv;
      weights[j * n + j] = 0;
    }
    this.weights = weights;
    this.cols = n;
  }

  scoreInto(_userIndex: number, items: Int32Array, weights: Float32Array, out: Float32Array): void {
    const n = this.cols;
    if (out.length !== n) throw new RangeError(`out has length ${out.length}, expected ${n}`);
    out.fill(0);
    const b = this.weights;
    for (let p = 0; p < items.length; p++) {
      const i = items[p]!;
      if (i < 0 || i >= n) continue;
      const w = weights[p]!;
      const row = i * n;
      for (let j = 0; j < n; j++) out[j]! += w * b[row + j]!;
    }
  }
}

/** Dense `XᵀX` (cols × cols, Float64, row-major, both triangles) of a sparse matrix. */
export function gramMatrix(x: Csr): Float64Array {
  const n = x.cols;
  const g = new Float64Array(n * n);
  for (let r = 0; r < x.rows; r++) {
    const start = x.indptr[r]!;
    const end = x.indptr[r + 1]!;
    for (let p = start; p < end; p++) {
      const i = x.indices[p]!;
      const v = x.values[p]!;
      const row = i * n;
      // Columns are ascending within a row, so q ≥ p fills the upper triangle (j ≥ i).
      for (let q = p; q < end; q++) g[row + x.indices[q]!]! += v * x.values[q]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) g[j * n + i] = g[i * n + j]!;
  return g;
}

/**
 * Replaces a symmetric positive definite matrix (row-major, `n × n`) with its inverse:
 * blocked Cholesky `A = LLᵀ`, then `Y = L⁻ᵀ`, then `A⁻¹ = YYᵀ`. Every inner loop is a dot
 * product over contiguous memory, register-blocked 4 × 4, which is what makes plain
 * JavaScript reach a few GFLOP/s. Throws `RangeError` if the matrix is not positive definite.
 */
export function invertSpdInPlace(a: Float64Array, n: number): void {
  if (a.length !== n * n) throw new RangeError(`matrix has ${a.length} entries, expected ${n}×${n}`);
  if (n === 0) return;
  // The kernels work on 4 × 4 tiles: pad with an identity block, whose inverse is itself.
  const m = Math.ceil(n / 4) * 4;
  let w = a;
  if (m !== n) {
    w = new Float64Array(m * m);
    for (let i = 0; i < n; i++) w.set(a.subarray(i * n, (i + 1) * n), i * m);
    for (let i = n; i < m; i++) w[i * m + i] = 1;
  }
  choleskyLowerInPlace(w, m);
  const y = new Float64Array(m * m);
  inverseTransposeLowerInto(w, m, y);
  gramOfRowsInto(y, m, w);
  if (m !== n) for (let i = 0; i < n; i++) a.set(w.subarray(i * m, i * m + n), i * n);
}

const BLOCK = 64;

/** Lower Cholesky factor into the lower triangle (incl. diagonal); the upper is left as is. */
function choleskyLowerInPlace(a: Float64Array, n: number): void {
  for (let k0 = 0; k0 < n; k0 += BLOCK) {
    const k1 = Math.min(n, k0 + BLOCK);
    // Diagonal block and the panel below it (left-looking within the block).
    for (let j = k0; j < k1; j++) {
      const rj = j * n;
      let d = a[rj + j]!;
      for (let k = k0; k < j; k++) d -= a[rj + k]! * a[rj + k]!;
      if (!(d > 0)) throw new RangeError(`matrix is not positive definite (pivot ${j})`);
      const ljj = Math.sqrt(d);
      a[rj + j] = ljj;
      const inv = 1 / ljj;
      for (let i = j + 1; i < n; i++) {
        const ri = i * n;
        let s = a[ri + j]!;
        for (let k = k0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
        a[ri + j] = s * inv;
      }
    }
    // Trailing update of the lower triangle: A22 −= L21 L21ᵀ, dots over k ∈ [k0, k1).
    for (let i = k1; i < n; i += 4) {
      const r0 = i * n;
      const r1 = r0 + n;
      const r2 = r1 + n;
      const r3 = r2 + n;
      for (let j = k1; j <= i; j += 4) {
        const c0 = j * n;
        const c1 = c0 + n;
        const c2 = c1 + n;
        const c3 = c2 + n;
        let s00 = 0,
          s01 = 0,
          s02 = 0,
          s03 = 0;
        let s10 = 0,
          s11 = 0,
          s12 = 0,
          s13 = 0;
        let s20 = 0,
          s21 = 0,
          s22 = 0,
          s23 = 0;
        let s30 = 0,
          s31 = 0,
          s32 = 0,
          s33 = 0;
        for (let k = k0; k < k1; k++) {
          const a0 = a[r0 + k]!;
          const a1 = a[r1 + k]!;
          const a2 = a[r2 + k]!;
          const a3 = a[r3 + k]!;
          const b0 = a[c0 + k]!;
          const b1 = a[c1 + k]!;
          const b2 = a[c2 + k]!;
          const b3 = a[c3 + k]!;
          s00 += a0 * b0;
          s01 += a0 * b1;
          s02 += a0 * b2;
          s03 += a0 * b3;
          s10 += a1 * b0;
          s11 += a1 * b1;
          s12 += a1 * b2;
          s13 += a1 * b3;
          s20 += a2 * b0;
          s21 += a2 * b1;
          s22 += a2 * b2;
          s23 += a2 * b3;
          s30 += a3 * b0;
          s31 += a3 * b1;
          s32 += a3 * b2;
          s33 += a3 * b3;
        }
        // On the diagonal tile (j === i) only the lower entries are part of L.
        const diag = j === i;
        a[r0 + j]! -= s00;
        a[r1 + j]! -= s10;
        a[r2 + j]! -= s20;
        a[r3 + j]! -= s30;
        a[r1 + j + 1]! -= s11;
        a[r2 + j + 1]! -= s21;
        a[r3 + j + 1]! -= s31;
        a[r2 + j + 2]! -= s22;
        a[r3 + j + 2]! -= s32;
        a[r3 + j + 3]! -= s33;
        if (!diag) {
          a[r0 + j + 1]! -= s01;
          a[r0 + j + 2]! -= s02;
          a[r0 + j + 3]! -= s03;
          a[r1 + j + 2]! -= s12;
          a[r1 + j + 3]! -= s13;
          a[r2 + j + 3]! -= s23;
        }
      }
    }
  }
}

/**
 * `y = L⁻ᵀ` (upper triangular, zeros below) from the lower factor in `l`. Row i of `L⁻¹` is
 * column i of y, so `y[j][i] = −(Σ_{j≤k<i} L[i][k]·y[j][k]) / L[i][i]`: a dot of row i of L
 * with row j of y. Block rows of L are done at once for the part already known (k below the
 * block), then finished one i at a time inside the block.
 */
function inverseTransposeLowerInto(l: Float64Array, n: number, y: Float64Array): void {
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    // Partial sums over k < i0 for j < i0 (y rows j are complete up to column i0).
    for (let i = i0; i < i1; i += 4) {
      const r0 = i * n;
      const r1 = r0 + n;
      const r2 = r1 + n;
      const r3 = r2 + n;
      for (let j = 0; j < i0; j += 4) {
        const c0 = j * n;
        const c1 = c0 + n;
        const c2 = c1 + n;
        const c3 = c2 + n;
        let s00 = 0,
          s01 = 0,
          s02 = 0,
          s03 = 0;
        let s10 = 0,
          s11 = 0,
          s12 = 0,
          s13 = 0;
        let s20 = 0,
          s21 = 0,
          s22 = 0,
          s23 = 0;
        let s30 = 0,
          s31 = 0,
          s32 = 0,
          s33 = 0;
        // y[j][k] = 0 for k < j, so starting at the tile's first row is exact.
        for (let k = j; k < i0; k++) {
          const a0 = l[r0 + k]!;
          const a1 = l[r1 + k]!;
          const a2 = l[r2 + k]!;
          const a3 = l[r3 + k]!;
          const b0 = y[c0 + k]!;
          const b1 = y[c1 + k]!;
          const b2 = y[c2 + k]!;
          const b3 = y[c3 + k]!;
          s00 += a0 * b0;
          s01 += a0 * b1;
          s02 += a0 * b2;
          s03 += a0 * b3;
          s10 += a1 * b0;
          s11 += a1 * b1;
          s12 += a1 * b2;
          s13 += a1 * b3;
          s20 += a2 * b0;
          s21 += a2 * b1;
          s22 += a2 * b2;
          s23 += a2 * b3;
          s30 += a3 * b0;
          s31 += a3 * b1;
          s32 += a3 * b2;
          s33 += a3 * b3;
        }
        // Store the partial sums in y[j][i] (still unknown there); finished below.
        y[c0 + i] = s00;
        y[c1 + i] = s01;
        y[c2 + i] = s02;
        y[c3 + i] = s03;
        y[c0 + i + 1] = s10;
        y[c1 + i + 1] = s11;
        y[c2 + i + 1] = s12;
        y[c3 + i + 1] = s13;
        y[c0 + i + 2] = s20;
        y[c1 + i + 2] = s21;
        y[c2 + i + 2] = s22;
        y[c3 + i + 2] = s23;
        y[c0 + i + 3] = s30;
        y[c1 + i + 3] = s31;
        y[c2 + i + 3] = s32;
        y[c3 + i + 3] = s33;
      }
    }
    // Finish inside the block: add k ∈ [max(j, i0), i) and divide.
    for (let i = i0; i < i1; i++) {
      const ri = i * n;
      const inv = 1 / l[ri + i]!;
      for (let j = 0; j < i; j++) {
        const cj = j * n;
        let s = y[cj + i]!;
        for (let k = Math.max(j, i0); k < i; k++) s += l[ri + k]! * y[cj + k]!;
        y[cj + i] = -s * inv;
      }
      y[ri + i] = inv;
    }
  }
}

/** `out = y yᵀ` for upper-triangular y (row-major), written to both triangles. */
function gramOfRowsInto(y: Float64Array, n: number, out: Float64Array): void {
  for (let i = 0; i < n; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    for (let j = 0; j <= i; j += 4) {
      const c0 = j * n;
      const c1 = c0 + n;
      const c2 = c1 + n;
      const c3 = c2 + n;
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0;
      let s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0;
      let s20 = 0,
        s21 = 0,
        s22 = 0,
        s23 = 0;
      let s30 = 0,
        s31 = 0,
        s32 = 0,
        s33 = 0;
      // Row i of y is zero before column i, and i ≥ j.
      for (let k = i; k < n; k++) {
        const a0 = y[r0 + k]!;
        const a1 = y[r1 + k]!;
        const a2 = y[r2 + k]!;
        const a3 = y[r3 + k]!;
        const b0 = y[c0 + k]!;
        const b1 = y[c1 + k]!;
        const b2 = y[c2 + k]!;
        const b3 = y[c3 + k]!;
        s00 += a0 * b0;
        s01 += a0 * b1;
        s02 += a0 * b2;
        s03 += a0 * b3;
        s10 += a1 * b0;
        s11 += a1 * b1;
        s12 += a1 * b2;
        s13 += a1 * b3;
        s20 += a2 * b0;
        s21 += a2 * b1;
        s22 += a2 * b2;
        s23 += a2 * b3;
        s30 += a3 * b0;
        s31 += a3 * b1;
        s32 += a3 * b2;
        s33 += a3 * b3;
      }
      out[r0 + j] = s00;
      out[r0 + j + 1] = s01;
      out[r0 + j + 2] = s02;
      out[r0 + j + 3] = s03;
      out[r1 + j] = s10;
      out[r1 + j + 1] = s11;
      out[r1 + j + 2] = s12;
      out[r1 + j + 3] = s13;
      out[r2 + j] = s20;
      out[r2 + j + 1] = s21;
      out[r2 + j + 2] = s22;
      out[r2 + j + 3] = s23;
      out[r3 + j] = s30;
      out[r3 + j + 1] = s31;
      out[r3 + j + 2] = s32;
      out[r3 + j + 3] = s33;
    }
  }
  // Mirror the lower triangle (the diagonal tiles wrote both halves already).
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out[i * n + j] = out[j * n + i]!;
}

/**
 * The `k` largest positive weights of each row of a fitted EASE model, as neighbour lists:
 * serving scores a user's items by summing their rows, and the small or negative weights a row
 * drops change little of a top-20 (the rows are dominated by their largest entries).
 */
export function easeLists(model: EaseModel, k: number): NeighbourLists {
  const n = Math.round(Math.sqrt(model.weights.length));
  const width = Math.min(k, Math.max(0, n - 1));
  const out: NeighbourLists = {
    rows: n,
    k: width,
    indices: new Int32Array(n * width).fill(-1),
    scores: new Float32Array(n * width),
  };
  for (let j = 0; j < n; j++) {
    const top = topK(model.weights.subarray(j * n, (j + 1) * n), width);
    let kept = 0;
    for (let r = 0; r < top.indices.length; r++) {
      if (!(top.scores[r]! > 0)) break;
      out.indices[j * width + kept] = top.indices[r]!;
      out.scores[j * width + kept++] = top.scores[r]!;
    }
  }
  return out;
}
