/**
 * Ridge regression by conjugate gradients for the content encoder: (XᵀX + λI) W = Xᵀ(Y − b),
 * b the mean target, one independent CG per target column run side by side (each with its own
 * step sizes, all preconditioned by the same diagonal), from W = 0, until every column's
 * relative residual is below the tolerance.
 *
 * The columns never mix: a column's every value is computed by the same operations in the same
 * order whichever other columns run beside it, and a converged column stays frozen (its step is
 * 0) while the others go on. So the target columns are split into groups solved on worker
 * threads, and the weights are bit-identical to solving all columns together.
 */
import type { Csr } from './sparse.ts';
import { transpose } from './sparse.ts';
import { SpmmPair } from './spmm-simd.ts';
import { startWorkerOn } from './ts-worker.ts';

export interface RidgeOptions {
  l2: number;
  tolerance: number;
  maxIterations: number;
  /**
   * Column groups solved at once (the calling thread solves one, a worker thread each other).
   * @defaultValue 2
   */
  workers?: number;
  /**
   * Every group on a worker thread, none on the calling thread, which goes on with other work
   * meanwhile (the train job scores a fit beside its encoder's solve). @defaultValue false
   */
  offThread?: boolean;
  /**
   * Below this much work per iteration (stored features × target columns) everything runs on
   * the calling thread: starting a worker (≈ 0.5 s) would cost more. @defaultValue 4_000_000
   */
  parallelMinWork?: number;
}

export interface RidgeColumnsResult {
  /** cols × g, row-major. */
  w: Float64Array;
  iterations: number;
  /** The largest relative residual over the columns when the iterations stopped. */
  residual: number;
}

/** What a ridge worker receives (ridge-worker.ts). */
export interface RidgeTask {
  x: Csr;
  /** Solve with the JS products only (tests compare both). @defaultValue false */
  noSimd?: boolean;
  centred: Float64Array;
  g: number;
  options: Pick<RidgeOptions, 'l2' | 'tolerance' | 'maxIterations'>;
}

/**
 * Solves for all `f` target columns; `targets` is rows × f (row-major). Returns the weights
 * (cols × f, float32), the bias (the mean targets), the iterations of the slowest column and
 * the largest residual.
 */
export async function ridgeByColumns(
  x: Csr,
  targets: Float32Array,
  f: number,
  o: RidgeOptions,
): Promise<{ w: Float32Array; mean: Float64Array; iterations: number; residual: number }> {
  const n = x.rows;
  const p = x.cols;
  const mean = columnMeans(targets, n, f);
  const work = x.indices.length * f;
  const groups = work >= (o.parallelMinWork ?? 4_000_000) ? Math.max(1, Math.min(o.workers ?? 2, f)) : 1;
  // Columns [bounds[g], bounds[g + 1]) form group g.
  const bounds = Array.from({ length: groups + 1 }, (_, g) => Math.round((g * f) / groups));
  const tasks = bounds.slice(0, -1).map((j0, g): RidgeTask => {
    const width = bounds[g + 1]! - j0;
    const centred = new Float64Array(n * width);
    for (let r = 0; r < n; r++)
      for (let j = 0; j < width; j++) centred[r * width + j] = targets[r * f + j0 + j]! - mean[j0 + j]!;
    return {
      x,
      centred,
      g: width,
      options: { l2: o.l2, tolerance: o.tolerance, maxIterations: o.maxIterations },
    };
  });
  const results = await solveGroups(tasks, o.offThread ?? false);
  const w = new Float32Array(p * f);
  let iterations = 0;
  let residual = 0;
  results.forEach((r, g) => {
    const j0 = bounds[g]!;
    const width = bounds[g + 1]! - j0;
    for (let c = 0; c < p; c++) for (let j = 0; j < width; j++) w[c * f + j0 + j] = r.w[c * width + j]!;
    iterations = Math.max(iterations, r.iterations);
    residual = Math.max(residual, r.residual);
  });
  return { w, mean, iterations, residual };
}

