/**
 * The item vectors an index scores with (flat, row-major float32) and which items are live,
 * plus the brute-force top-k both indexes use: `ExactIndex` for every search, `HnswIndex` for
 * re-scoring graph results and for filters that allow few items.
 *
 * The store takes ownership of the buffer it is given and does not copy it: serving keeps one
 * copy of the model version's item vectors and reads them back with `row`. `set` writes rows
 * in place and moves to a larger buffer (×1.5) when an item index falls beyond it.
 */
import { dotF32 } from '../../models/dot.ts';
import { topK } from '../../models/top-k.ts';
import type { TopK } from '../../models/top-k.ts';
import type { Vectors } from '../../models/matrix.ts';
import type { ItemFilter } from './item-filter.ts';

export class VectorStore {
  private buf: Float32Array;
  private liveWords: Uint32Array;
  private space = 0;
  private liveCount = 0;
  // Scratch for exact search: candidate items and their scores, grown on demand.
  private candItems = new Int32Array(0);
  private candScores = new Float32Array(0);

  constructor(
    readonly dims: number,
    data: Float32Array = new Float32Array(0),
  ) {
    if (!Number.isInteger(dims) || dims < 1)
      throw new RangeError(`dims must be a positive integer, got ${dims}`);
    if (data.length % dims !== 0)
      throw new RangeError(`vector data length ${data.length} is not a multiple of ${dims}`);
    this.buf = data;
    this.liveWords = new Uint32Array((data.length / dims + 31) >>> 5);
  }

  /** Live items. */
  get size(): number {
    return this.liveCount;
  }

  /** One past the largest item index ever made live. */
  get itemSpace(): number {
    return this.space;
  }

  /** Rows the buffer holds. */
  get capacity(): number {
    return this.buf.length / this.dims;
  }

  /** The backing buffer (rows beyond `itemSpace` are spare capacity). */
  get data(): Float32Array {
    return this.buf;
  }

  /** The live bitset (words beyond `itemSpace` are zero). */
  get live(): Uint32Array {
    return this.liveWords;
  }

  isLive(item: number): boolean {
    return item >= 0 && item < this.space && ((this.liveWords[item >>> 5]! >>> (item & 31)) & 1) === 1;
  }

  /** A view of row `item` (valid until the buffer grows). */
  row(item: number): Float32Array {
    return this.buf.subarray(item * this.dims, (item + 1) * this.dims);
  }

  /** Copies `vector` into row `item` (growing the buffer if needed) and makes it live. */
  set(item: number, vector: Float32Array): void {
    checkItem(item);
    if (vector.length !== this.dims)
      throw new RangeError(`vector has ${vector.length} dims, expected ${this.dims}`);
    for (let j = 0; j < vector.length; j++) {
      if (!Number.isFinite(vector[j]!)) throw new RangeError(`vector of item ${item} has a non-finite value`);
    }
    this.ensureRows(item + 1);
    this.buf.set(vector, item * this.dims);
    this.markLive(item);
  }

  /** Makes `item` live with the vector already in its row. */
  markLive(item: number): void {
    this.ensureRows(item + 1);
    const bit = 1 << (item & 31);
    if ((this.liveWords[item >>> 5]! & bit) === 0) {
      this.liveWords[item >>> 5]! |= bit;
      this.liveCount++;
    }
    if (item >= this.space) this.space = item + 1;
  }

  /** Replaces the live bitset (from a saved index) and the item space. */
  restoreLive(words: Uint32Array, itemSpace: number, count: number): void {
    this.ensureRows(itemSpace);
    this.liveWords.fill(0);
    this.liveWords.set(words.subarray(0, this.liveWords.length));
    this.space = itemSpace;
    this.liveCount = count;
  }

  /** Makes `item` unsearchable; false when it was not live. */
  unset(item: number): boolean {
    if (!this.isLive(item)) return false;
    this.liveWords[item >>> 5]! &= ~(1 << (item & 31));
    this.liveCount--;
    return true;
  }

  /** Inner product of row `item` with `query`. */
  dot(item: number, query: Float32Array): number {
    return dotF32(this.buf, item * this.dims, query, 0, this.dims);
  }

  /**
   * Exact top-k of live items (∧ `filter`) by inner product. Ties go to the lower index,
   * because candidates are gathered in ascending index order and `topK` breaks ties by
   * position.
   */
  search(query: Float32Array, k: number, filter?: ItemFilter): TopK {
    const live = this.liveWords;
    // At most liveCount candidates (not filter.count: a filter's count is the caller's word).
    this.ensureScratch(this.liveCount);
    const items = this.candItems;
    const fw = filter?.words;
    const nWords = Math.min((this.space + 31) >>> 5, fw ? fw.length : live.length);
    let m = 0;
    for (let w = 0; w < nWords; w++) {
      let bits = fw ? live[w]! & fw[w]! : live[w]! | 0;
      if (bits === 0) continue;
      const base = w << 5;
      if (bits === -1) {
        for (let b = 0; b < 32; b++) items[m++] = base + b;
        continue;
      }
      while (bits !== 0) {
        const low = bits & -bits;
        items[m++] = base | (31 - Math.clz32(low));
        bits ^= low;
      }
    }
    return this.rescore(query, items, m, k);
  }

