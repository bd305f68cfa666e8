/**
 * Item-to-item neighbours for the `similar` tier: for every item, its top-k most similar items
 * by co-occurrence in users' histories, stored as compact fixed-stride arrays.
 *
 * Similarity (Aiolli's asymmetric cosine with a shrinkage term):
 *
 *     sim(i, j) = co(i, j) / (n_i^α · n_j^(1−α) + shrink)
 *     co(i, j)  = Σ_u w_ui · w_uj          n_i = Σ_u w_ui²
 *
 * With α = 0.5 and shrink = 0 this is the cosine of the item columns. Popularity damping comes
 * from `n_j^(1−α)`: an item that co-occurs with everything has a large `n_j` and sinks in every
 * other item's list, whereas α = 1 (confidence, `co / n_i`) would put it first everywhere.
 * Lower α damps popular neighbours harder. `shrink` pulls pairs seen in few histories towards 0.
 *
 * Cost: one sparse accumulation per item over its users' rows, O(Σ_u deg(u)²) in all, with
 * users longer than `maxUserItems` down-sampled first (seeded, so the result is deterministic).
 * Memory is O(nnz + items · k): there is never a dense items × items matrix.
 */
import type { Csr } from './sparse.ts';
import { transpose } from './sparse.ts';
import { createRng } from './random.ts';
import type { TopK } from './top-k.ts';

/**
 * Top-k lists of `rows` entities (items, categories) in one fixed stride: row r's list is
 * `indices/scores[r·k .. (r+1)·k)`, ordered by score descending then index ascending, padded
 * with index −1 and score 0 after its last entry. Flat typed arrays, so each serialises as one
 * raw little-endian buffer.
 */
export interface NeighbourLists {
  /** Number of lists (items for neighbours and complements). */
  rows: number;
  /** Stride: the maximum length of one list. */
  k: number;
  indices: Int32Array;
  scores: Float32Array;
}

export interface ItemNeighboursOptions {
  /** Neighbours kept per item (clamped to items − 1). @defaultValue 50 */
  k?: number;
  /** α of the asymmetric cosine; 0.5 is the cosine, lower damps popular neighbours more. @defaultValue 0.5 */
  alpha?: number;
  /** Added to the denominator; pulls pairs with little support towards 0. @defaultValue 10 */
  shrink?: number;
  /** Use 1 for every stored entry instead of its value (the binary cosine). @defaultValue false */
  binary?: boolean;
  /**
   * Users with more items than this are down-sampled to this many (uniformly, seeded per
   * row) before counting: they cost deg² and say little about any one pair. @defaultValue 500
   */
  maxUserItems?: number;
  /** Seed of that down-sampling. @defaultValue 1 */
  seed?: number;
  /** Pairs scoring at or below this are not kept. @defaultValue 0 */
  minScore?: number;
}

/**
 * Computes every item's top-k neighbours from a users × items matrix (values = interaction
 * strength, ≥ 0; zero entries are ignored, negative ones rejected). Items without
 * co-occurrences get an empty (all −1) list; an item is never its own neighbour.
 */
