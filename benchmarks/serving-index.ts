/**
 * `npm run bench -- serving-index [--scales 100000,1000000] [--queries 2000] [--recall-queries 500]
 *  [--dims 64] [--clusters 1000] [--m 16] [--ef-construction 100] [--strata 8] [--strata-norm-ratio 1.3]
 *  [--ef-search N] [--exact-max-allowed N] [--over-fetch X] [--max-fetch N] [--seed 7] [--cache-dir DIR]`
 *
 * The index half of the `serving` benchmark. Per scale: seeded synthetic clustered item
 * vectors (1,000 Gaussian clusters, log-normal norms, so inner-product search behaves like on
 * ALS factors rather than uniform noise) and user-like queries (a blend of two clusters). It
 * builds an `HnswIndex` from scratch (timed), saves it, loads it back from the file with the
 * vectors given (timed; the RSS delta of the load is `indexBytes`: the graphs and the int8
 * copies of the rows, since the vectors are shared with the model version, `vectorBytes =
 * n · d · 4`; the int8 copies are shown alone too, `int8Bytes`, as a garbage collection during
 * the load can hide part of them in the delta), tunes `efSearch` (per norm stratum) on 200
 * separate queries to the smallest value with recall@20 ≥ 0.96,
 * then measures unfiltered search p50/p99 and recall@20 against exact search (recall on
 * `--recall-queries`, latency on `--queries`), filtered search at 1%, 10% and 50% of the
 * catalogue allowed, and exact search p50 (`--exact-queries`, default 30). Measuring
 * functions are exported for benchmarks/serving.ts.
 *
 * Two kinds of filter per fraction: `random` (each item allowed independently, like stock or
 * active) and `category` (whole clusters, like a category subtree: allowed items are usually
 * far from the user's vector, the hard case). The JSON's `filteredRecallAt20` and
 * `filteredP99Ms` report the worse of the two kinds; both are in `filters`. hnswlib's own
 * JS-callback filter is timed on a few queries for comparison.
 *
 * Latency is wall time per call (`performance.now()`); the process CPU time per call is shown
 * too (all threads, so GC helpers can push it above wall time), because on a shared 2-core
 * machine the wall p99 also measures the neighbours.
 * Targets at 1M × 64: p99 ≤ 2 ms with recall@20 ≥ 0.95, a 1%-allowed filter ≤ 2× the
 * unfiltered p99, load ≤ 5 s, index memory ≤ 2.5 × the raw vectors.
 *
 * `--cache-dir DIR` reuses a graph saved there by an earlier run with the same parameters
 * (build time then reads null); by default every run builds from scratch.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Vectors } from '../models/matrix.ts';
import { createRng } from '../models/random.ts';
import { topK } from '../models/top-k.ts';
import type { AnnResult } from '../src/index/ann-index.ts';
import { ExactIndex } from '../src/index/exact-index.ts';
import { HNSW_BUILD_DEFAULTS, HnswIndex } from '../src/index/hnsw-index.ts';
import type { HnswSearchOptions } from '../src/index/hnsw-index.ts';
import { ItemFilter } from '../src/index/item-filter.ts';
import { dotF32 } from '../models/dot.ts';
import { clusteredItems, userQueries } from '../test/helpers/clustered-vectors.ts';
import { percentile } from './lib/percentile.ts';
import { parseArgs, printTable } from './lib/table.ts';

export const FRACTIONS = ['0.01', '0.1', '0.5'] as const;
export type Fraction = (typeof FRACTIONS)[number];
export const FILTER_KINDS = ['random', 'category'] as const;
export type FilterKind = (typeof FILTER_KINDS)[number];
const K = 20;
/** Different filters per (kind, fraction), rotated over the queries. */
const FILTERS_PER_CASE = 8;

export interface Latency {
  p50Ms: number;
  p99Ms: number;
  /** Process CPU time per call. */
  cpuP50Ms: number;
  cpuP99Ms: number;
}

export interface FilterResult extends Latency {
  recallAt20: number;
  /** hnswlib's JS-callback filter on the first 50 queries. */
  callbackP50Ms: number;
  callbackRecallAt20: number;
}

