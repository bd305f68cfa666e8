/**
 * Approximate top-k by inner product over hnswlib graphs (hnswlib-node, `ip` space).
 *
 * **Norm strata.** Inner product is not a metric, and on vectors whose norms differ (ALS item
 * factors: popular items are long) hnswlib's link pruning keeps long items in every list and
 * drops short ones. Measured on one graph over 1M × 64 clustered vectors with log-normal
 * norms: 76% of the items have no incoming link and only 24% are reachable from the entry
 * point. The top 20 of an unfiltered query are mostly long items, so its recall still looks
 * fine (0.96), but a filter that needs the items below them finds about half (recall@20 0.44
 * with 10% of the items allowed; 0.63 with M = 32). So the items are split by norm into
 * strata, one graph each (norm ranging, as in Yan et al., "Norm-Ranging LSH for Maximum
 * Inner Product Search", NeurIPS 2018): inside a stratum the norms are within ~1.3× and
 * inner product behaves almost like a metric (≥ 95% of items reachable). The longest stratum
 * also takes the tail of norms, so it gets twice the links. A search visits the strata
 * longest first, pools the best allowed items, and skips a stratum once |q| · (its largest
 * norm) cannot beat the pool's k-th score.
 *
 * **Filters** never use hnswlib's per-candidate JS filter callback (measured in the
 * benchmark: 24–42 ms at 1% allowed of 1M). A filter allowing at most `exactMaxAllowed` items,
 * so few that the first fetch would pass `maxFetch`, or fewer than a graph search would cost
 * (`scanRowsPerEf`; at 1M: up to ~10% allowed) is answered by scanning the allowed items.
 * Otherwise every stratum is over-fetched: about `k · overFetch / fraction` neighbours
 * unfiltered (less margin for a filter that allows nearly everything; ef scaled to match),
 * the allowed ones pooled; while the stratum's last fetched score still beats the pool's k-th
 * (deeper items could enter the top k) the fetch grows ×4, and once that is deeper than
 * `maxFetch` or dearer than scanning the stratum's allowed items, they are scanned.
 *
 * **Scans** score the allowed items on int8 copies of the rows (`QuantizedRows`, a
 * WebAssembly SIMD kernel; one cache line per 64-dim row instead of four, ~4–5× faster on
 * scattered rows) and re-score the best few (`rescore`) in float32.
 *
 * **Scores** come from the JS copy of the vectors (the model version's buffer, shared, not
 * copied), so they and the tie order are exactly those of `ExactIndex`.
 *
 * **Lifecycle.** Built at publish time, seeded (stratum s gets seed + s in `initIndex`; same
 * seed → same graphs → same answers), saved with hnswlib's `writeIndex` and loaded with
 * `readIndex` (a file read on a worker thread, no rebuild; the int8 copies are made meanwhile,
 * ~0.4 s at 1M × 64). `add` puts an item in the stratum of its norm (moving it if its norm
 * changed), growing the graph with `resizeIndex` (×1.5), and re-quantizes its row; `remove`
 * uses `markDelete` (and the live bitset keeps it out of scans).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import hnswlib from 'hnswlib-node';
import type { HierarchicalNSW } from 'hnswlib-node';
import type { Vectors } from '../../models/matrix.ts';
import type { AnnIndex, AnnResult } from './ann-index.ts';
import { AnnIndexError } from '../errors.ts';
import type { HnswParams, StratumMeta } from './index-file.ts';
import {
  decodeWords,
  encodeWords,
  INDEX_FILE_FORMAT,
  INDEX_FILE_VERSION,
  readMeta,
  writeMeta,
} from './index-file.ts';
import { countBits, ItemFilter } from './item-filter.ts';
import { QuantizedRows } from './quantized-rows.ts';
import { dotF32 } from '../../models/dot.ts';
import { checkItem, checkQuery, checkVectors, scoreRowsInto, VectorStore } from './vector-store.ts';

/** How searches run; can differ between the process that built and the one that loads. */
export interface HnswSearchOptions {
  /**
   * hnswlib `ef` per stratum for an unfiltered top k = 20 (scaled with the depth a search
   * asks for). Tuned to recall@20 ≥ 0.95 on 1M × 64 clustered vectors (6 strata), see
   * benchmarks/serving-index.ts.
   * @defaultValue 32
   */
  efSearch?: number;
  /**
   * A filter allowing at most this many items is answered by a scan of those items (int8 at
   * ~0.3 ms per 10k scattered items at 64 dims, float32 ~1.5 ms). So is one whose first fetch
   * `k · overFetch / fraction` would exceed `maxFetch` (under ~2% allowed).
   * @defaultValue 5000
   */
  exactMaxAllowed?: number;
  /**
   * First fetch per stratum: `k / fraction · (1 + (overFetch − 1)(1 − fraction))` neighbours
   * (≈ `k · overFetch / fraction` for a selective filter, ≈ `k` for one that allows almost all).
   * @defaultValue 2
   */
  overFetch?: number;
  /** The largest fetch per stratum; past it the stratum's allowed items are scanned. @defaultValue 2048 */
  maxFetch?: number;
  /**
   * Scans (a filter's allowed items, or a stratum's) score the items on their int8 copies,
   * keep the best `max(rescore · k, k + 32)` and re-score those in float32; 0 scores every
   * allowed item in float32 (the int8 copies are kept either way). At 1M × 64 clustered rows
   * even `rescore` 1 kept recall@20 and @100 at 1.0 against exact search (1–50% allowed).
   * @defaultValue 4
   */
  rescore?: number;
  /**
   * Int8 scans stand in for graph searches where they are cheaper: measured at 1M × 64, an
   * hnswlib search costs ~1 µs per unit of ef plus the float32 re-scoring of what it returns,
   * an int8 scan 20–30 ns per allowed row (the crossover for a filter: ~10% allowed). So a
   * filter allowing at most `scanRowsPerEf` × the ef its search would spend over the strata
   * (first fetches only) is answered by one scan, and a stratum is scanned instead of fetched
   * when its allowed items (estimated: the filter's fraction of its live items) are at most
   * `scanRowsPerEf` × the fetch's ef. 0: scans only as `exactMaxAllowed` and `maxFetch` say.
   * @defaultValue 60
   */
  scanRowsPerEf?: number;
}