  /**
   * Scores `count` candidate items (ascending, live) and keeps the best `k`. `HnswIndex` runs
   * its graph results through here too, so both indexes report the very same scores and tie
   * order.
   */
  rescore(query: Float32Array, candidates: Int32Array, count: number, k: number): TopK {
    this.ensureScratch(count);
    const scores = this.candScores;
    scoreRowsInto(this.buf, this.dims, query, candidates, count, scores);
    const top = topK(scores.subarray(0, count), k);
    for (let j = 0; j < top.indices.length; j++) top.indices[j] = candidates[top.indices[j]!]!;
    return top;
  }

  private ensureScratch(n: number): void {
    if (this.candScores.length >= n) return;
    const size = Math.max(n, Math.ceil(this.candScores.length * 1.5));
    // `search` passes candItems into rescore: keep its contents when growing.
    const items = new Int32Array(size);
    items.set(this.candItems);
    this.candItems = items;
    this.candScores = new Float32Array(size);
  }

  private ensureRows(rows: number): void {
    const cap = this.buf.length / this.dims;
    if (rows > cap) {
      const next = Math.max(rows, Math.ceil(cap * 1.5), 16);
      const grown = new Float32Array(next * this.dims);
      grown.set(this.buf);
      this.buf = grown;
    }
    const words = (rows + 31) >>> 5;
    if (words > this.liveWords.length) {
      const grown = new Uint32Array(Math.max(words, (this.buf.length / this.dims + 31) >>> 5));
      grown.set(this.liveWords);
      this.liveWords = grown;
    }
  }
}

/** Rejects what cannot be an item index (hnswlib labels and Int32Array results). */
export function checkItem(item: number): void {
  if (!Number.isInteger(item) || item < 0 || item > 0x7fffffff) {
    throw new RangeError(`item index must be an integer in [0, 2^31), got ${item}`);
  }
}

/** Rows whose cache lines `scoreRowsInto` touches ahead of scoring them. */
const TOUCH_AHEAD = 16;
/** Written once per call so that the touching loads are not optimised away. */
let touchSink = 0;

/**
 * out[j] = row `rows[j]` · q for j < count. Gathered rows are bound by memory latency (a
 * 64-float row is four cache lines, ~250 ns per row when cold), so: four rows at a time, each
 * with its own accumulator, so the CPU overlaps their misses; and one float of every cache
 * line of the rows 16 ahead is read early (a software prefetch), so their misses are in
 * flight while the current rows are scored. Together ~2× faster than one row at a time.
 * Every score either index reports comes from here (or from models/dot.ts `dotF32`, which adds in
 * the same order), so they agree exactly.
 */
export function scoreRowsInto(
  data: Float32Array,
  d: number,
  q: Float32Array,
  rows: Int32Array,
  count: number,
  out: Float32Array,
): void {
  const even = d & ~1;
  let touch = 0;
  for (let j = 0; j < Math.min(TOUCH_AHEAD, count); j++) {
    const o = rows[j]! * d;
    for (let t = 0; t < d; t += 16) touch += data[o + t]!;
  }
  let j = 0;
  for (; j + 4 <= count; j += 4) {
    const ahead = j + TOUCH_AHEAD;
    if (ahead + 4 <= count) {
      for (let r = ahead; r < ahead + 4; r++) {
        const o = rows[r]! * d;
        for (let t = 0; t < d; t += 16) touch += data[o + t]!;
      }
    }
    const o0 = rows[j]! * d;
    const o1 = rows[j + 1]! * d;
    const o2 = rows[j + 2]! * d;
    const o3 = rows[j + 3]! * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let t = 0; t < even; t += 2) {
      const q0 = q[t]!;
      const q1 = q[t + 1]!;
      s0 += data[o0 + t]! * q0 + data[o0 + t + 1]! * q1;
      s1 += data[o1 + t]! * q0 + data[o1 + t + 1]! * q1;
      s2 += data[o2 + t]! * q0 + data[o2 + t + 1]! * q1;
      s3 += data[o3 + t]! * q0 + data[o3 + t + 1]! * q1;
    }
    if (even !== d) {
      const ql = q[even]!;
      s0 += data[o0 + even]! * ql;
      s1 += data[o1 + even]! * ql;
      s2 += data[o2 + even]! * ql;
      s3 += data[o3 + even]! * ql;
    }
    out[j] = s0;
    out[j + 1] = s1;
    out[j + 2] = s2;
    out[j + 3] = s3;
  }
  for (; j < count; j++) out[j] = dotF32(data, rows[j]! * d, q, 0, d);
  touchSink = touch;
}

/** The last value `scoreRowsInto` read ahead (exported only so it counts as used). */
export function lastTouch(): number {
  return touchSink;
}

/** Shape checks shared by both indexes. */
export function checkVectors(v: Vectors): void {
  if (!Number.isInteger(v.cols) || v.cols < 1)
    throw new RangeError(`cols must be a positive integer, got ${v.cols}`);
  if (!Number.isInteger(v.rows) || v.rows < 0)
    throw new RangeError(`rows must be a non-negative integer, got ${v.rows}`);
  if (v.data.length < v.rows * v.cols) {
    throw new RangeError(`data holds ${v.data.length} floats, need ${v.rows} × ${v.cols}`);
  }
}

export function checkQuery(query: Float32Array, dims: number, k: number): void {
  if (query.length !== dims) throw new RangeError(`query has ${query.length} dims, expected ${dims}`);
  if (!(k >= 0)) throw new RangeError(`k must be ≥ 0, got ${k}`);
}
