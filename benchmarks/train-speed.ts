/**
 * `npm run bench -- train-speed [--sizes 1e6,5e6,2e7] [--iterations 3] [--factors 64]
 *  [--workers 2] [--solver cg|cholesky] [--seed 7]`
 *
 * Fits ALS on seeded synthetic power-law data (users = interactions / 20, items =
 * interactions / 200, so 20M interactions ≈ 1M users × 100k items) and reports the median
 * seconds per iteration, peak memory and the fold-in time. Targets: ≤ 10 s per iteration at
 * 20M interactions on 2 cores, peak memory ≤ 4 GB, cost about linear in interactions,
 * fold-in of ~10 events well under 1 ms.
 */
import { AlsModel } from '../models/als.ts';
import type { Csr } from '../models/sparse.ts';
import { createRng } from '../models/random.ts';
import type { Rng } from '../models/random.ts';
import { parseArgs, printTable } from './lib/table.ts';
import { median } from './lib/median.ts';

interface SizeResult {
  interactions: number;
  users: number;
  items: number;
  secondsPerIteration: number;
  iterationSeconds: number[];
  /** Process CPU time (all threads) per iteration, median: wall time on an idle machine ≈ this / cores. */
  cpuSecondsPerIteration: number;
  fitSeconds: number;
  generateSeconds: number;
  peakRssMb: number;
  maxRssMb: number;
}

export default async function trainSpeed(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const str = (name: string, dflt: string) => {
    const v = opts.get(name);
    return typeof v === 'string' ? v : dflt;
  };
  const sizes = str('sizes', '1e6,5e6,2e7')
    .split(',')
    .map((s) => Math.round(Number(s)));
  if (sizes.some((s) => !(s >= 1000))) throw new RangeError('--sizes must be numbers >= 1000');
  const iterations = Number(str('iterations', '3'));
  const factors = Number(str('factors', '64'));
  const workers = Number(str('workers', '2'));
  const seed = Number(str('seed', '7'));
  const solver = str('solver', 'cg') === 'cholesky' ? 'cholesky' : 'cg';

  const results: SizeResult[] = [];
  let lastModel: AlsModel | null = null;
  for (const target of sizes) {
    const t0 = performance.now();
    const train = syntheticCsr(target, createRng(seed));
    const generateSeconds = (performance.now() - t0) / 1000;
    const nnz = train.indptr[train.rows]!;
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 25);
    const iterationSeconds: number[] = [];
    const cpuSeconds: number[] = [];
    let cpuMark = process.cpuUsage();
    const model = new AlsModel({
      factors,
      iterations,
      workers,
      parallelMinInteractions: 0, // measure the worker path at every size
      solver,
      seed,
      onIteration: ({ seconds }) => {
        iterationSeconds.push(seconds);
        const cpu = process.cpuUsage(cpuMark);
        cpuMark = process.cpuUsage();
        cpuSeconds.push((cpu.user + cpu.system) / 1e6);
        console.log(
          `  ${nnz.toLocaleString('en-US')} interactions: iteration ${iterationSeconds.length} ${seconds.toFixed(2)} s`,
        );
      },
    });
    const t1 = performance.now();
    cpuMark = process.cpuUsage();
    await model.fit(train);
    const fitSeconds = (performance.now() - t1) / 1000;
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    results.push({
      interactions: nnz,
      users: train.rows,
      items: train.cols,
      secondsPerIteration: median(iterationSeconds),
      iterationSeconds,
      // The first delta also covers setup (copies, transpose, worker start); the median skips it.
      cpuSecondsPerIteration: median(cpuSeconds),
      fitSeconds,
      generateSeconds,
      peakRssMb: Math.round(peakRss / 2 ** 20),
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    });
    lastModel = model;
  }

  const fold = lastModel
    ? foldInTimes(lastModel, createRng(seed + 1))
    : { medianMicros: NaN, p99Micros: NaN };

  printTable(
    `ALS train speed (${factors} factors, ${solver}, ${workers} worker${workers === 1 ? '' : 's'}, ${iterations} iterations; median s/iteration)`,
    [
      'interactions',
      'users',
      'items',
      's/iteration',
      'cpu s/iteration',
      'µs/interaction',
      'fit s',
      'peak RSS MB',
      'maxRSS MB',
    ],
    results.map((r) => [
      r.interactions,
      r.users,
      r.items,
      r.secondsPerIteration,
      r.cpuSecondsPerIteration,
      (r.secondsPerIteration / r.interactions) * 1e6,
      r.fitSeconds,
      r.peakRssMb,
      r.maxRssMb,
    ]),
  );
  printTable(
    'Fold-in (10 events, exact Cholesky, model of the last size)',
    ['median µs', 'p99 µs'],
    [[fold.medianMicros, fold.p99Micros]],
  );
  return {
    factors,
    solver,
    workers,
    iterations,
    sizes: results,
    foldInMicros: fold.medianMicros,
    foldInP99Micros: fold.p99Micros,
  };
}