export interface HnswBuildOptions extends HnswSearchOptions {
  /**
   * At most this many graphs, by item norm (see above); 1 = one plain inner-product graph.
   * The strata split the log-norm range of the middle 99% of items into equal widths, as
   * many as it takes to keep each stratum's longest/shortest norm ratio ≤ `strataNormRatio`
   * (the two end strata also take the tails), and merge strata under `minStratumSize` items.
   * @defaultValue 8
   */
  strata?: number;
  /** @defaultValue 1.3 */
  strataNormRatio?: number;
  /** @defaultValue 1000 */
  minStratumSize?: number;
  /** The longest stratum, when it holds at most half the items, gets `m · topStratumLinks` links. @defaultValue 2 */
  topStratumLinks?: number;
  /** hnswlib M: links per node (2M on the base layer). @defaultValue 16 */
  m?: number;
  /** hnswlib efConstruction. @defaultValue 100 */
  efConstruction?: number;
  /** Seed of hnswlib's level generator (stratum s uses seed + s). @defaultValue 42 */
  seed?: number;
  /** Only these rows are added (e.g. the active items); default: every row. */
  include?: ItemFilter;
  /** Called now and then during the build (which yields to the event loop every ~20 ms). */
  onProgress?: (done: number, total: number) => void;
  /** Ends the build at its next yield: it rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface HnswLoadOptions extends HnswSearchOptions {
  /**
   * The vectors the index was built from (the model version's item vectors, already in
   * memory), used in place. Rows the index has beyond them (items added after the build) are
   * read back from the graphs; without `vectors`, every row is (slow: about a second per
   * million items). A sample of rows is checked against the graphs.
   */
  vectors?: Vectors;
}

/** Counters of how `search` answered (for metrics, and for tests of the strategy). */
export interface HnswSearchCounts {
  /** Unfiltered searches through the graphs. */
  unfiltered: number;
  /** Filters small enough to score every allowed item. */
  filteredExact: number;
  /** Filters answered through the graphs. */
  filteredGraph: number;
  /** Stratum searches that went 4× deeper. */
  deeper: number;
  /** Strata whose allowed items were scanned exactly after over-fetching fell short. */
  stratumScans: number;
  /** Strata scanned instead of searched because the scan was the cheaper (`scanRowsPerEf`). */
  stratumScansByCost: number;
  /** Strata skipped because their norms could not beat the k-th score. */
  strataSkipped: number;
}

interface Stratum {
  graph: HierarchicalNSW;
  /** Items whose current vector lives in this graph (live or marked deleted). */
  members: Uint32Array;
  /** Live members. */
  live: number;
  /** Items with at least this norm belong here (the last stratum: 0). */
  minNorm: number;
  /** The largest norm ever put here (the bound that lets a search skip the stratum). */
  maxNorm: number;
}

