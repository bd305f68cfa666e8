/**
 * Top-k items for many users of a factor model at once: the same lists as scoring each user
 * alone (`AlsModel.scoreInto`: a float64 sum over the factors, stored as float32) and taking
 * `topK` (score descending, then index ascending, the user's excluded items left out), at the
 * speed of a blocked matrix product.
 *
 * Per block of {@link USERS_PER_BLOCK} users, the WebAssembly SIMD kernel (score-block-simd.ts)
 * writes the block × items float32 scores, item chunk by item chunk (a chunk of packed items
 * stays in cache while every user of the block reads it). Then per user a partial selection
 * finds T, the k-th best of those scores. Each float32 score is within ε = (f + 4)·2⁻²³·‖x‖·max‖y‖
 * of the exact one, so every item of the exact top k scores at least T − 2ε here: those few
 * candidates are scored again exactly and ordered by the exact scores, so the lists equal the
 * one-user-at-a-time ones, ties included. Without WebAssembly SIMD the block is scored exactly
 * in JS (ε = 0), with the same lists.
 */
import { BLOCK_ITEMS, BLOCK_USERS, createScoreBlockKernel } from './score-block-simd.ts';
import type { ScoreBlockKernel } from './score-block-simd.ts';
import { createWasmMemory } from './wasm-builder.ts';

/** Users scored per kernel call (a multiple of the kernel's register block). */
export const USERS_PER_BLOCK = 32;
/** Items per kernel call: their packed factors stay in cache while the block's users read them. */
const ITEMS_PER_CHUNK = 1024;

export interface FactorTopKInput {
  /** Row-major users × factors. */
  userFactors: Float32Array;
  /** Row-major items × factors. */
  itemFactors: Float32Array;
  factors: number;
  /** Rows of `userFactors` to rank for. */
  users: Int32Array;
  k: number;
  /**
   * Items never returned to a user, as a CSR over user rows (`indices[indptr[u] .. indptr[u+1])`),
   * e.g. the user's training row.
   */
  exclude?: { indptr: Int32Array; indices: Int32Array };
  /** Score exactly in JS instead of the SIMD kernel (tests compare both). @defaultValue false */
  noSimd?: boolean;
}

/**
 * `users.length` lists in one stride `k`: list t is `indices/scores[t·k .. t·k + lengths[t])`,
 * best first (shorter than k only when fewer items are left after exclusions).
 */
export interface FactorTopK {
  k: number;
  indices: Int32Array;
  scores: Float32Array;
  lengths: Int32Array;
}

export function factorTopK(o: FactorTopKInput): FactorTopK {
  const f = o.factors;
  if (!Number.isInteger(f) || f < 1) throw new RangeError('factors must be a positive integer');
  if (o.userFactors.length % f !== 0 || o.itemFactors.length % f !== 0)
    throw new RangeError(`factor arrays are not multiples of ${f}`);
  const userCount = o.userFactors.length / f;
  const n = o.itemFactors.length / f;
  for (const u of o.users)
    if (!(Number.isInteger(u) && u >= 0 && u < userCount)) throw new RangeError(`user row ${u} out of range`);
  const k = Math.max(0, Math.min(o.k, n));
  const out: FactorTopK = {
    k,
    indices: new Int32Array(o.users.length * k).fill(-1),
    scores: new Float32Array(o.users.length * k),
    lengths: new Int32Array(o.users.length),
  };
  if (k === 0 || o.users.length === 0) return out;

  const scorer = o.noSimd ? null : SimdBlockScorer.create(o.itemFactors, f, n);
  const stride = scorer ? scorer.stride : n;
  const block = scorer ? scorer.out : new Float32Array(USERS_PER_BLOCK * n);
  let maxNorm = 0;
  for (let i = 0; i < n; i++) maxNorm = Math.max(maxNorm, norm(o.itemFactors, i * f, f));
  const excluded = new Uint8Array(n);
  const heap = new Float32Array(k);
  const cand: number[] = [];
  const exact = new Map<number, number>();
  const y = o.itemFactors;
  const xs = o.userFactors;

  for (let b0 = 0; b0 < o.users.length; b0 += USERS_PER_BLOCK) {
    const b1 = Math.min(o.users.length, b0 + USERS_PER_BLOCK);
    if (scorer) scorer.score(xs, o.users, b0, b1);
    else for (let t = b0; t < b1; t++) exactRowInto(xs, o.users[t]!, y, f, n, block, (t - b0) * n);
    for (let t = b0; t < b1; t++) {
      const u = o.users[t]!;
      const row = (t - b0) * stride;
      const ex = o.exclude
        ? o.exclude.indices.subarray(o.exclude.indptr[u]!, o.exclude.indptr[u + 1]!)
        : null;
      if (ex) for (const i of ex) if (i >= 0 && i < n) excluded[i] = 1;
      // T: the k-th best approximate score (a min-heap of the best k values).
      let size = 0;
      for (let i = 0; i < n; i++) {
        if (excluded[i]) continue;
        const v = block[row + i]!;
        if (!(v === v)) continue; // NaN
        if (size < k) {
          heapPush(heap, size++, v);
        } else if (v > heap[0]!) {
          heap[0] = v;
          siftDown(heap, size);
        }
      }
      const eps = scorer ? (f + 4) * 2 ** -23 * norm(xs, u * f, f) * maxNorm : 0;
      const floor = size < k ? -Infinity : heap[0]! - 2 * eps;
      cand.length = 0;
      exact.clear();
      for (let i = 0; i < n; i++) {
        if (excluded[i] || !(block[row + i]! >= floor)) continue;
        const s = scorer ? exactScore(xs, u * f, y, i * f, f) : block[row + i]!;
        if (s === s) {
          cand.push(i);
          exact.set(i, s);
        }
      }
      if (ex) for (const i of ex) if (i >= 0 && i < n) excluded[i] = 0;
      cand.sort((a, c) => exact.get(c)! - exact.get(a)! || a - c);
      const len = Math.min(k, cand.length);
      for (let r = 0; r < len; r++) {
        out.indices[t * k + r] = cand[r]!;
        out.scores[t * k + r] = exact.get(cand[r]!)!;
      }
      out.lengths[t] = len;
    }
  }
  return out;
}