export function itemNeighbours(x: Csr, options: ItemNeighboursOptions = {}): NeighbourLists {
  const items = x.cols;
  const k = Math.max(0, Math.min(options.k ?? 50, items - 1));
  const alpha = options.alpha ?? 0.5;
  const shrink = options.shrink ?? 10;
  const binary = options.binary ?? false;
  const maxUserItems = options.maxUserItems ?? 500;
  const minScore = options.minScore ?? 0;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be in [0, 1], got ${alpha}`);
  if (!(shrink >= 0)) throw new RangeError(`shrink must be >= 0, got ${shrink}`);
  if (!(maxUserItems >= 2)) throw new RangeError(`maxUserItems must be >= 2, got ${maxUserItems}`);

  const capped = capRowLength(dropZeros(x), maxUserItems, options.seed ?? 1);
  const byUser = binary ? { ...capped, values: new Float32Array(capped.indices.length).fill(1) } : capped;
  const byItem = transpose(byUser);

  // n_i^α and n_j^(1−α) once per item.
  const powA = new Float64Array(items);
  const powB = new Float64Array(items);
  for (let i = 0; i < items; i++) {
    let n = 0;
    for (let p = byItem.indptr[i]!; p < byItem.indptr[i + 1]!; p++) n += byItem.values[p]! ** 2;
    powA[i] = n ** alpha;
    powB[i] = n ** (1 - alpha);
  }

  const out: NeighbourLists = {
    rows: items,
    k,
    indices: new Int32Array(items * k).fill(-1),
    scores: new Float32Array(items * k),
  };
  if (k === 0) return out;

  // acc[j] = co(i, j) for the current i; 0 marks "not touched yet", and every touched entry is
  // reset to 0 once read, so there is no clearing pass and no separate marker array.
  const acc = new Float64Array(items);
  const touched = new Int32Array(items);
  const selector = new TopKSelector(k);
  const uPtr = byUser.indptr;
  const uIdx = byUser.indices;
  const uVal = byUser.values;

  for (let i = 0; i < items; i++) {
    let nTouched = 0;
    for (let p = byItem.indptr[i]!; p < byItem.indptr[i + 1]!; p++) {
      const u = byItem.indices[p]!;
      const wi = byItem.values[p]!;
      for (let q = uPtr[u]!, end = uPtr[u + 1]!; q < end; q++) {
        const j = uIdx[q]!;
        const a = acc[j]!;
        // Values are > 0, so acc[j] is 0 exactly until j's first product.
        if (a === 0) touched[nTouched++] = j;
        acc[j] = a + wi * uVal[q]!;
      }
    }
    selector.reset();
    const left = powA[i]!;
    for (let t = 0; t < nTouched; t++) {
      const j = touched[t]!;
      const co = acc[j]!;
      acc[j] = 0;
      if (j === i) continue;
      const s = co / (left * powB[j]! + shrink);
      if (s > minScore) selector.push(j, s);
    }
    selector.writeInto(out.indices, out.scores, i * k);
  }
  return out;
}

/** Row `r`'s list without its padding (views, no copy). */
export function neighboursOf(lists: NeighbourLists, r: number): TopK {
  if (!(r >= 0 && r < lists.rows)) throw new RangeError(`row ${r} out of range [0, ${lists.rows})`);
  const start = r * lists.k;
  let end = start;
  while (end < start + lists.k && lists.indices[end]! >= 0) end++;
  return { indices: lists.indices.subarray(start, end), scores: lists.scores.subarray(start, end) };
}

/**
 * Returns `m` with every row longer than `max` replaced by a uniform sample of `max` of its
 * entries (columns stay ascending). Each row's sample comes from its own generator seeded by
 * (seed, row), so it does not depend on the other rows. Returns `m` itself when no row is long.
 */
export function capRowLength(m: Csr, max: number, seed: number): Csr {
  let nnz = 0;
  let long = false;
  for (let r = 0; r < m.rows; r++) {
    const len = m.indptr[r + 1]! - m.indptr[r]!;
    if (len > max) long = true;
    nnz += Math.min(len, max);
  }
  if (!long) return m;
  const indptr = new Int32Array(m.rows + 1);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let scratch = new Int32Array(0);
  let o = 0;
  for (let r = 0; r < m.rows; r++) {
    const start = m.indptr[r]!;
    const len = m.indptr[r + 1]! - start;
    if (len <= max) {
      indices.set(m.indices.subarray(start, start + len), o);
      values.set(m.values.subarray(start, start + len), o);
      o += len;
    } else {
      if (scratch.length < len) scratch = new Int32Array(len);
      for (let p = 0; p < len; p++) scratch[p] = p;
      // Partial Fisher–Yates: the first `max` slots become the sample.
      const rng = createRng((seed ^ Math.imul(r + 1, 0x9e3779b1)) >>> 0);
      for (let p = 0; p < max; p++) {
        const q = p + rng.int(len - p);
        const t = scratch[p]!;
        scratch[p] = scratch[q]!;
        scratch[q] = t;
      }
      const chosen = scratch.subarray(0, max).sort();
      for (let p = 0; p < max; p++) {
        indices[o] = m.indices[start + chosen[p]!]!;
        values[o] = m.values[start + chosen[p]!]!;
        o++;
      }
    }
    indptr[r + 1] = o;
  }
  return { rows: m.rows, cols: m.cols, indptr, indices, values };
}

/** `m` without its zero entries (itself when it has none); throws on negative or NaN values. */
function dropZeros(m: Csr): Csr {
  let zeros = 0;
  for (let p = 0; p < m.values.length; p++) {
    const v = m.values[p]!;
    if (!(v >= 0 && v < Infinity)) throw new RangeError(`values must be finite and >= 0, got ${v} at ${p}`);
    if (v === 0) zeros++;
  }
  if (zeros === 0) return m;
  const nnz = m.values.length - zeros;
  const indptr = new Int32Array(m.rows + 1);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let o = 0;
  for (let r = 0; r < m.rows; r++) {
    for (let p = m.indptr[r]!; p < m.indptr[r + 1]!; p++) {
      if (m.values[p] === 0) continue;
      indices[o] = m.indices[p]!;
      values[o++] = m.values[p]!;
    }
    indptr[r + 1] = o;
  }
  return { rows: m.rows, cols: m.cols, indptr, indices, values };
}

/**
 * Bounded top-k over candidates pushed one at a time (a sparse complement to `topK`, which
 * scans a dense vector). Scores are rounded to float32 before comparing, so the written lists
 * are ordered exactly by their stored score descending, then index ascending.
 */
export class TopKSelector {
  readonly k: number;
  private readonly heapIdx: Int32Array;
  private readonly heapVal: Float32Array;
  private size = 0;

  constructor(k: number) {
    if (!(k >= 0 && Number.isInteger(k))) throw new RangeError(`k must be a non-negative integer, got ${k}`);
    this.k = k;
    this.heapIdx = new Int32Array(k);
    this.heapVal = new Float32Array(k);
  }

  reset(): void {
    this.size = 0;
  }

  /** Offers a candidate; NaN scores are ignored. */
  push(index: number, score: number): void {
    if (this.k === 0 || Number.isNaN(score)) return;
    const v = Math.fround(score);
    const hi = this.heapIdx;
    const hv = this.heapVal;
    if (this.size < this.k) {
      let j = this.size++;
      hi[j] = index;
      hv[j] = v;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (!worse(hi[j]!, hv[j]!, hi[p]!, hv[p]!)) break;
        this.swap(j, p);
        j = p;
      }
    } else if (worse(hi[0]!, hv[0]!, index, v)) {
      hi[0] = index;
      hv[0] = v;
      this.siftDown(0);
    }
  }

  /**
   * Writes the kept candidates, best first, into `indices/scores[offset .. offset+k)`, pads
   * the rest with −1 / 0, and empties the selector. Returns the number written.
   */
  writeInto(indices: Int32Array, scores: Float32Array, offset: number): number {
    const n = this.size;
    for (let j = n; j < this.k; j++) {
      indices[offset + j] = -1;
      scores[offset + j] = 0;
    }
    for (let j = n - 1; j >= 0; j--) {
      indices[offset + j] = this.heapIdx[0]!;
      scores[offset + j] = this.heapVal[0]!;
      this.swap(0, --this.size);
      this.siftDown(0);
    }
    return n;
  }

  private siftDown(i: number): void {
    const hi = this.heapIdx;
    const hv = this.heapVal;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && worse(hi[l]!, hv[l]!, hi[m]!, hv[m]!)) m = l;
      if (r < this.size && worse(hi[r]!, hv[r]!, hi[m]!, hv[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const hi = this.heapIdx;
    const hv = this.heapVal;
    const ti = hi[a]!;
    hi[a] = hi[b]!;
    hi[b] = ti;
    const tv = hv[a]!;
    hv[a] = hv[b]!;
    hv[b] = tv;
  }
}

/** `a` ranks below `b`: lower score, or the same score and a larger index. */
function worse(ia: number, va: number, ib: number, vb: number): boolean {
  return va < vb || (va === vb && ia > ib);
}