const DEFAULTS = {
  efSearch: 32,
  exactMaxAllowed: 5000,
  overFetch: 2,
  maxFetch: 2048,
  rescore: 4,
  scanRowsPerEf: 60,
};
/** What a build uses unless told otherwise (the serving benchmarks measure these too). */
export const HNSW_BUILD_DEFAULTS = {
  strata: 8,
  strataNormRatio: 1.3,
  minStratumSize: 1000,
  topStratumLinks: 2,
  m: 16,
  efConstruction: 100,
  seed: 42,
};
/** Rows compared with the graphs' copies when loading with caller-given vectors. */
const CHECKED_ROWS = 32;
const NO_STRATUM = 255;

const EMPTY: AnnResult = { indices: new Int32Array(0), scores: new Float32Array(0) };

export class HnswIndex implements AnnIndex {
  readonly kind = 'hnsw';
  readonly counts: HnswSearchCounts = {
    unfiltered: 0,
    filteredExact: 0,
    filteredGraph: 0,
    deeper: 0,
    stratumScans: 0,
    stratumScansByCost: 0,
    strataSkipped: 0,
  };
  /** A vector as hnswlib takes it (a plain array); reused for queries and points. */
  private readonly plain: number[];
  /** Which stratum holds each item (NO_STRATUM: none). */
  private stratumOf: Uint8Array;
  private search_: Required<HnswSearchOptions>;
  // Scratch, grown on demand: fetched labels and scores, the pool of allowed candidates.
  private fetched = new Int32Array(0);
  private fetchedScores = new Float32Array(0);
  private pool = new Int32Array(0);
  private poolScores = new Float32Array(0);
  /** A copy of the pool's scores to sort for the k-th (reused: searches allocate little). */
  private sortedScores = new Float32Array(0);
  private stratumWords = new Uint32Array(0);

  private constructor(
    private readonly strata: Stratum[],
    private readonly store: VectorStore,
    /** int8 copies of the store's rows (every row of its buffer), for exact scans. */
    private readonly quant: QuantizedRows,
    private readonly params: Omit<HnswParams, 'efSearch'>,
    search: HnswSearchOptions,
  ) {
    this.plain = new Array<number>(store.dims).fill(0);
    this.stratumOf = new Uint8Array(Math.max(store.capacity, store.itemSpace)).fill(NO_STRATUM);
    strata.forEach((s, j) => {
      for (const i of ItemFilter.fromWords(s.members).items()) this.stratumOf[i] = j;
    });
    this.search_ = { ...DEFAULTS };
    this.configure(search);
  }

