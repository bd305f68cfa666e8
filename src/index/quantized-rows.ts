/**
 * int8 copies of item vectors for a fast approximate scan of a sparse set of rows (the items a
 * filter allows). A 64-float row is four cache lines and scattered rows are bound by memory
 * latency; its int8 copy is one line, so `HnswIndex` scores the allowed items here first and
 * re-scores only the best few exactly, in float32, from `VectorStore`.
 *
 * **Quantization.** Symmetric, per row: q = round(x / s) with s = max|x| / 127 (float32);
 * the query is quantized to int16 (s_q = max|q| / Q, Q as large as keeps Σ qᵢxᵢ inside int32:
 * 32767 up to 516 dims), so the query adds almost no error. The approximate score is
 * `f32(Σ qᵢ·xᵢ) · s_row · s_q` (float32 products in that order), the same in the kernel and in
 * `referenceScan`.
 *
 * **Kernel.** WebAssembly SIMD generated for the row length (rows padded with zeros to a
 * multiple of 8 bytes): `i16x8.load8x8_s` widens 8 row bytes, `i32x4.dot_i16x8_s` multiplies
 * them with 8 query lanes held in registers. One call per chunk of 2048 bitset words (up to
 * three bitsets, copied in and ANDed there: live ∧ filter ∧ stratum): it lists the set bits
 * (the allowed rows), then scores them block by block — first a tight loop that only touches
 * each row of the block (the block's cache misses all in flight at once), then the scoring
 * loop over rows now in cache. JS then keeps the best few (`best`). Measured at 1M × 64: ~30
 * ns per allowed row at 1% allowed, ~18 at 10%, 5 when every row is (vs ~150–300 for float32
 * rows). Without WebAssembly SIMD (or past `MAX_SIMD_DIMS`) the same layout is scanned in JS
 * (`scanRows`), with the same results. `setAll` quantizes in the kernel too (~0.1 s per
 * million 64-dim rows, plus the first touch of the memory).
 *
 * **Memory.** One non-shared `WebAssembly.Memory`: the int16 query, the row scales, the rows
 * (64-byte aligned, so a 64-dim row is exactly one cache line) and the scan's scratch (bitset
 * chunks and outputs, 0.5 MiB). It grows (×1.5) when a row beyond the capacity is set.
 */
import {
  compileModule,
  createWasmMemory,
  F32,
  Fn,
  I32,
  instantiate,
  moduleBytes,
  SIMD,
  uleb,
  V128,
  WASM_PAGE,
} from '../../models/wasm-builder.ts';
import type { WasmMemory } from '../../models/wasm-builder.ts';

/** The longest row the kernel unrolls (the query lives in stride / 8 v128 locals). */
export const MAX_SIMD_DIMS = 1024;
/** Bitset words per kernel call: bounds the scratch (32 rows per word, 8 bytes per row out). */
const CHUNK_WORDS = 2048;
/** Bitsets the kernel ANDs itself (more are ANDed into the last in JS). */
const KERNEL_BITSETS = 3;
/** Scratch after the bitset chunks: the scan's outputs (row, score), or `setAll`'s float rows. */
const OUT_BYTES = 8 * 32 * CHUNK_WORDS;
const WORDS_BYTES = 4 * KERNEL_BITSETS * CHUNK_WORDS;
/** Rows touched ahead of scoring them, per block (their misses overlap). */
const BLOCK_ROWS = 64;
const ALIGN = 64;

/** The result of a scan: allowed rows (ascending) and their approximate scores, `count` of each. */
export interface ScanResult {
  count: number;
  indices: Int32Array;
  scores: Float32Array;
}

interface ScanExports {
  /**
   * Scores the rows whose bits are set in all of the bitsets at `words`, `words + db` and
   * `words + dc` (`nWords` words each; db = 0 or dc = 0 for fewer; bit b of word w is row
   * firstRow + 32w + b); writes the rows scoring above `minScore` at `outIdx` and their scores
   * at `outScores`; returns their count.
   */
  scan(
    words: number,
    db: number,
    dc: number,
    nWords: number,
    firstRow: number,
    query: number,
    rows: number,
    scales: number,
    outIdx: number,
    outScores: number,
    qScale: number,
    minScore: number,
  ): number;
}

interface QuantizeExports {
  /**
   * Quantizes `n` float32 rows of `stride` floats (zero-padded) at `src` into int8 rows at
   * `dst` and their scales at `scales`, exactly as `quantizeRow`.
   */
  quantize(src: number, n: number, dst: number, scales: number): void;
}