/**
 * Seeded power-law interactions built straight into CSR typed arrays on SharedArrayBuffers
 * (the model then shares them with its workers without a copy). User activity is Pareto
 * (shape 1.5), item popularity Zipf-like (exponent 0.9) with item ids shuffled so popular
 * items are not clustered at low indices. Values are strengths 1–4. Rows are sorted and
 * hold no duplicates; nnz ends up within a few per cent of `target`.
 */
function syntheticCsr(target: number, rng: Rng): Csr {
  const users = Math.max(10, Math.round(target / 20));
  const items = Math.max(10, Math.round(target / 200));
  const maxDegree = Math.max(1, Math.floor(items / 4));
  // User degrees ∝ Pareto draws, scaled to the target total.
  const raw = new Float64Array(users);
  let sum = 0;
  for (let u = 0; u < users; u++) {
    raw[u] = Math.min(1e4, Math.pow(1 - rng.next(), -1 / 1.5));
    sum += raw[u]!;
  }
  const degree = new Int32Array(users);
  let planned = 0;
  for (let u = 0; u < users; u++) {
    degree[u] = Math.min(maxDegree, Math.max(1, Math.round((raw[u]! * target) / sum)));
    planned += degree[u]!;
  }
  // Item popularity: cumulative Zipf weights over ranks, ranks mapped to shuffled ids.
  const cumulative = new Float64Array(items);
  let acc = 0;
  for (let r = 0; r < items; r++) {
    acc += 1 / Math.pow(r + 10, 0.9);
    cumulative[r] = acc;
  }
  const idOfRank = new Int32Array(items);
  for (let i = 0; i < items; i++) idOfRank[i] = i;
  for (let i = items - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = idOfRank[i]!;
    idOfRank[i] = idOfRank[j]!;
    idOfRank[j] = t;
  }
  const indptr = new Int32Array(new SharedArrayBuffer((users + 1) * 4));
  const indices = new Int32Array(new SharedArrayBuffer(planned * 4));
  const values = new Float32Array(new SharedArrayBuffer(planned * 4));
  const stamp = new Int32Array(items).fill(-1);
  let pos = 0;
  for (let u = 0; u < users; u++) {
    const start = pos;
    for (let d = 0; d < degree[u]!; d++) {
      for (let attempt = 0; attempt < 20; attempt++) {
        const x = rng.next() * acc;
        let lo = 0;
        let hi = items - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (cumulative[mid]! < x) lo = mid + 1;
          else hi = mid;
        }
        const item = idOfRank[lo]!;
        if (stamp[item] === u) continue;
        stamp[item] = u;
        indices[pos++] = item;
        break;
      }
    }
    indices.subarray(start, pos).sort();
    for (let p = start; p < pos; p++) values[p] = 1 + rng.int(4);
    indptr[u + 1] = pos;
  }
  return {
    rows: users,
    cols: items,
    indptr,
    indices: indices.subarray(0, pos),
    values: values.subarray(0, pos),
  };
}

function foldInTimes(model: AlsModel, rng: Rng): { medianMicros: number; p99Micros: number } {
  const events = 10;
  const items = new Int32Array(events);
  const weights = new Float32Array(events).fill(1);
  const out = new Float32Array(model.factors);
  const times: number[] = [];
  for (let rep = 0; rep < 2000; rep++) {
    for (let j = 0; j < events; j++) items[j] = rng.int(model.itemCount);
    const t0 = process.hrtime.bigint();
    model.foldIn(items, weights, out);
    const t1 = process.hrtime.bigint();
    if (rep >= 200) times.push(Number(t1 - t0) / 1000); // the first ones warm up the JIT
  }
  times.sort((a, b) => a - b);
  return { medianMicros: median(times), p99Micros: times[Math.floor(times.length * 0.99)]! };
}
