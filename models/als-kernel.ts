/**
 * The per-row work of implicit ALS (Hu, Koren, Volinsky 2008), shared by the in-process path
 * and the worker threads of {@link AlsModel}. Solving "side" `users` updates the user factors
 * X from the item factors Y; side `items` does the reverse on the transposed matrix.
 *
 * For a row u with entries (i, v): confidence cᵤᵢ = 1 + α|v|, preference pᵤᵢ = 1 if v > 0
 * else 0 (a negative value is a confident "no", as in the `implicit` library). The row's
 * factor solves
 *   (B + Σᵢ (cᵤᵢ − 1) yᵢ yᵢᵀ) x = Σᵢ cᵤᵢ pᵤᵢ yᵢ,   B = YᵀY + λI (shared by all rows).
 * Three solvers, picked per row by {@link AlsKernel.solveRange}:
 * - conjugate gradient (Takács et al. 2011, `implicit`'s `least_squares_cg`): a few CG steps
 *   warm-started from the previous factor, never forming the f × f matrix;
 * - Woodbury: exact, for short rows (k entries ≪ f). With Z = Y B⁻¹ precomputed once per
 *   half-step, x = Zᵤᵀ (t − S w) where G = Yᵤ Zᵤᵀ (k × k), S = diag(√(c − 1)), t = C p and
 *   (I + S G S) w = S G t — a k × k Cholesky instead of an f × f one;
 * - Cholesky: exact, forms the f × f matrix (the `solver: 'cholesky'` option, and fold-in).
 */
import { dotF32, dotF32F64, dotF64 } from './dot.ts';
import type { Csr } from './sparse.ts';
import { choleskyInPlace, choleskySolveInPlace, gramUpperAccumulate } from './linalg.ts';
import { cgChunkEntries, createAlsSimd } from './als-simd.ts';
import type { AlsSimd, WasmMemory } from './als-simd.ts';

export type AlsSide = 'users' | 'items';

/** Rows per Gram block: partial sums are added in block order, whatever the worker count. */
export const GRAM_BLOCK_ROWS = 16384;

/**
 * Everything the row solvers read or write. With `memory`, every array is a view on that
 * WebAssembly memory (shared when workers run) and the SIMD kernels are used; otherwise the
 * arrays are plain or SharedArrayBuffer-backed and the JS kernels run.
 */
export interface AlsBuffers {
  memory: WasmMemory | null;
  factors: number;
  alpha: number;
  regularization: number;
  cgSteps: number;
  /** users × items, and its transpose. */
  users: Csr;
  items: Csr;
  userFactors: Float32Array;
  itemFactors: Float32Array;
  /** One f × f upper-triangular partial YᵀY per block of {@link GRAM_BLOCK_ROWS} rows. */
  gramBlocks: Float64Array;
  /** B = YᵀY + λI for the side being solved (f × f, full). */
  system: Float64Array;
  /** B⁻¹ (f × f, full), when the side uses the Woodbury path. */
  systemInverse: Float64Array;
  /** Z = Y B⁻¹ (rows of Y × f), when the side uses the Woodbury path. */
  projected: Float32Array;
  /** float32 copies of `system` and `systemInverse` for the SIMD kernels (empty without). */
  systemF32: Float32Array;
  systemInverseF32: Float32Array;
  /** Per-thread scratch for the SIMD kernels: `scratchStride` floats per slot. */
  scratch: Float32Array;
  scratchStride: number;
  /** Next unclaimed row of the running solve phase; threads claim chunks with Atomics.add. */
  cursor: Int32Array;
  /** Per-thread buffers the SIMD CG copies a row's y rows into: `gatherRows` rows of f floats per slot. */
  gather: Float32Array;
  gatherRows: number;
}

/** Cap on one thread's gather buffer; longer rows are solved reading y in place. */
export const GATHER_MAX_BYTES = 64 * 2 ** 20;

/**
 * Floats of SIMD scratch one thread needs: the largest of the CG row's (x, r, p, Ap and a
 * chunk's coefficients), the Woodbury row's (k × k float64 M, then t, √c, g as float64 and
 * coefficients as float32: 8k² + 28k bytes) and the Gram chunk's (f × f).
 */