/** The float32 value of `AlsModel.scoreInto`'s float64 sum for one (user, item). */
function exactScore(x: Float32Array, xo: number, y: Float32Array, yo: number, f: number): number {
  let s = 0;
  for (let a = 0; a < f; a++) s += x[xo + a]! * y[yo + a]!;
  return Math.fround(s);
}

function exactRowInto(
  x: Float32Array,
  u: number,
  y: Float32Array,
  f: number,
  n: number,
  out: Float32Array,
  at: number,
): void {
  for (let i = 0; i < n; i++) out[at + i] = exactScore(x, u * f, y, i * f, f);
}

function norm(v: Float32Array, at: number, f: number): number {
  let s = 0;
  for (let a = 0; a < f; a++) s += v[at + a]! * v[at + a]!;
  return Math.sqrt(s);
}

function heapPush(h: Float32Array, j: number, v: number): void {
  h[j] = v;
  while (j > 0) {
    const p = (j - 1) >> 1;
    if (h[p]! <= h[j]!) break;
    const t = h[p]!;
    h[p] = h[j]!;
    h[j] = t;
    j = p;
  }
}

function siftDown(h: Float32Array, size: number): void {
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < size && h[l]! < h[m]!) m = l;
    if (r < size && h[r]! < h[m]!) m = r;
    if (m === i) return;
    const t = h[m]!;
    h[m] = h[i]!;
    h[i] = t;
    i = m;
  }
}

/** The SIMD kernel over one memory: packed item factors, a block of user rows, the block's scores. */
class SimdBlockScorer {
  private constructor(
    private readonly kernel: ScoreBlockKernel,
    private readonly f: number,
    private readonly n: number,
    private readonly xPtr: number,
    private readonly yPtr: number,
    private readonly outPtr: number,
    private readonly x: Float32Array,
    /** Scores of the block: user t − b0 at `(t − b0)·stride`. */
    readonly out: Float32Array,
    readonly stride: number,
  ) {}

  static create(itemFactors: Float32Array, f: number, n: number): SimdBlockScorer | null {
    const nPad = Math.ceil(n / BLOCK_ITEMS) * BLOCK_ITEMS;
    const yBytes = nPad * f * 4;
    const xBytes = USERS_PER_BLOCK * f * 4;
    const outBytes = USERS_PER_BLOCK * nPad * 4;
    const memory = createWasmMemory(yBytes + xBytes + outBytes, false);
    if (!memory) return null;
    const kernel = createScoreBlockKernel(memory, f);
    if (!kernel) return null;
    const [yPtr, xPtr, outPtr] = [0, yBytes, yBytes + xBytes];
    const packed = new Float32Array(memory.buffer, yPtr, nPad * f);
    for (let i = 0; i < n; i++) {
      const base = (i >> 2) * 4 * f + (i & 3);
      for (let a = 0; a < f; a++) packed[base + 4 * a] = itemFactors[i * f + a]!;
    }
    return new SimdBlockScorer(
      kernel,
      f,
      n,
      xPtr,
      yPtr,
      outPtr,
      new Float32Array(memory.buffer, xPtr, USERS_PER_BLOCK * f),
      new Float32Array(memory.buffer, outPtr, USERS_PER_BLOCK * nPad),
      nPad,
    );
  }

  /** Scores users `rows[b0 .. b1)` against every item into `out`. */
  score(userFactors: Float32Array, rows: Int32Array, b0: number, b1: number): void {
    const f = this.f;
    this.x.fill(0);
    for (let t = b0; t < b1; t++) {
      const u = rows[t]!;
      this.x.set(userFactors.subarray(u * f, (u + 1) * f), (t - b0) * f);
    }
    const users = Math.ceil((b1 - b0) / BLOCK_USERS) * BLOCK_USERS;
    for (let i0 = 0; i0 < this.n; i0 += ITEMS_PER_CHUNK) {
      const i1 = Math.min(this.stride, i0 + ITEMS_PER_CHUNK);
      const quads = Math.ceil((i1 - i0) / BLOCK_ITEMS) * (BLOCK_ITEMS / 4);
      this.kernel.scoreBlock(
        this.xPtr,
        users,
        this.yPtr + i0 * f * 4,
        quads,
        this.outPtr + i0 * 4,
        this.stride * 4,
      );
    }
  }
}