export interface ScaleResult {
  items: number;
  dims: number;
  m: number;
  efConstruction: number;
  strata: number;
  strataNormRatio: number;
  /** Strata the build made. */
  strataBuilt: number;
  efSearch: number;
  recallAt20: number;
  filteredRecallAt20: Record<Fraction, number>;
  unfilteredP50Ms: number;
  unfilteredP99Ms: number;
  unfilteredCpuP99Ms: number;
  filteredP99Ms: Record<Fraction, number>;
  filters: Record<FilterKind, Record<Fraction, FilterResult>>;
  exactP50Ms: number;
  /** null when the graph came from `--cache-dir`. */
  buildSeconds: number | null;
  saveBytes: number;
  loadSeconds: number;
  indexBytes: number;
  /** Of which the int8 copies of the rows (HnswIndex's exact scans). */
  int8Bytes: number;
  vectorBytes: number;
  efSweep: { efSearch: number; recallAt20: number; p50Ms: number }[];
  loadAverage: number[];
}

export interface ScaleOptions {
  items: number;
  dims: number;
  clusters: number;
  queries: number;
  recallQueries: number;
  exactQueries: number;
  m: number;
  efConstruction: number;
  strata: number;
  strataNormRatio: number;
  /** Fixed efSearch; tuned when absent. */
  efSearch?: number;
  /** Other search settings (defaults: HnswIndex's). */
  search?: HnswSearchOptions;
  targetRecall: number;
  seed: number;
  cacheDir?: string;
  log?: (line: string) => void;
}

/** `count` filters allowing about `fraction` of the items, independently per item or by cluster. */
export function makeFilters(
  kind: FilterKind,
  fraction: number,
  clusterOf: Int32Array,
  clusters: number,
  count: number,
  seed: number,
): ItemFilter[] {
  const rng = createRng(seed);
  const n = clusterOf.length;
  const out: ItemFilter[] = [];
  for (let f = 0; f < count; f++) {
    const mask = new Uint8Array(n);
    if (kind === 'random') {
      for (let i = 0; i < n; i++) mask[i] = rng.next() < fraction ? 1 : 0;
    } else {
      const order = Int32Array.from({ length: clusters }, (_, i) => i);
      for (let i = clusters - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const take = new Uint8Array(clusters);
      for (let i = 0; i < Math.max(1, Math.round(fraction * clusters)); i++) take[order[i]!] = 1;
      for (let i = 0; i < n; i++) mask[i] = take[clusterOf[i]!]!;
    }
    out.push(ItemFilter.fromMask(mask));
  }
  return out;
}

/** Exact top-k for one query, unfiltered and under each filter, from one pass of scores. */
export function exactTruth(
  vectors: Vectors,
  query: Float32Array,
  filters: readonly ItemFilter[],
  scores: Float32Array,
  gathered: Float32Array,
): { all: Int32Array; filtered: Int32Array[] } {
  const { data, rows, cols } = vectors;
  for (let i = 0; i < rows; i++) scores[i] = dotF32(data, i * cols, query, 0, cols);
  const all = topK(scores, K).indices;
  const filtered = filters.map((f) => {
    const items = f.items();
    for (let j = 0; j < items.length; j++) gathered[j] = scores[items[j]!]!;
    const top = topK(gathered.subarray(0, items.length), K).indices;
    return top.map((p) => items[p]!);
  });
  return { all, filtered };
}

export function recallAt(found: Int32Array, truth: Int32Array): number {
  if (truth.length === 0) return 1;
  const want = new Set(truth);
  let hits = 0;
  for (const i of found) if (want.has(i)) hits++;
  return hits / Math.min(K, truth.length);
}

/** Times `run` once per query (after a warm-up) and returns wall and CPU percentiles. */
export function timeQueries(count: number, run: (q: number) => void, warmup = 50): Latency {
  for (let q = 0; q < Math.min(warmup, count); q++) run(q);
  const wall = new Float64Array(count);
  const cpu = new Float64Array(count);
  for (let q = 0; q < count; q++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run(q);
    wall[q] = performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu[q] = (c.user + c.system) / 1000;
  }
  return latencyOf(wall, cpu);
}

/** `timeQueries` for an asynchronous call (each awaited before the next); no warm-up. */
export async function timeCalls(count: number, run: (q: number) => Promise<unknown>): Promise<Latency> {
  const wall = new Float64Array(count);
  const cpu = new Float64Array(count);
  for (let q = 0; q < count; q++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run(q);
    wall[q] = performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu[q] = (c.user + c.system) / 1000;
  }
  return latencyOf(wall, cpu);
}

function latencyOf(wall: Float64Array, cpu: Float64Array): Latency {
  wall.sort();
  cpu.sort();
  return {
    p50Ms: percentile(wall, 0.5),
    p99Ms: percentile(wall, 0.99),
    cpuP50Ms: percentile(cpu, 0.5),
    cpuP99Ms: percentile(cpu, 0.99),
  };
}

function meanRecall(results: AnnResult[], truth: Int32Array[]): number {
  let sum = 0;
  for (let q = 0; q < truth.length; q++) sum += recallAt(results[q]!.indices, truth[q]!);
  return sum / Math.max(1, truth.length);
}

/**
 * hnswlib-node takes queries as plain arrays: the cost of `Array.from` on a fresh query
 * against refilling one reused array (what HnswIndex does), in µs per query.
 */
export function measureQueryConversion(
  dims: number,
  rounds = 200_000,
): { arrayFromUs: number; reusedFillUs: number } {
  const q = Float32Array.from({ length: dims }, (_, j) => j / dims);
  let sink = 0;
  let t = performance.now();
  for (let r = 0; r < rounds; r++) sink += Array.from(q)[r % dims]!;
  const arrayFromUs = ((performance.now() - t) * 1000) / rounds;
  const plain = new Array<number>(dims).fill(0);
  t = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < dims; j++) plain[j] = q[j]!;
    sink += plain[r % dims]!;
  }
  const reusedFillUs = ((performance.now() - t) * 1000) / rounds;
  if (Number.isNaN(sink)) throw new Error('unreachable');
  return { arrayFromUs, reusedFillUs };
}