  /** Builds the graphs over the rows of `vectors` (taken without copying). */
  static async build(vectors: Vectors, options: HnswBuildOptions = {}): Promise<HnswIndex> {
    checkVectors(vectors);
    options.signal?.throwIfAborted();
    const { rows, cols } = vectors;
    const p = {
      ...HNSW_BUILD_DEFAULTS,
      ...pick(options, [
        'strata',
        'strataNormRatio',
        'minStratumSize',
        'topStratumLinks',
        'm',
        'efConstruction',
        'seed',
      ]),
    };
    if (!Number.isInteger(p.strata) || p.strata < 1 || p.strata >= NO_STRATUM) {
      throw new RangeError(`strata must be an integer in [1, ${NO_STRATUM}), got ${p.strata}`);
    }
    const store = new VectorStore(cols, vectors.data.subarray(0, rows * cols));
    const items: number[] = [];
    const norms = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      if (options.include && !options.include.has(i)) continue;
      items.push(i);
      const row = store.row(i);
      for (let j = 0; j < cols; j++) {
        if (!Number.isFinite(row[j]!)) throw new RangeError(`vector of item ${i} has a non-finite value`);
      }
      norms[i] = Math.sqrt(dotF32(store.data, i * cols, row, 0, cols));
    }
    // Longest first; inside a stratum, rows in index order.
    const byNorm = Int32Array.from(items).sort((a, b) => norms[b]! - norms[a]! || a - b);
    const total = byNorm.length;
    const bounds = planStrata(
      Float64Array.from(byNorm, (i) => norms[i]!),
      p.strata,
      p.strataNormRatio,
      p.minStratumSize,
    );
    const strata: Stratum[] = [];
    let from = 0;
    for (const [s, minNorm] of bounds.entries()) {
      let to = from;
      while (to < total && norms[byNorm[to]!]! >= minNorm) to++;
      const graph = new hnswlib.HierarchicalNSW('ip', cols);
      // The longest stratum also takes the tail of norms (the widest ratio, so the most
      // pruning) and holds most top results: twice the links, for a few % more memory, while
      // it is the minority it is meant to be. Holding most items (norms bunched, a few near
      // zero below), it is the whole graph: twice the links would double the build for
      // nothing (100k demo items: 28 s against 13 s, recall@20 0.952 against 0.949).
      const top = s === 0 && bounds.length > 1 && (to - from) * 2 <= total;
      const m = top ? p.m * p.topStratumLinks : p.m;
      graph.initIndex(Math.max(to - from, 16), m, p.efConstruction, p.seed + s);
      const members = new Uint32Array((rows + 31) >>> 5);
      for (let t = from; t < to; t++) members[byNorm[t]! >>> 5]! |= 1 << (byNorm[t]! & 31);
      strata.push({ graph, members, live: 0, minNorm, maxNorm: to > from ? norms[byNorm[from]!]! : 0 });
      from = to;
    }
    const quant = QuantizedRows.create(cols, rows);
    quant.setAll(store.data, rows);
    const index = new HnswIndex(
      strata,
      store,
      quant,
      { m: p.m, efConstruction: p.efConstruction, seed: p.seed },
      options,
    );
    let done = 0;
    let last = performance.now();
    for (const [s, stratum] of strata.entries()) {
      for (const i of ItemFilter.fromWords(stratum.members).items()) {
        stratum.graph.addPoint(index.asPlain(store.row(i)), i);
        store.markLive(i);
        index.stratumOf[i] = s;
        stratum.live++;
        if ((++done & 255) === 0 && performance.now() - last > 20) {
          options.onProgress?.(done, total);
          await yieldToEventLoop();
          options.signal?.throwIfAborted();
          last = performance.now();
        }
      }
    }
    options.onProgress?.(done, total);
    return index;
  }

  /** Reads an index written by `save`. */
  static async load(path: string, options: HnswLoadOptions = {}): Promise<HnswIndex> {
    const meta = await readMeta(path, 'hnsw');
    const { dims, itemSpace } = meta;
    const { m, efConstruction, seed, efSearch, strata: saved } = meta.hnsw!;
    const live = decodeWords(meta.live, 'live', itemSpace);
    let given = 0;
    let data: Float32Array = new Float32Array(itemSpace * dims);
    if (options.vectors) {
      checkVectors(options.vectors);
      if (options.vectors.cols !== dims) {
        throw new AnnIndexError(`${path}: index has ${dims} dims, vectors have ${options.vectors.cols}`);
      }
      given = Math.min(options.vectors.rows, itemSpace);
      if (given === itemSpace) data = options.vectors.data.subarray(0, itemSpace * dims);
      else data.set(options.vectors.data.subarray(0, given * dims));
    }
    // The graphs are read on the thread pool: quantize the rows given meanwhile, a slice
    // while each graph is read.
    const quant = QuantizedRows.create(dims, itemSpace);
    let quantized = 0;
    const strata = await readStrata(path, saved, dims, itemSpace, live, (s) => {
      const to = Math.round((given * (s + 1)) / saved.length);
      quant.setAll(data, to, quantized);
      quantized = to;
    });
    quant.setAll(data, given, quantized);
    const graphOf = (i: number) =>
      strata.find((st) => ((st.members[i >>> 5]! >>> (i & 31)) & 1) === 1)?.graph;
    const isLive = (i: number) => ((live[i >>> 5]! >>> (i & 31)) & 1) === 1;
    // Rows the caller did not give: read them back from the graphs.
    for (let i = given; i < itemSpace; i++) {
      if (!isLive(i)) continue;
      data.set(graphOf(i)!.getPoint(i), i * dims);
      quant.set(i, data.subarray(i * dims, (i + 1) * dims));
    }
    // Rows the caller gave: check a spread sample against the graphs' copies.
    for (let c = 0; c < CHECKED_ROWS && given > 0; c++) {
      const i = Math.floor(((c + 0.5) * given) / CHECKED_ROWS);
      if (!isLive(i)) continue;
      const stored = graphOf(i)!.getPoint(i);
      for (let j = 0; j < dims; j++) {
        if (Math.fround(stored[j]!) !== data[i * dims + j]) {
          throw new AnnIndexError(`${path}: the vectors given do not match the index (item ${i})`);
        }
      }
    }
    const store = new VectorStore(dims, data);
    store.restoreLive(live, itemSpace, meta.size);
    return new HnswIndex(
      strata,
      store,
      quant,
      { m, efConstruction, seed },
      { efSearch, ...definedOnly(options) },
    );
  }

  get dims(): number {
    return this.store.dims;
  }

  get size(): number {
    return this.store.size;
  }

  get itemSpace(): number {
    return this.store.itemSpace;
  }

  /** Memory held by the int8 copies of the rows (part of what loading the index costs). */
  get quantizedBytes(): number {
    return this.quant.bytes;
  }

  /** The number of norm strata (graphs). */
  get strataCount(): number {
    return this.strata.length;
  }

  /** The search settings in force. */
  get searchOptions(): Readonly<Required<HnswSearchOptions>> {
    return this.search_;
  }

  /** Changes search settings (e.g. `efSearch` after tuning). */
  configure(options: HnswSearchOptions): void {
    const next = { ...this.search_, ...definedOnly(options) };
    for (const [name, v] of Object.entries(next)) {
      const min = name === 'efSearch' || name === 'overFetch' || name === 'maxFetch' ? 1 : 0;
      if (!(typeof v === 'number' && v >= min))
        throw new RangeError(`${name} must be a number ≥ ${min}, got ${v}`);
    }
    this.search_ = next;
  }

  search(query: Float32Array, k: number, filter?: ItemFilter): AnnResult {
    checkQuery(query, this.dims, k);
    k = Math.floor(k);
    const live = this.store.size;
    if (k === 0 || live === 0) return EMPTY;
    if (!filter) {
      if (k >= live) return this.store.search(query, k);
      this.counts.unfiltered++;
      return this.searchStrata(query, k, 1);
    }
    const allowed = filter.count;
    if (allowed === 0) return EMPTY;
    const { exactMaxAllowed, overFetch, maxFetch, rescore, scanRowsPerEf } = this.search_;
    const fraction = Math.min(1, allowed / live);
    // Few allowed items, so few that the first fetch would already be too deep, or fewer than
    // the graphs would cost (int8 scans only): score them.
    if (
      allowed <= exactMaxAllowed ||
      firstFetchFor(k, fraction, overFetch) > maxFetch ||
      (rescore > 0 && allowed <= scanRowsPerEf * this.graphEf(k, fraction))
    ) {
      this.counts.filteredExact++;
      return this.scan(query, k, filter);
    }
    this.counts.filteredGraph++;
    return this.searchStrata(query, k, fraction, filter);
  }

  has(itemIndex: number): boolean {
    return this.store.isLive(itemIndex);
  }

  vector(itemIndex: number): Float32Array | null {
    return this.store.isLive(itemIndex) ? this.store.row(itemIndex) : null;
  }

  add(itemIndex: number, vector: Float32Array): void {
    checkItem(itemIndex);
    const wasLive = this.store.isLive(itemIndex);
    this.store.set(itemIndex, vector);
    this.quant.set(itemIndex, vector);
    const norm = Math.sqrt(dotF32(vector, 0, vector, 0, vector.length));
    let to = this.strata.findIndex((s) => norm >= s.minNorm);
    if (to < 0) to = this.strata.length - 1;
    if (itemIndex >= this.stratumOf.length) {
      const grown = new Uint8Array(Math.max(itemIndex + 1, Math.ceil(this.stratumOf.length * 1.5))).fill(
        NO_STRATUM,
      );
      grown.set(this.stratumOf);
      this.stratumOf = grown;
    }
    const from = this.stratumOf[itemIndex]!;
    if (from !== NO_STRATUM && from !== to) {
      const old = this.strata[from]!;
      if (wasLive) {
        old.graph.markDelete(itemIndex);
        old.live--;
      }
      old.members[itemIndex >>> 5]! &= ~(1 << (itemIndex & 31));
    }
    const st = this.strata[to]!;
    const { graph } = st;
    // A label the graph already has (even deleted) is updated in place: hnswlib replaces the
    // vector, repairs the links and clears the deletion. A new one may need room.
    if (graph.getCurrentCount() >= graph.getMaxElements()) {
      graph.resizeIndex(Math.ceil(graph.getMaxElements() * 1.5) + 16);
    }
    graph.addPoint(this.asPlain(vector), itemIndex);
    if (!(wasLive && from === to)) st.live++;
    const w = itemIndex >>> 5;
    if (w >= st.members.length) {
      for (const s of this.strata) {
        const grown = new Uint32Array(Math.max(w + 1, Math.ceil(s.members.length * 1.5)));
        grown.set(s.members);
        s.members = grown;
      }
    }
    st.members[w]! |= 1 << (itemIndex & 31);
    st.maxNorm = Math.max(st.maxNorm, norm);
    this.stratumOf[itemIndex] = to;
  }

  remove(itemIndex: number): boolean {
    if (!this.store.unset(itemIndex)) return false;
    const st = this.strata[this.stratumOf[itemIndex]!]!;
    st.graph.markDelete(itemIndex);
    st.live--;
    return true;
  }

  async save(path: string): Promise<string[]> {
    const files: string[] = [];
    for (const [s, st] of this.strata.entries()) {
      const file = graphPath(path, s);
      try {
        await st.graph.writeIndex(file);
      } catch (err) {
        throw new AnnIndexError(`${file}: cannot write the graph (${(err as Error).message})`);
      }
      files.push(file);
    }
    const space = this.store.itemSpace;
    const words = (space + 31) >>> 5;
    const exactly = (w: Uint32Array) => {
      const out = new Uint32Array(words);
      out.set(w.subarray(0, words));
      return encodeWords(out);
    };
    files.push(
      await writeMeta(path, {
        format: INDEX_FILE_FORMAT,
        version: INDEX_FILE_VERSION,
        kind: 'hnsw',
        dims: this.dims,
        itemSpace: space,
        size: this.size,
        live: exactly(this.store.live),
        hnsw: {
          ...this.params,
          efSearch: this.search_.efSearch,
          strata: this.strata.map((st) => ({
            minNorm: st.minNorm,
            maxNorm: st.maxNorm,
            members: exactly(st.members),
          })),
        },
      }),
    );
    return files;
  }

  /**
   * The alternative `search` avoids: hnswlib's own filtered search, which calls back into JS
   * for every candidate it considers (here per stratum, merged). Kept to measure against
   * (benchmarks/serving-index.ts), not for the hot path.
   */
  searchWithFilterCallback(query: Float32Array, k: number, filter: ItemFilter): AnnResult {
    checkQuery(query, this.dims, k);
    const q = this.asPlain(query);
    const labels: number[] = [];
    for (const st of this.strata) {
      st.graph.setEf(this.search_.efSearch);
      const n = Math.min(Math.floor(k), st.graph.getMaxElements());
      labels.push(...st.graph.searchKnn(q, n, (label) => filter.has(label)).neighbors);
    }
    const kept = Int32Array.from(labels).sort();
    return this.store.rescore(query, kept, kept.length, k);
  }

  /** `v` as a plain array for hnswlib, in a reused buffer. */
  private asPlain(v: Float32Array): number[] {
    const p = this.plain;
    for (let j = 0; j < p.length; j++) p[j] = v[j]!;
    return p;
  }

  /**
   * The strata, longest first, into a pool of allowed candidates; then the pool's best k
   * (re-scored in ascending item order, so ties go to the lower index).
   */
  private searchStrata(query: Float32Array, k: number, fraction: number, filter?: ItemFilter): AnnResult {
    const { overFetch, maxFetch, rescore, scanRowsPerEf, efSearch } = this.search_;
    const d = this.dims;
    const qNorm = Math.sqrt(dotF32(query, 0, query, 0, d));
    const q = this.asPlain(query);
    const firstFetch = filter ? firstFetchFor(k, fraction, overFetch) : k;
    const baseFetch = filter ? k * overFetch : k;
    const efFor = (fetch: number) => efForFetch(fetch, firstFetch, baseFetch, efSearch);
    let pooled = 0;
    let kth = -Infinity;
    for (const st of this.strata) {
      if (st.live === 0) continue;
      if (pooled >= k && qNorm * st.maxNorm < kth) {
        this.counts.strataSkipped++;
        continue;
      }
      const start = pooled;
      // Once the pool holds k, a stratum usually adds only a few: start it 4× shallower and
      // let the `last > kth` test take it deeper when it has more to give.
      let fetch = pooled >= k ? Math.ceil(firstFetch / 4) : firstFetch;
      // Its allowed items, about (a filter's fraction is assumed the same in every stratum).
      const allowedHere = filter ? fraction * st.live : st.live;
      for (;;) {
        pooled = start;
        // Scanning the stratum costs no more than a fetch this deep (int8 scans only: float32
        // ones cost ~4× as much).
        const cheaper = filter !== undefined && rescore > 0 && allowedHere <= scanRowsPerEf * efFor(fetch);
        if (fetch > maxFetch || fetch >= st.live || cheaper) {
          // Too deep for the graph, cheaper to scan, or the stratum is small: score its allowed items.
          if (fetch > maxFetch) this.counts.stratumScans++;
          else if (cheaper) this.counts.stratumScansByCost++;
          const found = this.scan(query, k, filter, st);
          pooled = this.addToPool(pooled, found.indices, found.scores, found.indices.length);
          break;
        }
        st.graph.setEf(efFor(fetch));
        const labels = st.graph.searchKnn(q, fetch).neighbors;
        const n = labels.length;
        if (this.fetched.length < n) {
          this.fetched = new Int32Array(n);
          this.fetchedScores = new Float32Array(n);
        }
        const ids = this.fetched;
        const scores = this.fetchedScores;
        let last = Infinity;
        for (let j = 0; j < n; j++) ids[j] = labels[j]!;
        scoreRowsInto(this.store.data, d, query, ids, n, scores);
        let kept = 0;
        for (let j = 0; j < n; j++) {
          if (scores[j]! < last) last = scores[j]!;
          if (!filter || filter.has(ids[j]!)) {
            ids[kept] = ids[j]!;
            scores[kept++] = scores[j]!;
          }
        }
        pooled = this.addToPool(pooled, ids, scores, kept);
        kth = this.kthScore(pooled, k);
        // Done with this stratum when it has nothing deeper, or nothing deeper can beat the k-th.
        if (n < fetch || (pooled >= k && last <= kth)) break;
        this.counts.deeper++;
        fetch *= 4;
      }
      kth = this.kthScore(pooled, k);
    }
    const best = this.pool.subarray(0, pooled).sort();
    return this.store.rescore(query, best, pooled, k);
  }

  /**
   * Exact top k of the live items allowed by `filter` (and in `stratum`): the best
   * `max(rescore · k, k + 32)` by their int8 scores, re-scored in float32, so the scores and
   * tie order are those of `ExactIndex` (the items can differ only where int8 rounding swaps
   * an item at the edge of the kept set; see test/unit/index/hnsw-index.test.ts for recall).
   */
  private scan(query: Float32Array, k: number, filter?: ItemFilter, stratum?: Stratum): AnnResult {
    const { rescore } = this.search_;
    const keep = rescore === 0 ? 0 : Math.max(Math.ceil(rescore * k), k + 32);
    // Too few allowed items to be worth a first pass (or none wanted): all in float32.
    if (keep === 0 || (!stratum && filter && filter.count <= keep)) {
      return this.store.search(query, k, stratum ? this.stratumFilter(stratum, filter) : filter);
    }
    const words = [this.store.live];
    if (filter) words.push(filter.words);
    if (stratum) words.push(stratum.members);
    const best = this.quant.best(query, words, keep);
    return this.store.rescore(query, best, best.length, k);
  }

  /**
   * The ef a filtered search through the graphs would spend at least: its first fetch in the
   * first stratum, 4× shallower ones in the others (none skipped, none deeper).
   */
  private graphEf(k: number, fraction: number): number {
    const { efSearch, overFetch } = this.search_;
    const first = firstFetchFor(k, fraction, overFetch);
    let total = 0;
    for (const st of this.strata) {
      if (st.live === 0) continue;
      total += efForFetch(total === 0 ? first : Math.ceil(first / 4), first, k * overFetch, efSearch);
    }
    return total;
  }

  /** Appends `n` candidates to the pool; returns the new pool size. */
  private addToPool(at: number, ids: Int32Array, scores: Float32Array, n: number): number {
    if (this.pool.length < at + n) {
      const size = Math.max(at + n, this.pool.length * 2, 64);
      const pool = new Int32Array(size);
      const poolScores = new Float32Array(size);
      pool.set(this.pool.subarray(0, at));
      poolScores.set(this.poolScores.subarray(0, at));
      this.pool = pool;
      this.poolScores = poolScores;
    }
    this.pool.set(ids.subarray(0, n), at);
    this.poolScores.set(scores.subarray(0, n), at);
    return at + n;
  }

  /** The k-th best score in the pool (−∞ while it holds fewer than k). */
  private kthScore(pooled: number, k: number): number {
    if (pooled < k) return -Infinity;
    if (this.sortedScores.length < pooled) this.sortedScores = new Float32Array(this.poolScores.length);
    const sorted = this.sortedScores.subarray(0, pooled);
    sorted.set(this.poolScores.subarray(0, pooled));
    return sorted.sort()[pooled - k]!;
  }

  /** `filter` ∧ the stratum's members, in a reused buffer. */
  private stratumFilter(st: Stratum, filter?: ItemFilter): ItemFilter {
    const n = filter ? Math.min(filter.words.length, st.members.length) : st.members.length;
    if (this.stratumWords.length < n) this.stratumWords = new Uint32Array(n);
    const out = this.stratumWords.subarray(0, n);
    if (filter) for (let w = 0; w < n; w++) out[w] = filter.words[w]! & st.members[w]!;
    else out.set(st.members.subarray(0, n));
    return ItemFilter.fromWords(out);
  }
}