export function scratchFloats(f: number, woodburyMaxNnz: number): number {
  const k = woodburyMaxNnz;
  return roundUp4(Math.max(4 * f + cgChunkEntries(f), 2 * k * k + 7 * k, f * f));
}

/** Rows per SIMD Gram chunk: float32 sums over at most this many rows, then float64. */
const GRAM_CHUNK_ROWS = 256;

/** How a half-step solves its rows: Woodbury up to `woodburyMaxNnz` entries, then CG or Cholesky. */
export interface SolvePlan {
  woodburyMaxNnz: number;
  exact: boolean;
}

export class AlsKernel {
  private readonly f: number;
  private readonly x: Float64Array;
  private readonly r: Float64Array;
  private readonly p: Float64Array;
  private readonly ap: Float64Array;
  private readonly a: Float64Array;
  private wood: Float64Array;
  private woodT: Float64Array;
  private woodS: Float64Array;
  private woodGt: Float64Array;
  private readonly simd: AlsSimd | null;
  /** Byte offset of this thread's scratch slot, and a view on it. */
  private readonly scrByte: number;
  private readonly scr: Float32Array;
  private readonly gatherByte: number;

  constructor(
    private readonly buf: AlsBuffers,
    slot = 0,
  ) {
    const f = buf.factors;
    this.f = f;
    this.simd = buf.memory ? createAlsSimd(buf.memory, f) : null;
    this.scr = buf.scratch.subarray(slot * buf.scratchStride, (slot + 1) * buf.scratchStride);
    this.scrByte = this.scr.byteOffset;
    this.gatherByte = buf.gather.byteOffset + slot * buf.gatherRows * f * 4;
    this.x = new Float64Array(f);
    this.r = new Float64Array(f);
    this.p = new Float64Array(f);
    this.ap = new Float64Array(f);
    this.a = new Float64Array(f * f);
    this.wood = new Float64Array(0);
    this.woodT = new Float64Array(0);
    this.woodS = new Float64Array(0);
    this.woodGt = new Float64Array(0);
  }

  private matrix(side: AlsSide): Csr {
    return side === 'users' ? this.buf.users : this.buf.items;
  }

  private solved(side: AlsSide): Float32Array {
    return side === 'users' ? this.buf.userFactors : this.buf.itemFactors;
  }

  private other(side: AlsSide): Float32Array {
    return side === 'users' ? this.buf.itemFactors : this.buf.userFactors;
  }

  /** Number of rows of the fixed factors (Y) when solving `side`. */
  otherRows(side: AlsSide): number {
    return side === 'users' ? this.buf.items.rows : this.buf.users.rows;
  }

  /** Fills Gram blocks [blockStart, blockEnd) of the fixed factors Y. */
  gramRange(side: AlsSide, blockStart: number, blockEnd: number): void {
    const f = this.f;
    const y = this.other(side);
    const n = this.otherRows(side);
    for (let blk = blockStart; blk < blockEnd; blk++) {
      const out = this.buf.gramBlocks.subarray(blk * f * f, (blk + 1) * f * f);
      out.fill(0);
      const end = Math.min(n, (blk + 1) * GRAM_BLOCK_ROWS);
      if (!this.simd) {
        gramUpperAccumulate(y, f, blk * GRAM_BLOCK_ROWS, end, out);
        continue;
      }
      const g = this.scr;
      for (let r = blk * GRAM_BLOCK_ROWS; r < end; r += GRAM_CHUNK_ROWS) {
        this.simd.gramChunk(r, Math.min(end, r + GRAM_CHUNK_ROWS), y.byteOffset, this.scrByte);
        for (let a = 0; a < f; a++) for (let b = a; b < f; b++) out[a * f + b]! += g[a * f + b]!;
      }
    }
  }