function rssBytes(): number {
  return process.memoryUsage.rss();
}

/** Builds (or reuses), saves, loads and measures one scale. */
export async function measureScale(o: ScaleOptions): Promise<ScaleResult> {
  const log = o.log ?? ((line: string) => console.log(line));
  const { items: n, dims: d } = o;
  const loadAverage = loadavg().map((x) => Math.round(x * 100) / 100);
  log(`\n${n.toLocaleString('en-US')} items × ${d}: generating`);
  const { vectors, clusterOf, centers } = clusteredItems(n, d, o.clusters, o.seed);
  const queries = userQueries(centers, d, o.queries, o.seed + 1);
  const tuning = userQueries(centers, d, 200, o.seed + 2);
  const query = (set: Float32Array, q: number) => set.subarray(q * d, (q + 1) * d);
  const filters = {} as Record<FilterKind, Record<Fraction, ItemFilter[]>>;
  for (const kind of FILTER_KINDS) {
    filters[kind] = {} as Record<Fraction, ItemFilter[]>;
    for (const [i, f] of FRACTIONS.entries()) {
      filters[kind][f] = makeFilters(
        kind,
        Number(f),
        clusterOf,
        o.clusters,
        FILTERS_PER_CASE,
        o.seed + 10 + i,
      );
    }
  }

  // Build from scratch (or reuse the cached graph), save, load back.
  const dir = await mkdtemp(join(tmpdir(), 'shelf-serving-index-'));
  const path = join(dir, 'items.hnsw');
  const cacheName = `hnsw-${n}-${d}-${o.clusters}-${o.strata}-${o.strataNormRatio}-${o.m}-${o.efConstruction}-${o.seed}-v2`;
  const cached = o.cacheDir ? join(o.cacheDir, cacheName) : null;
  let suffixes: string[];
  let buildSeconds: number | null = null;
  if (cached && existsSync(`${cached}.files.json`)) {
    log(`  reusing ${cached}`);
    suffixes = JSON.parse(await readFile(`${cached}.files.json`, 'utf8')) as string[];
    for (const x of suffixes) await copyFile(cached + x, path + x);
  } else {
    log(
      `  building (≤ ${o.strata} strata, norm ratio ${o.strataNormRatio}, M ${o.m}, efConstruction ${o.efConstruction})`,
    );
    const t0 = performance.now();
    let lastLog = t0;
    const built = await HnswIndex.build(vectors, {
      m: o.m,
      efConstruction: o.efConstruction,
      strata: o.strata,
      strataNormRatio: o.strataNormRatio,
      seed: o.seed,
      onProgress: (done, total) => {
        if (performance.now() - lastLog > 30_000) {
          lastLog = performance.now();
          log(`    ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);
        }
      },
    });
    buildSeconds = (performance.now() - t0) / 1000;
    log(`  built in ${buildSeconds.toFixed(1)} s`);
    suffixes = (await built.save(path)).map((f) => f.slice(path.length));
    if (cached) {
      await mkdir(o.cacheDir!, { recursive: true });
      for (const x of suffixes) await copyFile(path + x, cached + x);
      await writeFile(`${cached}.files.json`, JSON.stringify(suffixes));
    }
  }
  let saveBytes = 0;
  for (const x of suffixes) saveBytes += (await stat(path + x)).size;
  const rss0 = rssBytes();
  const t1 = performance.now();
  const index = await HnswIndex.load(path, { vectors, ...o.search });
  const loadSeconds = (performance.now() - t1) / 1000;
  const indexBytes = rssBytes() - rss0;
  await rm(dir, { recursive: true, force: true });
  log(`  loaded in ${loadSeconds.toFixed(2)} s, RSS +${(indexBytes / 2 ** 20).toFixed(0)} MiB`);

  // Ground truth from one pass of exact scores per query.
  const scores = new Float32Array(n);
  const gathered = new Float32Array(n);
  const truthOf = (set: Float32Array, count: number, withFilters: boolean) => {
    const all: Int32Array[] = [];
    const filtered = {} as Record<FilterKind, Record<Fraction, Int32Array[]>>;
    for (const kind of FILTER_KINDS) {
      filtered[kind] = {} as Record<Fraction, Int32Array[]>;
      for (const f of FRACTIONS) filtered[kind][f] = [];
    }
    for (let q = 0; q < count; q++) {
      const fs = withFilters
        ? FILTER_KINDS.flatMap((kind) => FRACTIONS.map((f) => filters[kind][f][q % FILTERS_PER_CASE]!))
        : [];
      const t = exactTruth(vectors, query(set, q), fs, scores, gathered);
      all.push(t.all);
      let j = 0;
      for (const kind of FILTER_KINDS) for (const f of FRACTIONS) filtered[kind][f].push(t.filtered[j++]!);
    }
    return { all, filtered };
  };
  log(`  exact truth for ${o.recallQueries} + 200 queries`);
  const tuningTruth = truthOf(tuning, 200, false).all;
  const truth = truthOf(queries, o.recallQueries, true);

  // Tune efSearch: the smallest value reaching the target recall on the tuning queries.
  const efSweep: ScaleResult['efSweep'] = [];
  let efSearch = o.efSearch;
  for (const ef of o.efSearch ? [o.efSearch] : [16, 24, 32, 48, 64, 96, 128, 192, 256, 384]) {
    index.configure({ efSearch: ef });
    const results: AnnResult[] = [];
    const lat = timeQueries(200, (q) => results.push(index.search(query(tuning, q), K)), 0);
    const recall = meanRecall(results, tuningTruth);
    efSweep.push({ efSearch: ef, recallAt20: recall, p50Ms: lat.p50Ms });
    log(`  efSearch ${ef}: recall@20 ${recall.toFixed(4)}, p50 ${lat.p50Ms.toFixed(3)} ms`);
    if (efSearch === undefined && recall >= o.targetRecall) efSearch = ef;
    if (efSearch !== undefined) break;
  }
  efSearch ??= efSweep[efSweep.length - 1]!.efSearch;
  index.configure({ efSearch });

  // Unfiltered.
  const unfilteredResults: AnnResult[] = [];
  for (let q = 0; q < o.recallQueries; q++) unfilteredResults.push(index.search(query(queries, q), K));
  const recallAt20 = meanRecall(unfilteredResults, truth.all);
  const unfiltered = timeQueries(o.queries, (q) => index.search(query(queries, q), K));
  log(
    `  unfiltered: recall@20 ${recallAt20.toFixed(4)}, p50 ${unfiltered.p50Ms.toFixed(3)} ms, ` +
      `p99 ${unfiltered.p99Ms.toFixed(3)} ms (cpu p99 ${unfiltered.cpuP99Ms.toFixed(3)} ms)`,
  );

  // Filtered, both kinds; and hnswlib's JS callback on a few queries for comparison.
  const filterResults = {} as Record<FilterKind, Record<Fraction, FilterResult>>;
  const callbackQueries = Math.min(50, o.recallQueries);
  for (const kind of FILTER_KINDS) {
    filterResults[kind] = {} as Record<Fraction, FilterResult>;
    for (const f of FRACTIONS) {
      const fs = filters[kind][f];
      const filterOf = (q: number) => fs[q % FILTERS_PER_CASE]!;
      const found: AnnResult[] = [];
      for (let q = 0; q < o.recallQueries; q++) found.push(index.search(query(queries, q), K, filterOf(q)));
      const recall = meanRecall(found, truth.filtered[kind][f]);
      const lat = timeQueries(o.queries, (q) => index.search(query(queries, q), K, filterOf(q)));
      const viaCallback: AnnResult[] = [];
      const cb = timeQueries(
        callbackQueries,
        (q) => viaCallback.push(index.searchWithFilterCallback(query(queries, q), K, filterOf(q))),
        0,
      );
      const cbRecall = meanRecall(viaCallback, truth.filtered[kind][f].slice(0, callbackQueries));
      filterResults[kind][f] = {
        ...lat,
        recallAt20: recall,
        callbackP50Ms: cb.p50Ms,
        callbackRecallAt20: cbRecall,
      };
      log(
        `  ${kind} ${f}: recall@20 ${recall.toFixed(4)}, p50 ${lat.p50Ms.toFixed(3)} ms, p99 ${lat.p99Ms.toFixed(3)} ms` +
          ` (cpu p99 ${lat.cpuP99Ms.toFixed(3)}); JS callback p50 ${cb.p50Ms.toFixed(3)} ms, recall ${cbRecall.toFixed(4)}`,
      );
    }
  }

  // Exact search over everything.
  const exact = ExactIndex.build(vectors);
  const exactLat = timeQueries(o.exactQueries, (q) => exact.search(query(queries, q), K), 3);

  // The worse of the two filter kinds, per fraction.
  const worst = (pick: (r: FilterResult) => number, worse: (a: number, b: number) => number) =>
    Object.fromEntries(
      FRACTIONS.map((f) => [f, worse(pick(filterResults.random[f]), pick(filterResults.category[f]))]),
    ) as Record<Fraction, number>;
  return {
    items: n,
    dims: d,
    m: o.m,
    efConstruction: o.efConstruction,
    strata: o.strata,
    strataNormRatio: o.strataNormRatio,
    strataBuilt: index.strataCount,
    efSearch,
    recallAt20,
    filteredRecallAt20: worst((r) => r.recallAt20, Math.min),
    unfilteredP50Ms: unfiltered.p50Ms,
    unfilteredP99Ms: unfiltered.p99Ms,
    unfilteredCpuP99Ms: unfiltered.cpuP99Ms,
    filteredP99Ms: worst((r) => r.p99Ms, Math.max),
    filters: filterResults,
    exactP50Ms: exactLat.p50Ms,
    buildSeconds,
    saveBytes,
    loadSeconds,
    indexBytes,
    int8Bytes: index.quantizedBytes,
    vectorBytes: n * d * 4,
    efSweep,
    loadAverage,
  };
}

export default async function servingIndex(
  args: string[],
): Promise<{ scales: ScaleResult[]; queryConversion: { arrayFromUs: number; reusedFillUs: number } }> {
  const opts = parseArgs(args);
  const str = (name: string, dflt: string) => {
    const v = opts.get(name);
    return typeof v === 'string' ? v : dflt;
  };
  const num = (name: string, dflt: number, min = 1) => {
    const v = Number(str(name, String(dflt)));
    if (!(Number.isFinite(v) && v >= min)) throw new RangeError(`--${name} must be a number ≥ ${min}`);
    return v;
  };
  const scales = str('scales', '100000,1000000')
    .split(',')
    .map((s) => Math.round(Number(s)));
  if (scales.some((s) => !(s >= 1000))) throw new RangeError('--scales must be numbers ≥ 1000');
  const queries = num('queries', 2000, 10);
  const efArg = opts.get('ef-search');
  const results: ScaleResult[] = [];
  for (const items of scales) {
    results.push(
      await measureScale({
        items,
        dims: num('dims', 64),
        clusters: num('clusters', 1000),
        queries,
        recallQueries: Math.min(queries, num('recall-queries', 500)),
        exactQueries: num('exact-queries', 30),
        m: num('m', HNSW_BUILD_DEFAULTS.m, 2),
        efConstruction: num('ef-construction', HNSW_BUILD_DEFAULTS.efConstruction),
        strata: num('strata', HNSW_BUILD_DEFAULTS.strata),
        strataNormRatio: num('strata-norm-ratio', HNSW_BUILD_DEFAULTS.strataNormRatio),
        search: {
          ...(opts.has('exact-max-allowed') ? { exactMaxAllowed: num('exact-max-allowed', 0, 0) } : {}),
          ...(opts.has('over-fetch') ? { overFetch: num('over-fetch', 2) } : {}),
          ...(opts.has('max-fetch') ? { maxFetch: num('max-fetch', 2048) } : {}),
        },
        ...(typeof efArg === 'string' ? { efSearch: num('ef-search', 96) } : {}),
        targetRecall: num('target-recall', 0.96, 0),
        seed: num('seed', 7, 0),
        ...(typeof opts.get('cache-dir') === 'string' ? { cacheDir: str('cache-dir', '') } : {}),
      }),
    );
  }

  const ms = (x: number) => Math.round(x * 1000) / 1000;
  printTable(
    'HNSW index (inner product, k = 20): build, load, memory, unfiltered search',
    [
      'items',
      'dims',
      'strata×M/efC',
      'ef',
      'build s',
      'save MiB',
      'load s',
      'index MiB',
      'int8 MiB',
      'vectors MiB',
      'index/vec',
      'recall@20',
      'p50 ms',
      'p99 ms',
      'cpu p99 ms',
      'exact p50 ms',
    ],
    results.map((r) => [
      r.items,
      r.dims,
      `${r.strataBuilt}×${r.m}/${r.efConstruction}`,
      r.efSearch,
      r.buildSeconds === null ? 'cached' : r.buildSeconds,
      r.saveBytes / 2 ** 20,
      r.loadSeconds,
      r.indexBytes / 2 ** 20,
      r.int8Bytes / 2 ** 20,
      r.vectorBytes / 2 ** 20,
      r.indexBytes / r.vectorBytes,
      r.recallAt20,
      ms(r.unfilteredP50Ms),
      ms(r.unfilteredP99Ms),
      ms(r.unfilteredCpuP99Ms),
      ms(r.exactP50Ms),
    ]),
  );
  printTable(
    'Filtered search (k = 20): allowed fraction × filter kind; JS callback = hnswlib filter callback, for comparison',
    [
      'items',
      'filter',
      'allowed',
      'recall@20',
      'p50 ms',
      'p99 ms',
      'cpu p99 ms',
      'callback p50 ms',
      'callback recall',
    ],
    results.flatMap((r) =>
      FILTER_KINDS.flatMap((kind) =>
        FRACTIONS.map((f) => {
          const x = r.filters[kind][f];
          return [
            r.items,
            kind,
            f,
            x.recallAt20,
            ms(x.p50Ms),
            ms(x.p99Ms),
            ms(x.cpuP99Ms),
            ms(x.callbackP50Ms),
            x.callbackRecallAt20,
          ];
        }),
      ),
    ),
  );
  const queryConversion = measureQueryConversion(num('dims', 64));
  console.log(
    `\nquery → plain array for hnswlib: Array.from ${queryConversion.arrayFromUs.toFixed(2)} µs, ` +
      `refilling a reused array ${queryConversion.reusedFillUs.toFixed(2)} µs`,
  );
  console.log(
    `load average at start of each scale: ${results.map((r) => r.loadAverage.join(' ')).join(' | ')}`,
  );
  return { scales: results, queryConversion };
}