/**
 * Reads the strata's graphs, one after another (each read runs on the thread pool, while
 * `meanwhile(s)` runs here).
 */
async function readStrata(
  path: string,
  saved: readonly StratumMeta[],
  dims: number,
  itemSpace: number,
  live: Uint32Array,
  meanwhile: (s: number) => void,
): Promise<Stratum[]> {
  // All reads start at once (the thread pool reads up to four files together: a cold page
  // cache makes this disk-bound); each settles with its error, if any, so that `meanwhile`
  // throwing leaves no rejection unhandled.
  const reads = saved.map((_, s) => {
    const graph = new hnswlib.HierarchicalNSW('ip', dims);
    const done = new Promise<boolean>((resolve) => resolve(graph.readIndex(graphPath(path, s)))).then(
      () => null,
      (err: unknown) => err as Error,
    );
    return { graph, done };
  });
  const strata: Stratum[] = [];
  for (const [s, st] of saved.entries()) {
    meanwhile(s);
    const { graph, done } = reads[s]!;
    const err = await done;
    if (err) {
      await Promise.all(reads.map((r) => r.done));
      throw new AnnIndexError(`${graphPath(path, s)}: cannot read the graph (${err.message})`);
    }
    const members = decodeWords(st.members, `strata[${s}].members`, itemSpace);
    const liveMembers = members.map((w, j) => w & live[j]!);
    strata.push({ graph, members, live: countBits(liveMembers), minNorm: st.minNorm, maxNorm: st.maxNorm });
  }
  return strata;
}