  /** Z = Y B⁻¹ for rows [start, end) of Y. */
  projectRange(side: AlsSide, start: number, end: number): void {
    const f = this.f;
    const y = this.other(side);
    const z = this.buf.projected;
    if (this.simd) {
      this.simd.project(start, end, y.byteOffset, z.byteOffset, this.buf.systemInverseF32.byteOffset);
      return;
    }
    const inv = this.buf.systemInverse;
    for (let row = start; row < end; row++) {
      const o = row * f;
      for (let a = 0; a < f; a++) z[o + a] = dotF32F64(y, o, inv, a * f, f);
    }
  }

  /**
   * Claims chunks of `chunk` rows from the shared cursor until rows [0, end) are all taken,
   * solving each. Every row's solve reads only shared inputs, so which thread solves which
   * chunk changes nothing in the result.
   */
  solveClaimed(side: AlsSide, end: number, chunk: number, plan: SolvePlan): void {
    const cursor = this.buf.cursor;
    for (;;) {
      const start = Atomics.add(cursor, 0, chunk);
      if (start >= end) return;
      this.solveRange(side, start, Math.min(end, start + chunk), plan);
    }
  }

  /** Solves rows [start, end) of `side`, overwriting their factors. */
  solveRange(side: AlsSide, start: number, end: number, plan: SolvePlan): void {
    const m = this.matrix(side);
    const xs = this.solved(side);
    const y = this.other(side);
    const f = this.f;
    const indptr = m.indptr;
    if (plan.woodburyMaxNnz > 0) this.ensureWoodbury(plan.woodburyMaxNnz);
    if (this.simd && scratchFloats(f, plan.woodburyMaxNnz) > this.buf.scratchStride)
      throw new RangeError(`scratch of ${this.buf.scratchStride} floats is too small for this plan`);
    for (let row = start; row < end; row++) {
      const s = indptr[row]!;
      const e = indptr[row + 1]!;
      const k = e - s;
      const xo = row * f;
      if (k === 0) {
        xs.fill(0, xo, xo + f);
      } else if (k <= plan.woodburyMaxNnz) {
        this.woodburyRow(y, m.indices, m.values, s, e, xs, xo);
      } else if (plan.exact) {
        this.choleskyRow(y, m.indices, m.values, s, e, this.x);
        for (let a = 0; a < f; a++) xs[xo + a] = this.x[a]!;
      } else if (this.simd) {
        const b = this.buf;
        (k <= b.gatherRows ? this.simd.cgRowGathered : this.simd.cgRow)(
          xs.byteOffset + xo * 4,
          s,
          e,
          y.byteOffset,
          m.indices.byteOffset,
          m.values.byteOffset,
          b.systemF32.byteOffset,
          this.scrByte,
          b.alpha,
          b.cgSteps,
          this.gatherByte,
        );
      } else {
        this.cgRow(y, m.indices, m.values, s, e, xs, xo);
      }
    }
  }

  /**
   * Σ over users in [start, end) and all items of c (p − xᵀy)² plus λ‖x‖², with `system`
   * holding B for the item factors.
   */
  lossRange(start: number, end: number): number {
    const f = this.f;
    const { users, userFactors: xs, itemFactors: y, system: bm, alpha } = this.buf;
    let total = 0;
    for (let u = start; u < end; u++) {
      const xo = u * f;
      let xbx = 0;
      for (let a = 0; a < f; a++) xbx += dotF32F64(xs, xo, bm, a * f, f) * xs[xo + a]!;
      // xᵀBx = xᵀYᵀYx + λ‖x‖²: every item counted as (0 − s)², then the stored entries corrected.
      let row = xbx;
      for (let j = users.indptr[u]!; j < users.indptr[u + 1]!; j++) {
        const v = users.values[j]!;
        const yo = users.indices[j]! * f;
        const s = dotF32(y, yo, xs, xo, f);
        const c = 1 + alpha * Math.abs(v);
        const p = v > 0 ? 1 : 0;
        row += c * (p - s) * (p - s) - s * s;
      }
      total += row;
    }
    return total;
  }