/**
 * Solves each group on a worker thread of its own, side by side, the first on this thread
 * unless `offThread`.
 */
async function solveGroups(tasks: RidgeTask[], offThread: boolean): Promise<RidgeColumnsResult[]> {
  const entry = new URL('./ridge-worker.ts', import.meta.url);
  const here = offThread ? null : tasks[0]!;
  // Each thread loads while this one solves.
  const started = tasks
    .slice(here ? 1 : 0)
    .map((task) => startWorkerOn<RidgeColumnsResult>(entry, task, 'ridge worker'));
  try {
    // Settled now, so that a failing worker is not an unhandled rejection while this thread solves.
    const settled = Promise.allSettled(started.map((w) => w.reply));
    const first = here ? [ridgeColumns(here)] : [];
    const rest = await settled;
    return [...first, ...rest.map((r) => (r.status === 'fulfilled' ? r.value : raise(r.reason)))];
  } finally {
    await Promise.all(started.map((w) => w.worker.terminate()));
  }
}

const raise = (reason: unknown): never => {
  throw reason instanceof Error ? reason : new Error(String(reason));
};

/** Per-column mean of a rows × f matrix. */
export function columnMeans(y: Float32Array, rows: number, f: number): Float64Array {
  const mean = new Float64Array(f);
  for (let r = 0; r < rows; r++) for (let j = 0; j < f; j++) mean[j]! += y[r * f + j]!;
  for (let j = 0; j < f; j++) mean[j]! /= rows;
  return mean;
}

/**
 * out (rows × f) = X v in float32, v is cols × f: each value summed from 0 over the row's
 * entries in stored order, `acc + a·v` rounded to float32 at each step — what the SIMD kernel
 * computes (a float32 product of two float32 values is exact in float64, and rounding a float64
 * sum of two float32 values to float32 is the float32 sum).
 */
function sparseTimesDenseInto(x: Csr, v: Float32Array, f: number, out: Float32Array): void {
  out.fill(0);
  for (let r = 0; r < x.rows; r++) {
    const o = r * f;
    for (let p = x.indptr[r]!; p < x.indptr[r + 1]!; p++) {
      const a = x.values[p]!;
      const row = x.indices[p]! * f;
      for (let j = 0; j < f; j++) out[o + j]! += Math.fround(a * v[row + j]!);
    }
  }
}

/** out (cols × f) = Xᵀ t, t is rows × f; float64 or float32 (as {@link sparseTimesDenseInto}). */
function sparseTransposeTimesDenseInto<T extends Float64Array | Float32Array>(
  x: Csr,
  t: T,
  f: number,
  out: T,
): void {
  const round = out instanceof Float32Array ? Math.fround : (v: number) => v;
  out.fill(0);
  for (let r = 0; r < x.rows; r++) {
    const o = r * f;
    for (let p = x.indptr[r]!; p < x.indptr[r + 1]!; p++) {
      const a = x.values[p]!;
      const row = x.indices[p]! * f;
      for (let j = 0; j < f; j++) out[row + j]! += round(a * t[o + j]!);
    }
  }
}

/**
 * 1 / the diagonal of XᵀX + λI: the Jacobi preconditioner. A feature's column weighs as much as
 * the items holding it, from a few to thousands; scaled by it, the CG's steps move rare and
 * common features alike (on the demo store's 16k columns: 36 iterations to 1e-2 instead of 65,
 * 85 to 1e-3 instead of 100, the content vectors as far from the exact solution).
 */
function jacobi(x: Csr, l2: number): Float64Array {
  const d = new Float64Array(x.cols).fill(l2);
  for (let k = 0; k < x.indices.length; k++) d[x.indices[k]!]! += x.values[k]! ** 2;
  for (let c = 0; c < x.cols; c++) d[c] = 1 / d[c]!;
  return d;
}

/**
 * The preconditioned CG of `task.g` target columns side by side (`centred` = Y − b, rows × g);
 * each column stops when its residual ‖r‖ / ‖b‖ is below the tolerance.
 */