export interface QuantizedRowsOptions {
  /** Use the WebAssembly SIMD kernel when the runtime has it. @defaultValue true */
  simd?: boolean;
}

export class QuantizedRows {
  /** Bytes per row (dims padded to a multiple of 8). */
  readonly stride: number;
  private cap = 0;
  private used = 0;
  private readonly memory: WasmMemory | null;
  private readonly kernel: (ScanExports & QuantizeExports) | null;
  // Views (re-made when the memory grows): the rows, their scales, the int16 query.
  private data = new Int8Array(0);
  private scaleOf = new Float32Array(0);
  private query16: Int16Array;
  // Byte offsets of the regions in the wasm memory.
  private scalesOff = 0;
  private rowsOff = 0;
  private scratchOff = 0;
  // JS fallback scratch.
  private jsChunk = new Uint32Array(0);
  private jsIdx = new Int32Array(0);
  private jsScores = new Float32Array(0);

  private constructor(
    readonly dims: number,
    capacity: number,
    simd: boolean,
  ) {
    this.stride = (dims + 7) & ~7;
    this.query16 = new Int16Array(this.stride);
    const kernel = simd && dims <= MAX_SIMD_DIMS ? kernelFor(this.stride) : null;
    this.memory = kernel ? createWasmMemory(this.layoutBytes(capacity), false, true) : null;
    this.kernel = this.memory ? (instantiate(kernel!, this.memory) as ScanExports & QuantizeExports) : null;
    this.grow(capacity);
  }