  /**
   * Exact solve of one row by forming the f × f matrix: entries `items[s..e)`, `values[s..e)`.
   * Used by the `cholesky` solver for long rows and by fold-in. Writes the factor into `out`.
   */
  choleskyRow(
    y: Float32Array,
    items: Int32Array,
    values: Float32Array,
    s: number,
    e: number,
    out: Float64Array,
  ): void {
    const f = this.f;
    const a = this.a;
    const bm = this.buf.system;
    const alpha = this.buf.alpha;
    a.set(bm);
    out.fill(0);
    const simd = this.simd;
    if (simd && e - s <= this.buf.gatherRows) {
      // Σ conf y yᵀ as the Gram matrix of the rows scaled by √conf, with the SIMD kernel.
      const g = new Float32Array(this.buf.gather.buffer, this.gatherByte, (e - s) * f);
      for (let j = s; j < e; j++) {
        const v = values[j]!;
        const conf = alpha * Math.abs(v);
        const t = v > 0 ? 1 + conf : 0;
        const w = Math.sqrt(conf);
        const yo = items[j]! * f;
        const go = (j - s) * f;
        for (let i = 0; i < f; i++) {
          const yi = y[yo + i]!;
          out[i]! += t * yi;
          g[go + i] = w * yi;
        }
      }
      const gram = this.scr;
      for (let r = 0; r < e - s; r += GRAM_CHUNK_ROWS) {
        simd.gramChunk(r, Math.min(e - s, r + GRAM_CHUNK_ROWS), this.gatherByte, this.scrByte);
        for (let i = 0; i < f; i++) for (let l = i; l < f; l++) a[l * f + i]! += gram[i * f + l]!;
      }
    } else {
      for (let j = s; j < e; j++) {
        const v = values[j]!;
        const conf = alpha * Math.abs(v);
        const t = v > 0 ? 1 + conf : 0;
        const yo = items[j]! * f;
        for (let i = 0; i < f; i++) {
          const yi = y[yo + i]!;
          out[i]! += t * yi;
          const ci = conf * yi;
          const ri = i * f;
          for (let l = 0; l <= i; l++) a[ri + l]! += ci * y[yo + l]!;
        }
      }
    }
    choleskyInPlace(a, f);
    choleskySolveInPlace(a, f, out);
  }

  private ensureWoodbury(maxK: number): void {
    if (this.woodT.length >= maxK) return;
    this.wood = new Float64Array(maxK * maxK);
    this.woodT = new Float64Array(maxK);
    this.woodS = new Float64Array(maxK);
    this.woodGt = new Float64Array(maxK);
  }

  private woodburyRow(
    y: Float32Array,
    items: Int32Array,
    values: Float32Array,
    s: number,
    e: number,
    xs: Float32Array,
    xo: number,
  ): void {
    const f = this.f;
    const k = e - s;
    const z = this.buf.projected;
    const alpha = this.buf.alpha;
    if (this.simd) {
      this.simd.woodRow(
        s,
        k,
        y.byteOffset,
        z.byteOffset,
        items.byteOffset,
        values.byteOffset,
        alpha,
        this.scrByte,
        xs.byteOffset + xo * 4,
      );
      return;
    }
    const m = this.wood;
    const t = this.woodT;
    const sq = this.woodS;
    const gt = this.woodGt;
    for (let j = 0; j < k; j++) {
      const v = values[s + j]!;
      const conf = alpha * Math.abs(v);
      t[j] = v > 0 ? 1 + conf : 0;
      sq[j] = Math.sqrt(conf);
      gt[j] = 0;
    }
    // G = Yᵤ Zᵤᵀ (lower triangle, k × k).
    for (let j = 0; j < k; j++) {
      const yo = items[s + j]! * f;
      for (let l = 0; l <= j; l++) m[j * k + l] = dotF32(y, yo, z, items[s + l]! * f, f);
    }
    // G t, then M = I + S G S and q = S G t.
    for (let j = 0; j < k; j++) {
      const rj = j * k;
      for (let l = 0; l <= j; l++) {
        const g = m[rj + l]!;
        gt[j]! += g * t[l]!;
        if (l !== j) gt[l]! += g * t[j]!;
        m[rj + l] = sq[j]! * g * sq[l]! + (l === j ? 1 : 0);
      }
    }
    for (let j = 0; j < k; j++) gt[j] = sq[j]! * gt[j]!;
    choleskyInPlace(m, k);
    choleskySolveInPlace(m, k, gt);
    // x = Zᵤᵀ (t − S w)
    const x = this.x;
    x.fill(0);
    for (let j = 0; j < k; j++) {
      const coef = t[j]! - sq[j]! * gt[j]!;
      const zo = items[s + j]! * f;
      for (let b = 0; b < f; b++) x[b]! += coef * z[zo + b]!;
    }
    for (let b = 0; b < f; b++) xs[xo + b] = x[b]!;
  }