export function ridgeColumns(task: RidgeTask): RidgeColumnsResult {
  const { x, centred, g: f, options: o } = task;
  if (x.indptr[0] !== 0 || x.indptr[x.rows] !== x.indices.length)
    throw new RangeError('x must be a CSR whose rows cover its entries from 0');
  const p = x.cols;
  const w = new Float64Array(p * f);
  const res = new Float64Array(p * f);
  sparseTransposeTimesDenseInto(x, centred, f, res); // r = b − A·0
  // X dir and Xᵀ t in float32, in WebAssembly SIMD when it can (the same values), else in JS:
  // twice the lanes and half the bytes of float64, for ~18% more iterations to the same
  // tolerance (the products' rounding; measured before the preconditioner, with plain CG);
  // the CG's own vectors and sums stay float64.
  const simd = task.noSimd ? null : SpmmPair.create(x, transpose(x), f);
  const dir32 = simd ? simd.dir : new Float32Array(p * f);
  const t32 = simd ? simd.t : new Float32Array(x.rows * f);
  const q32 = simd ? simd.q : new Float32Array(p * f);
  const inv = jacobi(x, o.l2);
  const dir = new Float64Array(p * f);
  const q = new Float64Array(p * f);
  const rr = new Float64Array(f); // r·r, for the stopping test
  const rz = new Float64Array(f); // r·M⁻¹r, for the steps
  const bb = new Float64Array(f);
  const pq = new Float64Array(f);
  const alpha = new Float64Array(f);
  const done = new Uint8Array(f);
  for (let c = 0; c < p; c++)
    for (let j = 0; j < f; j++) {
      const r = res[c * f + j]!;
      dir[c * f + j] = inv[c]! * r;
      rr[j]! += r * r;
      rz[j]! += r * r * inv[c]!;
    }
  bb.set(rr);
  let iterations = 0;
  let worst = 0;
  const converged = () => {
    worst = 0;
    let all = true;
    for (let j = 0; j < f; j++) {
      const rel = bb[j]! > 0 ? Math.sqrt(rr[j]! / bb[j]!) : 0;
      worst = Math.max(worst, rel);
      if (rel <= o.tolerance) done[j] = 1;
      else all = false;
    }
    return all;
  };
  while (!converged() && iterations < o.maxIterations) {
    iterations++;
    dir32.set(dir);
    if (simd) {
      simd.forward();
      simd.backward();
    } else {
      sparseTimesDenseInto(x, dir32, f, t32);
      sparseTransposeTimesDenseInto(x, t32, f, q32);
    }
    pq.fill(0);
    for (let c = 0; c < p; c++) {
      const row = c * f;
      for (let j = 0; j < f; j++) {
        q[row + j] = q32[row + j]! + o.l2 * dir[row + j]!;
        pq[j]! += dir[row + j]! * q[row + j]!;
      }
    }
    for (let j = 0; j < f; j++) alpha[j] = done[j] || !(pq[j]! > 0) ? 0 : rz[j]! / pq[j]!;
    const rzOld = rz.slice();
    rr.fill(0);
    rz.fill(0);
    for (let c = 0; c < p; c++) {
      const row = c * f;
      const m = inv[c]!;
      for (let j = 0; j < f; j++) {
        w[row + j]! += alpha[j]! * dir[row + j]!;
        const r = (res[row + j]! -= alpha[j]! * q[row + j]!);
        rr[j]! += r * r;
        rz[j]! += r * r * m;
      }
    }
    for (let c = 0; c < p; c++) {
      const row = c * f;
      const m = inv[c]!;
      for (let j = 0; j < f; j++) {
        const beta = rzOld[j]! > 0 ? rz[j]! / rzOld[j]! : 0;
        dir[row + j] = m * res[row + j]! + beta * dir[row + j]!;
      }
    }
  }
  return { w, iterations, residual: worst };
}