/**
 * Lower norm bounds of the strata, longest first (the last is 0), for `norms` sorted
 * descending: equal log-norm widths over the 0.5–99.5% quantiles, as few as keep each
 * width ≤ log(ratio), at most `max`; then strata with fewer than `minSize` items merged into
 * their smaller neighbour.
 */
export function planStrata(norms: Float64Array, max: number, ratio: number, minSize: number): number[] {
  const n = norms.length;
  const positive = norms.filter((x) => x > 0);
  if (positive.length === 0 || max <= 1) return [0];
  const q = (p: number) =>
    Math.log(positive[Math.min(positive.length - 1, Math.floor(p * positive.length))]!);
  const hi = q(0.005);
  const lo = q(0.995);
  const count = Math.max(1, Math.min(max, Math.ceil((hi - lo) / Math.log(ratio) - 1e-9)));
  let bounds = Array.from({ length: count }, (_, s) =>
    s === count - 1 ? 0 : Math.exp(hi - ((s + 1) * (hi - lo)) / count),
  );
  const sizes = () => {
    const out = bounds.map(() => 0);
    let s = 0;
    for (let t = 0; t < n; t++) {
      while (norms[t]! < bounds[s]!) s++;
      out[s]!++;
    }
    return out;
  };
  for (;;) {
    const size = sizes();
    if (bounds.length === 1) break;
    let small = -1;
    for (let s = 0; s < size.length; s++)
      if (size[s]! < minSize && (small < 0 || size[s]! < size[small]!)) small = s;
    if (small < 0) break;
    // Merge with the smaller neighbour: drop the bound between them.
    const up = small > 0 ? size[small - 1]! : Infinity;
    const down = small < size.length - 1 ? size[small + 1]! : Infinity;
    const drop = up <= down ? small - 1 : small;
    bounds = bounds.filter((_, s) => s !== drop);
  }
  return bounds;
}