  private cgRow(
    y: Float32Array,
    items: Int32Array,
    values: Float32Array,
    s: number,
    e: number,
    xs: Float32Array,
    xo: number,
  ): void {
    const f = this.f;
    const bm = this.buf.system;
    const alpha = this.buf.alpha;
    const x = this.x;
    const r = this.r;
    const p = this.p;
    const ap = this.ap;
    for (let a = 0; a < f; a++) x[a] = xs[xo + a]!;
    // r = b − A x = Σ (t − (c − 1) yᵀx) y − B x
    symv(bm, f, x, r, -1);
    for (let j = s; j < e; j++) {
      const v = values[j]!;
      const conf = alpha * Math.abs(v);
      const t = v > 0 ? 1 + conf : 0;
      const yo = items[j]! * f;
      const coef = t - conf * dotF32F64(y, yo, x, 0, f);
      axpyRow(coef, y, yo, r, f);
    }
    let rsOld = dotF64(r, 0, r, 0, f);
    if (rsOld < 1e-20) return;
    p.set(r);
    for (let step = 0; step < this.buf.cgSteps; step++) {
      // A p = B p + Σ (c − 1)(yᵀp) y, never forming A.
      symv(bm, f, p, ap, 1);
      for (let j = s; j < e; j++) {
        const conf = alpha * Math.abs(values[j]!);
        const yo = items[j]! * f;
        axpyRow(conf * dotF32F64(y, yo, p, 0, f), y, yo, ap, f);
      }
      const step_ = rsOld / dotF64(p, 0, ap, 0, f);
      let rsNew = 0;
      for (let a = 0; a < f; a++) {
        x[a]! += step_ * p[a]!;
        const ra = r[a]! - step_ * ap[a]!;
        r[a] = ra;
        rsNew += ra * ra;
      }
      if (rsNew < 1e-20) break;
      const beta = rsNew / rsOld;
      for (let a = 0; a < f; a++) p[a] = r[a]! + beta * p[a]!;
      rsOld = rsNew;
    }
    for (let a = 0; a < f; a++) xs[xo + a] = x[a]!;
  }
}

/**
 * out = scale · M v for a full f × f matrix: four rows at a time, each with its own sum, so the
 * CPU overlaps them (the whole JS fit ~15% faster than with one dot product per row).
 */
function symv(m: Float64Array, f: number, v: Float64Array, out: Float64Array, scale: number): void {
  let a = 0;
  for (; a + 4 <= f; a += 4) {
    const r0 = a * f;
    const r1 = r0 + f;
    const r2 = r1 + f;
    const r3 = r2 + f;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let b = 0; b < f; b++) {
      const x = v[b]!;
      s0 += m[r0 + b]! * x;
      s1 += m[r1 + b]! * x;
      s2 += m[r2 + b]! * x;
      s3 += m[r3 + b]! * x;
    }
    out[a] = scale * s0;
    out[a + 1] = scale * s1;
    out[a + 2] = scale * s2;
    out[a + 3] = scale * s3;
  }
  for (; a < f; a++) out[a] = scale * dotF64(m, a * f, v, 0, f);
}

function roundUp4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** out += a · (row `yo / f` of y). */
function axpyRow(a: number, y: Float32Array, yo: number, out: Float64Array, f: number): void {
  let b = 0;
  for (; b + 4 <= f; b += 4) {
    out[b]! += a * y[yo + b]!;
    out[b + 1]! += a * y[yo + b + 1]!;
    out[b + 2]! += a * y[yo + b + 2]!;
    out[b + 3]! += a * y[yo + b + 3]!;
  }
  for (; b < f; b++) out[b]! += a * y[yo + b]!;
}