  static create(dims: number, capacity = 0, options: QuantizedRowsOptions = {}): QuantizedRows {
    if (!Number.isInteger(dims) || dims < 1)
      throw new RangeError(`dims must be a positive integer, got ${dims}`);
    if (!Number.isInteger(capacity) || capacity < 0)
      throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`);
    return new QuantizedRows(dims, capacity, options.simd ?? true);
  }

  /** Whether scans run in WebAssembly SIMD (false: the JS fallback). */
  get simd(): boolean {
    return this.kernel !== null;
  }

  /** One past the largest row set. */
  get rows(): number {
    return this.used;
  }

  /** Rows held without growing. */
  get capacity(): number {
    return this.cap;
  }

  /** Memory held (the wasm memory, or the JS arrays). */
  get bytes(): number {
    if (this.memory) return this.memory.buffer.byteLength;
    return this.data.byteLength + this.scaleOf.byteLength + this.jsIdx.byteLength + this.jsScores.byteLength;
  }

  /** Quantizes `vector` into row `row` (growing if needed). */
  set(row: number, vector: Float32Array): void {
    if (!Number.isInteger(row) || row < 0 || row > 0x7fffffff)
      throw new RangeError(`row must be an integer in [0, 2^31), got ${row}`);
    if (vector.length !== this.dims)
      throw new RangeError(`vector has ${vector.length} dims, expected ${this.dims}`);
    if (row >= this.cap) this.grow(Math.max(row + 1, Math.ceil(this.cap * 1.5), 16));
    this.scaleOf[row] = quantizeRow(vector, 0, this.dims, this.data, row * this.stride);
    if (row >= this.used) this.used = row + 1;
  }

  /**
   * Quantizes rows `from .. rows - 1` of `data` (row-major, `dims` floats each; `from` lets a
   * caller do it in slices).
   */
  setAll(data: Float32Array, rows: number, from = 0): void {
    if (!Number.isInteger(rows) || rows < 0)
      throw new RangeError(`rows must be a non-negative integer, got ${rows}`);
    if (!Number.isInteger(from) || from < 0)
      throw new RangeError(`from must be a non-negative integer, got ${from}`);
    if (data.length < rows * this.dims)
      throw new RangeError(`data holds ${data.length} floats, need ${rows} × ${this.dims}`);
    if (rows > this.cap) this.grow(rows);
    const { dims, stride } = this;
    if (this.kernel) {
      // Through the output scratch, a block of rows at a time (zero-padded to `stride` floats).
      const block = Math.floor(OUT_BYTES / (4 * stride));
      const src = new Float32Array(this.memory!.buffer, this.scratchOff + WORDS_BYTES, block * stride);
      for (let i0 = from; i0 < rows; i0 += block) {
        const n = Math.min(block, rows - i0);
        if (dims === stride) src.set(data.subarray(i0 * dims, (i0 + n) * dims));
        else {
          src.fill(0);
          for (let i = 0; i < n; i++)
            src.set(data.subarray((i0 + i) * dims, (i0 + i + 1) * dims), i * stride);
        }
        this.kernel.quantize(src.byteOffset, n, this.rowsOff + i0 * stride, this.scalesOff + 4 * i0);
      }
    } else {
      for (let i = from; i < rows; i++)
        this.scaleOf[i] = quantizeRow(data, i * dims, dims, this.data, i * stride);
    }
    if (rows > this.used) this.used = rows;
  }

  /** Row `row`'s int8 values (a view, padding included) and scale. */
  row(row: number): { values: Int8Array; scale: number } {
    return {
      values: this.data.subarray(row * this.stride, (row + 1) * this.stride),
      scale: this.scaleOf[row]!,
    };
  }

  /**
   * Approximate scores of the rows allowed by every bitset in `words` (ANDed; rows past the
   * shortest, or past `rows`, are not allowed), in ascending row order. `onChunk` receives them
   * a chunk at a time (views valid only during the call) and returns the score a row must
   * beat to be of use in later chunks (−∞: every row); rows below it are left out. Returns
   * the count passed on.
   */
  scanChunks(query: Float32Array, words: readonly Uint32Array[], onChunk: (r: ScanResult) => number): number {
    if (query.length !== this.dims)
      throw new RangeError(`query has ${query.length} dims, expected ${this.dims}`);
    if (words.length === 0) throw new RangeError('words must hold at least one bitset');
    let nWords = (this.used + 31) >>> 5;
    for (const w of words) nWords = Math.min(nWords, w.length);
    const qScale = quantizeQuery(query, this.query16);
    const tail = this.used & 31;
    let total = 0;
    let minScore = -Infinity;
    for (let w0 = 0; w0 < nWords; w0 += CHUNK_WORDS) {
      const n = Math.min(CHUNK_WORDS, nWords - w0);
      // The kernel ANDs up to three copied bitsets itself; JS does the rest (and the fallback).
      const sets = this.kernel ? Math.min(words.length, KERNEL_BITSETS) : 1;
      for (let j = 0; j < sets; j++) {
        const chunk = this.chunkWords(j, n);
        if (j < sets - 1) chunk.set(words[j]!.subarray(w0, w0 + n));
        else andInto(chunk, words.slice(j), w0, n);
      }
      // Zero words up to a multiple of 4 (the kernel reads quads), and bits past the last row
      // (a filter wider than the rows) are not rows.
      if (this.kernel) this.chunkWords(0, CHUNK_WORDS).fill(0, n, (n + 3) & ~3);
      if (tail !== 0 && w0 + n === (this.used + 31) >>> 5) this.chunkWords(0, n)[n - 1]! &= (1 << tail) - 1;
      const r = this.kernel
        ? this.scanWasm(sets, n, w0 * 32, qScale, minScore)
        : this.scanJs(this.chunkWords(0, n), n, w0 * 32, qScale, minScore);
      if (r.count > 0) minScore = onChunk(r);
      total += r.count;
    }
    return total;
  }

  /**
   * All approximate scores at once: writes the allowed rows to `outIndices` and their scores
   * to `outScores` (each long enough for every allowed row) and returns the count.
   */
  scan(
    query: Float32Array,
    words: readonly Uint32Array[],
    outIndices: Int32Array,
    outScores: Float32Array,
  ): number {
    let at = 0;
    return this.scanChunks(query, words, (r) => {
      if (at + r.count > outIndices.length || at + r.count > outScores.length) {
        throw new RangeError(`outIndices/outScores hold ${outIndices.length}/${outScores.length}, need more`);
      }
      outIndices.set(r.indices.subarray(0, r.count), at);
      outScores.set(r.scores.subarray(0, r.count), at);
      at += r.count;
      return -Infinity;
    });
  }

  /**
   * The `r` allowed rows with the best approximate scores (ties: the lower row), in ascending
   * row order: the candidates to re-score exactly.
   */
  best(query: Float32Array, words: readonly Uint32Array[], r: number): Int32Array {
    const heap = new BestRows(r);
    // Once the heap is full, a chunk passes on only rows above its worst.
    this.scanChunks(query, words, (c) => heap.offer(c.indices, c.scores, c.count));
    return heap.rows();
  }

  private scanWasm(
    sets: number,
    nWords: number,
    firstRow: number,
    qScale: number,
    minScore: number,
  ): ScanResult {
    const out = this.scratchOff + WORDS_BYTES;
    const outScores = out + 4 * 32 * CHUNK_WORDS;
    const count = this.kernel!.scan(
      this.scratchOff,
      sets > 1 ? 4 * CHUNK_WORDS : 0,
      sets > 2 ? 8 * CHUNK_WORDS : 0,
      nWords,
      firstRow,
      0,
      this.rowsOff,
      this.scalesOff,
      out,
      outScores,
      qScale,
      minScore,
    );
    const buf = this.memory!.buffer;
    return {
      count,
      indices: new Int32Array(buf, out, count),
      scores: new Float32Array(buf, outScores, count),
    };
  }

  private scanJs(
    chunk: Uint32Array,
    nWords: number,
    firstRow: number,
    qScale: number,
    minScore: number,
  ): ScanResult {
    if (this.jsIdx.length < 32 * CHUNK_WORDS) {
      this.jsIdx = new Int32Array(32 * CHUNK_WORDS);
      this.jsScores = new Float32Array(32 * CHUNK_WORDS);
    }
    const count = scanRows(
      chunk,
      nWords,
      firstRow,
      this.query16,
      this.data,
      this.scaleOf,
      this.stride,
      qScale,
      minScore,
      this.jsIdx,
      this.jsScores,
    );
    return { count, indices: this.jsIdx, scores: this.jsScores };
  }

  /** A view of bitset scratch `j` (`n` words). */
  private chunkWords(j: number, n: number): Uint32Array {
    if (this.memory) return new Uint32Array(this.memory.buffer, this.scratchOff + 4 * j * CHUNK_WORDS, n);
    if (this.jsChunk.length < n) this.jsChunk = new Uint32Array(CHUNK_WORDS);
    return this.jsChunk.subarray(0, n);
  }

  /** Wasm bytes for `capacity` rows: query, scales, rows, scratch (words, indices, scores). */
  private layoutBytes(capacity: number): number {
    const scales = align(2 * this.stride);
    const rows = align(scales + 4 * capacity);
    const scratch = align(rows + this.stride * capacity);
    return scratch + WORDS_BYTES + OUT_BYTES;
  }

  /** Moves to room for `capacity` rows, keeping the rows set so far. */
  private grow(capacity: number): void {
    if (capacity <= this.cap && this.data.length > 0) return;
    const { stride } = this;
    if (!this.memory) {
      const data = new Int8Array(capacity * stride);
      data.set(this.data);
      const scales = new Float32Array(capacity);
      scales.set(this.scaleOf);
      this.data = data;
      this.scaleOf = scales;
      this.cap = capacity;
      return;
    }
    const bytes = this.layoutBytes(capacity);
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      try {
        this.memory.grow(Math.ceil((bytes - have) / WASM_PAGE));
      } catch (err) {
        throw new RangeError(`cannot grow the int8 rows to ${capacity} rows (${(err as Error).message})`, {
          cause: err,
        });
      }
    }
    const buf = this.memory.buffer as ArrayBuffer;
    const bytesView = new Uint8Array(buf);
    const scalesOff = align(2 * stride);
    const rowsOff = align(scalesOff + 4 * capacity);
    // Rows up first (they may overlap their new place), then the new scale slots are zeroed.
    const oldRows = this.cap * stride;
    if (oldRows > 0 && rowsOff !== this.rowsOff)
      bytesView.copyWithin(rowsOff, this.rowsOff, this.rowsOff + oldRows);
    // Only bytes that held something need zeroing: grown pages come zeroed (and writing them
    // here would fault in the whole region up front).
    const dirty = this.cap > 0 ? have : this.layoutBytes(0);
    bytesView.fill(0, rowsOff + oldRows, Math.min(rowsOff + capacity * stride, dirty));
    bytesView.fill(0, scalesOff + 4 * this.cap, Math.min(rowsOff, dirty));
    this.scalesOff = scalesOff;
    this.rowsOff = rowsOff;
    this.scratchOff = align(rowsOff + capacity * stride);
    this.data = new Int8Array(buf, rowsOff, capacity * stride);
    this.scaleOf = new Float32Array(buf, scalesOff, capacity);
    this.query16 = new Int16Array(buf, 0, stride);
    this.cap = capacity;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/** out[0 .. n) = AND of words[*][w0 .. w0 + n). */
function andInto(out: Uint32Array, words: readonly Uint32Array[], w0: number, n: number): void {
  const a = words[0]!;
  if (words.length === 1) {
    out.set(a.subarray(w0, w0 + n));
    return;
  }
  const b = words[1]!;
  if (words.length === 2) {
    for (let w = 0; w < n; w++) out[w] = a[w0 + w]! & b[w0 + w]!;
    return;
  }
  for (let w = 0; w < n; w++) {
    let x = a[w0 + w]! & b[w0 + w]!;
    for (let j = 2; j < words.length; j++) x &= words[j]![w0 + w]!;
    out[w] = x;
  }
}

/**
 * Writes the int8 quantization of x[xOff .. xOff + dims) to out[outOff ..] and returns its
 * float32 scale (0 for a zero or non-finite row, whose values are then all 0). Float32
 * division and ties to even, as the kernel's `f32x4.div` and `f32x4.nearest`.
 */
export function quantizeRow(
  x: Float32Array,
  xOff: number,
  dims: number,
  out: Int8Array,
  outOff: number,
): number {
  let m = 0;
  let finite = true;
  for (let j = 0; j < dims; j++) {
    const a = Math.abs(x[xOff + j]!);
    if (!(a < Infinity)) finite = false;
    else if (a > m) m = a;
  }
  if (!finite || m === 0) {
    out.fill(0, outOff, outOff + dims);
    return 0;
  }
  const s = Math.fround(m / 127);
  for (let j = 0; j < dims; j++) {
    const v = Math.fround(x[xOff + j]! / s);
    let r = Math.round(v);
    if (r - v === 0.5 && (r & 1) !== 0) r--; // Math.round sends ties up; the kernel, to even
    out[outOff + j] = r > 127 ? 127 : r < -127 ? -127 : r;
  }
  return s;
}

/** The largest |int16| query value for `dims`: keeps 127 · Q · dims inside int32. */
export function queryRange(dims: number): number {
  return Math.min(32767, Math.floor(0x7fffffff / (127 * dims)));
}

/** Writes the int16 quantization of `q` to `out` (zero padding after) and returns its float32 scale. */
export function quantizeQuery(q: Float32Array, out: Int16Array): number {
  const range = queryRange(q.length);
  let m = 0;
  for (let j = 0; j < q.length; j++) {
    const a = Math.abs(q[j]!);
    if (a > m) m = a;
  }
  out.fill(0);
  if (!(m > 0 && m < Infinity)) return 0;
  const s = Math.fround(m / range);
  for (let j = 0; j < q.length; j++) {
    const v = Math.round(q[j]! / s);
    out[j] = v > range ? range : v < -range ? -range : v;
  }
  return s;
}

/** The scan in JS (the fallback without SIMD): the kernel's integer dot products and float32 products. */
export function scanRows(
  words: Uint32Array,
  nWords: number,
  firstRow: number,
  query: Int16Array,
  data: Int8Array,
  scales: Float32Array,
  stride: number,
  qScale: number,
  minScore: number,
  outIdx: Int32Array,
  outScores: Float32Array,
): number {
  let m = 0;
  for (let w = 0; w < nWords; w++) {
    let bits = words[w]! | 0;
    while (bits !== 0) {
      const low = bits & -bits;
      const row = firstRow + (w << 5) + (31 - Math.clz32(low));
      bits ^= low;
      const o = row * stride;
      let dot = 0;
      for (let j = 0; j < stride; j++) dot += data[o + j]! * query[j]!;
      const score = Math.fround(Math.fround(Math.fround(dot) * scales[row]!) * qScale);
      if (!(score > minScore)) continue;
      outIdx[m] = row;
      outScores[m++] = score;
    }
  }
  return m;
}

/**
 * `rows`' approximate scores, computed from their int8 copies in plain JS, independently of
 * the scan (for tests): allowed rows in ascending order.
 */
export function referenceScan(
  rows: QuantizedRows,
  query: Float32Array,
  words: readonly Uint32Array[],
): ScanResult {
  const q16 = new Int16Array(rows.stride);
  const qScale = quantizeQuery(query, q16);
  const indices: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < rows.rows; i++) {
    if (!words.every((w) => ((w[i >>> 5] ?? 0) >>> (i & 31)) & 1)) continue;
    const { values, scale } = rows.row(i);
    let dot = 0;
    for (let j = 0; j < rows.dims; j++) dot += values[j]! * q16[j]!;
    indices.push(i);
    scores.push(Math.fround(Math.fround(Math.fround(dot) * scale) * qScale));
  }
  return { count: indices.length, indices: Int32Array.from(indices), scores: Float32Array.from(scores) };
}

/** The best `r` (score, row) pairs offered, ties to the lower row: a min-heap on the worst kept. */
class BestRows {
  private readonly idx: Int32Array;
  private readonly val: Float32Array;
  private size = 0;

  constructor(private readonly cap: number) {
    this.idx = new Int32Array(cap);
    this.val = new Float32Array(cap);
  }

  /**
   * Rows arrive in ascending order, so an equal score never displaces a kept row. Returns the
   * score a later row must beat to be kept (−∞ until full).
   */
  offer(rows: Int32Array, scores: Float32Array, n: number): number {
    const { idx, val, cap } = this;
    if (cap === 0) return Infinity;
    let j = 0;
    for (; j < n && this.size < cap; j++) this.push(rows[j]!, scores[j]!);
    let worst = val[0]!;
    for (; j < n; j++) {
      const v = scores[j]!;
      if (v > worst) {
        idx[0] = rows[j]!;
        val[0] = v;
        this.siftDown();
        worst = val[0]!;
      }
    }
    return this.size < cap ? -Infinity : worst;
  }

  /** The rows kept, ascending. */
  rows(): Int32Array {
    return this.idx.slice(0, this.size).sort();
  }

  /** a worse than b: lower score, or equal with the higher row. */
  private worse(a: number, b: number): boolean {
    const va = this.val[a]!;
    const vb = this.val[b]!;
    return va < vb || (va === vb && this.idx[a]! > this.idx[b]!);
  }

  private push(row: number, v: number): void {
    let j = this.size++;
    this.idx[j] = row;
    this.val[j] = v;
    while (j > 0) {
      const p = (j - 1) >> 1;
      if (!this.worse(j, p)) break;
      this.swap(j, p);
      j = p;
    }
  }

  private siftDown(): void {
    const n = this.size;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.worse(l, m)) m = l;
      if (r < n && this.worse(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const ti = this.idx[a]!;
    this.idx[a] = this.idx[b]!;
    this.idx[b] = ti;
    const tv = this.val[a]!;
    this.val[a] = this.val[b]!;
    this.val[b] = tv;
  }
}

const kernels = new Map<number, object | null>();

/** The compiled scan for rows of `stride` bytes (cached), or null without WebAssembly SIMD. */
function kernelFor(stride: number): object | null {
  if (!kernels.has(stride))
    kernels.set(stride, compileModule(moduleBytes([scanFn(stride), quantizeFn(stride)], false)));
  return kernels.get(stride)!;
}

/** The scan kernel for rows of `stride` bytes (a multiple of 8); see `ScanExports.scan`. */
export function scanFn(stride: number): Fn {
  const chunks = stride / 8;
  const fn = new Fn('scan', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, F32], [I32]);
  const [words, db, dc, nWords, firstRow, query, rows, scales, outIdx, outScores, qScale, minScore] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
  ];
  const p = fn.local(I32);
  const pEnd = fn.local(I32);
  const bits = fn.local(I32);
  const row0 = fn.local(I32);
  const o = fn.local(I32);
  const ip = fn.local(I32);
  const blockEnd = fn.local(I32);
  const tp = fn.local(I32);
  const sp = fn.local(I32);
  const row = fn.local(I32);
  const rp = fn.local(I32);
  const sink = fn.local(I32);
  const wp = fn.local(I32);
  const keep = fn.local(I32);
  const score = fn.local(F32);
  const acc = fn.local(V128);
  const qv = Array.from({ length: chunks }, () => fn.local(V128));
  // The query, widened once: chunk c holds int16 lanes 8c .. 8c + 7.
  for (let c = 0; c < chunks; c++)
    fn.get(query)
      .loadV(16 * c)
      .set(qv[c]!);

  // 1. The set bits, as row indices at outIdx; four words at a time (nWords is padded to a
  // multiple of 4 with zero words), skipping all-zero quads with one test.
  const quad = fn.local(V128);
  fn.get(outIdx).set(o);
  fn.get(words).set(p);
  fn.get(words).get(nWords).i32(3).op(0x6a).i32(-4).op(0x71).i32(4).op(0x6c, 0x6a).set(pEnd); // words + 4 · ⌈n⌉₄
  fn.get(firstRow).set(row0);
  fn.whileLoop(
    () => fn.get(p).get(pEnd).op(0x4f), // i32.ge_u
    () => {
      // a & b & c (b, c at p + db, p + dc: the same words again when unused)
      fn.get(p).loadV(0);
      fn.get(p).get(db).op(0x6a).loadV(0).simd(SIMD.V128_AND);
      fn.get(p).get(dc).op(0x6a).loadV(0).simd(SIMD.V128_AND);
      fn.tee(quad).simd(SIMD.V128_ANY_TRUE);
      fn.op(0x04, 0x40); // if
      for (let lane = 0; lane < 4; lane++) {
        fn.get(quad).simd(SIMD.I32X4_EXTRACT_LANE).op(lane).set(bits);
        fn.whileLoop(
          () => fn.get(bits).op(0x45), // i32.eqz
          () => {
            // *o = row0 + 32 · lane + ctz(bits)
            fn.get(o)
              .get(row0)
              .i32(32 * lane)
              .op(0x6a)
              .get(bits)
              .op(0x68)
              .op(0x6a)
              .storeI32(0);
            fn.get(bits).get(bits).i32(1).op(0x6b).op(0x71).set(bits); // bits &= bits - 1
            fn.bump(o, 4);
          },
        );
      }
      fn.op(0x0b); // end if
      fn.bump(p, 16).bump(row0, 128);
    },
  );

  // One byte of every cache line a row can span (rows start 64-byte aligned only when stride is a multiple of 64).
  const touchOffsets: number[] = [];
  for (let b = 0; b < stride; b += 64) touchOffsets.push(b);
  if (stride % 64 !== 0) touchOffsets.push(stride - 1);
  // 2. Block by block: touch the block's rows and scales, then score them.
  const rowAddr = (idxPtr: number) => {
    fn.get(idxPtr).loadI32(0).set(row);
    fn.get(rows).get(row).i32(stride).op(0x6c, 0x6a).set(rp);
  };
  fn.get(outIdx).set(ip);
  fn.get(outIdx).set(wp);
  fn.get(outScores).set(sp);
  fn.whileLoop(
    () => fn.get(ip).get(o).op(0x4f),
    () => {
      // blockEnd = min(ip + 4 · BLOCK_ROWS, o)
      fn.get(ip)
        .i32(4 * BLOCK_ROWS)
        .op(0x6a)
        .tee(blockEnd)
        .get(o)
        .get(blockEnd)
        .get(o)
        .op(0x48)
        .op(0x1b)
        .set(blockEnd);
      fn.get(ip).set(tp);
      fn.whileLoop(
        () => fn.get(tp).get(blockEnd).op(0x4f),
        () => {
          rowAddr(tp);
          fn.get(sink);
          for (const b of touchOffsets) fn.get(rp).loadU8(b).op(0x73); // i32.xor
          fn.get(scales).get(row).i32(4).op(0x6c, 0x6a).loadI32(0).op(0x73);
          fn.set(sink);
          fn.bump(tp, 4);
        },
      );
      fn.whileLoop(
        () => fn.get(ip).get(blockEnd).op(0x4f),
        () => {
          rowAddr(ip);
          // Σ over chunks of dot(widen(row bytes), query lanes), two chains.
          const chains = Math.min(2, chunks);
          for (let c = 0; c < chains; c++) {
            for (let k = c; k < chunks; k += chains) {
              fn.get(rp)
                .simd(SIMD.I16X8_LOAD8X8_S)
                .op(0, ...uleb(8 * k)); // memarg: align 2^0, offset
              fn.get(qv[k]!).simd(SIMD.I32X4_DOT_I16X8_S);
              if (k !== c) fn.simd(SIMD.I32X4_ADD);
            }
            if (c > 0) fn.simd(SIMD.I32X4_ADD);
          }
          fn.set(acc);
          fn.get(acc).simd(SIMD.I32X4_EXTRACT_LANE).op(0);
          for (let lane = 1; lane < 4; lane++) fn.get(acc).simd(SIMD.I32X4_EXTRACT_LANE).op(lane).op(0x6a);
          fn.op(0xb2); // f32.convert_i32_s
          fn.get(scales).get(row).i32(4).op(0x6c, 0x6a).loadF32(0).op(0x94);
          fn.get(qScale).op(0x94);
          fn.set(score);
          // Write the row and its score; keep them (advance) only above minScore. The write
          // position trails the read position, so it never clobbers a row still to score.
          fn.get(wp).get(row).storeI32(0);
          fn.get(sp).get(score).storeF32(0);
          fn.get(score).get(minScore).op(0x5e).i32(2).op(0x74).set(keep); // (score > min) << 2
          fn.get(wp).get(keep).op(0x6a).set(wp);
          fn.get(sp).get(keep).op(0x6a).set(sp);
          fn.bump(ip, 4);
        },
      );
    },
  );
  // Keep the touching loads alive: store their xor where the bitset chunk was.
  fn.get(words).get(sink).storeI32(0);
  fn.get(wp).get(outIdx).op(0x6b).i32(2).op(0x76); // (wp − outIdx) >> 2 (i32.shr_u)
  return fn;
}

/** The quantizer for rows of `stride` floats in, `stride` bytes out; see `QuantizeExports`. */
export function quantizeFn(stride: number): Fn {
  const quads = stride / 4;
  const fn = new Fn('quantize', [I32, I32, I32, I32]);
  const [src, n, dst, scales] = [0, 1, 2, 3];
  const end = fn.local(I32);
  const m = fn.local(F32);
  const s = fn.local(F32);
  const mv = fn.local(V128);
  const sv = fn.local(V128);
  const lanes = Array.from({ length: 4 }, () => fn.local(V128));
  fn.get(src)
    .get(n)
    .i32(4 * stride)
    .op(0x6c, 0x6a)
    .set(end);
  fn.whileLoop(
    () => fn.get(src).get(end).op(0x4f), // i32.ge_u
    () => {
      // m = max |x| (NaN propagates, so a NaN row reads as non-finite).
      fn.zeroV().set(mv);
      for (let k = 0; k < quads; k++)
        fn.get(mv)
          .get(src)
          .loadV(16 * k)
          .simd(SIMD.F32X4_ABS)
          .simd(SIMD.F32X4_MAX)
          .set(mv);
      fn.get(mv).simd(SIMD.F32X4_EXTRACT_LANE).op(0);
      for (let lane = 1; lane < 4; lane++) fn.get(mv).simd(SIMD.F32X4_EXTRACT_LANE).op(lane).op(0x97); // f32.max
      fn.set(m);
      // if (m > 0 && m < ∞) s = m / 127 else s = 0 (and the row quantizes to zeros: 0 · x / 0 is not used)
      fn.get(m).f32(0).op(0x5e).get(m).f32(Infinity).op(0x5d).op(0x71); // f32.gt, f32.lt, i32.and
      fn.op(0x04, 0x40); // if
      fn.get(m).f32(127).op(0x95).set(s); // f32.div
      fn.get(s).simd(SIMD.F32X4_SPLAT).set(sv);
      for (let g = 0; g < quads; g += 4) {
        const inGroup = Math.min(4, quads - g);
        for (let k = 0; k < inGroup; k++) {
          fn.get(src)
            .loadV(16 * (g + k))
            .get(sv)
            .simd(SIMD.F32X4_DIV)
            .simd(SIMD.F32X4_NEAREST)
            .simd(SIMD.I32X4_TRUNC_SAT_F32X4_S)
            .set(lanes[k]!);
        }
        // Narrow i32 → i16 → i8 (saturating; |values| ≤ 127 already).
        fn.get(dst);
        fn.get(lanes[0]!).get(lanes[1]!).simd(SIMD.I16X8_NARROW_I32X4_S);
        if (inGroup === 4) {
          fn.get(lanes[2]!).get(lanes[3]!).simd(SIMD.I16X8_NARROW_I32X4_S);
          fn.simd(SIMD.I8X16_NARROW_I16X8_S).storeV(4 * g);
        } else {
          // stride is a multiple of 8: a last half group of 8 values.
          fn.zeroV().simd(SIMD.I8X16_NARROW_I16X8_S);
          fn.simd(SIMD.V128_STORE64_LANE).op(0, ...uleb(4 * g), 0);
        }
      }
      fn.op(0x05); // else
      fn.f32(0).set(s);
      for (let k = 0; k < stride; k += 8)
        fn.get(dst)
          .zeroV()
          .simd(SIMD.V128_STORE64_LANE)
          .op(0, ...uleb(k), 0);
      fn.op(0x0b); // end if
      fn.get(scales).get(s).storeF32(0);
      fn.bump(src, 4 * stride)
        .bump(dst, stride)
        .bump(scales, 4);
    },
  );
  return fn;
}