/**
 * A stratum's first fetch for the allowed top k: `k / fraction` neighbours would hold k
 * allowed ones on average; the margin `overFetch` covers the spread, in proportion to the
 * share filtered out (a filter that drops 3% of the items needs ~3% more, not 2×).
 */
function firstFetchFor(k: number, fraction: number, overFetch: number): number {
  return Math.ceil((k * (1 + (overFetch - 1) * (1 - fraction))) / fraction);
}

/**
 * hnswlib ef for a fetch: it grows with the depth asked for, at the ratio efSearch : k tuned
 * for the unfiltered top k (`baseFetch`: k, or k · overFetch filtered). The allowed top k sit
 * k / fraction deep, so a filtered search never uses less than for its first fetch, even in
 * the strata it starts shallower.
 */
function efForFetch(fetch: number, firstFetch: number, baseFetch: number, efSearch: number): number {
  return Math.max(fetch, Math.ceil((efSearch * Math.max(fetch, firstFetch)) / baseFetch));
}

/** The file of stratum `s`'s graph: `path` itself for the first (so `path` always exists), then `path.1`, … */
function graphPath(path: string, s: number): string {
  return s === 0 ? path : `${path}.${s}`;
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (o[key] !== undefined) out[key] = o[key];
  return out;
}

function definedOnly(o: HnswSearchOptions): HnswSearchOptions {
  return pick(o, ['efSearch', 'exactMaxAllowed', 'overFetch', 'maxFetch', 'rescore', 'scanRowsPerEf']);
}
