/**
 * `npm run bench -- jobs [--jobs 2000] [--items 3000] [--duration 15] [--connections 8] [--steady-share 0.25] [--rounds 5] [--worker on|off]
 *  [--shard-interactions 1000000] [--shard-iterations 3] [--shard-factors 64]
 *  [--train-items 100000] [--train-users 50000] [--parts rates,latency,shard,train] [--job-priority idle|low|normal]`:
 * 1. jobs/s of a no-op job through the inline runner and through BullMQ (one in-process worker
 *    at concurrency 1 and 8, on `REDIS_URL`, default redis://127.0.0.1:6379);
 * 2. the personalized tier's HTTP p99 while idle and while a `train` and a `segments` job run:
 *    in embedded mode (the jobs in child processes of the server), and with `--worker on` with
 *    Redis and a `shelf worker` process beside the server (over the same SQLite file). Beside
 *    them, the p99 next to busy loops at the lowest priority (nice 19, one per core): what any
 *    background CPU costs the API on this machine, the jobs' own cost aside. These loads are as
 *    fast as the server answers, so a job's CPU shows as queueing; the same is then measured at a
 *    fixed rate, `--steady-share` (0.25) of the idle req/s. At each load, `--rounds` rounds of an
 *    idle phase and a jobs phase (the jobs posted again each time): the ratio is the median of the
 *    rounds' ratios, each round's printed beside it.
 *    Each phase also reports how long the serving thread waited, runnable, for a core (ms per
 *    second of load, from /proc): a p99 rests on a few requests and moves by 2–5× between runs
 *    of the same code here; the wait sums every wake-up, so it shows the jobs' cost steadily.
 *    And its event-loop stalls (benchmarks/lib/stalls.ts): each fixed-rate round is printed with
 *    its p99s beside the longest stall of each phase, and when the train job's version was first
 *    served, so that an outlier round tells whether the serving thread stopped, and for what.
 *    `--job-priority` sets the job children's `SHELF_JOB_PRIORITY` (default: the config's).
 * 3. the sharded ALS fit's seconds per iteration on 1 and 2 shard workers (BullMQ flows, see
 *    benchmarks/lib/sharded-fit.ts) over `--shard-interactions` seeded power-law interactions
 *    (users = n / 20, items = n / 200), beside the single-process fit on 2 threads, and whether
 *    the factors are bit-identical to the single-process ones. The issue asks for 20 000 000.
 * 4. the whole train job on the demo store, stage by stage (train-job.ts; its own bench too).
 * The issue's targets: p99 during the jobs ≤ 2× idle; the train job ≤ 30 s at 100k items × 50k
 * users. The other sizes are small by default (a smoke run).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startServer } from '../src/app/start-server.ts';
import type { RunningServer } from '../src/app/start-server.ts';
import { loadConfig } from '../src/config.ts';
import { demoUserId } from '../src/demo/build-shoppers.ts';
import { BullmqJobs } from '../src/jobs/bullmq-jobs.ts';
import { ShelfWorker } from '../src/jobs/bullmq-worker.ts';
import { InlineJobs } from '../src/jobs/inline-jobs.ts';
import { powerLawInteractions } from '../training/datasets/synthetic-interactions.ts';
import { runLoad } from './lib/load-client.ts';
import { median } from './lib/median.ts';
import { differingElements, plainFit, shardedFit } from './lib/sharded-fit.ts';
import type { LoadResult } from './lib/load-client.ts';
import { parseArgs, printTable } from './lib/table.ts';
import { traceStalls } from './lib/stalls.ts';
import type { Stall } from './lib/stalls.ts';
import { mainThreadWaitMs } from './lib/thread-cpu.ts';
import { printTrainJob, trainJob } from './train-job.ts';
import type { TrainJobResult } from './train-job.ts';

const BIN = fileURLToPath(new URL('../src/cli/bin.mjs', import.meta.url));
const log = pino({ level: 'silent' });
const noop = async () => null;
const RETRY = { attempts: 1, backoffMs: 0 };

async function inlineRate(n: number): Promise<number> {
  const jobs = new InlineJobs<'aggregate-feedback'>({ 'aggregate-feedback': noop }, { retry: RETRY });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await jobs.enqueue('aggregate-feedback');
  await jobs.idle();
  return n / ((performance.now() - t0) / 1000);
}

async function bullmqRate(url: string, n: number, concurrency: number): Promise<number> {
  const prefix = `shelf-bench-${process.pid}-${concurrency}`;
  const queue = new BullmqJobs({ url, prefix, retry: RETRY });
  let done = 0;
  let finish = () => {};
  const all = new Promise<void>((r) => (finish = r));
  const worker = new ShelfWorker({
    url,
    prefix,
    concurrency,
    lockMs: 30_000,
    log,
    processors: { 'aggregate-feedback': noop },
    onFinished: () => {
      if (++done === n) finish();
    },
  });
  await worker.waitUntilReady();
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await queue.enqueue('aggregate-feedback');
    await all;
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await worker.close(1000);
    await queue.close();
    const redis = new Redis(url);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  }
}

interface Phase {
  p50Ms: number;
  p99Ms: number;
  reqPerSec: number;
  errors: number;
  /** Seconds the jobs took (the load ran for at least as long, or stopped at its duration). */
  jobSeconds?: number;
  /**
   * Milliseconds the serving thread (this process's main thread: the server runs here) spent
   * runnable but waiting for a core, per second of the load; null off Linux.
   */
  waitedMsPerSecond: number | null;
  /** The serving thread's longest event-loop stall, ms, and those of 50 ms or more. */
  longestStallMs: number;
  stalls: Stall[];
  /** Seconds from the phase's start until the version the train job published was served. */
  swappedAtS?: number;
}

/** `load`'s answers, with the serving thread's wait for a core meanwhile. */
async function measured(load: Promise<LoadResult>, seconds: number): Promise<Phase> {
  const before = mainThreadWaitMs();
  const stop = traceStalls();
  const r = await load;
  const { longestMs, stalls } = stop();
  const after = mainThreadWaitMs();
  return {
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    reqPerSec: r.reqPerSec,
    errors: r.errors,
    waitedMsPerSecond: before === null || after === null ? null : (after - before) / seconds,
    longestStallMs: longestMs,
    stalls,
  };
}

/** An idle phase and the jobs phase after it, measured in one round. */
interface Round {
  idle: Phase;
  jobs: Phase;
  /** jobs p99 ÷ idle p99. */
  ratio: number;
}

interface LatencyPhases {
  /** As fast as the server answers: the rounds, in order. */
  full: Round[];
  besideSpinners: Phase;
  /** At a fixed rate (`rate` requests/s), idle and while the jobs run. */
  rate: number;
  steady: Round[];
}

interface LatencyOptions {
  items: number;
  duration: number;
  connections: number;
  steadyShare: number;
  /** Idle and jobs phases at each load; the figure is the median of the rounds' ratios. */
  rounds: number;
  redisUrl: string;
  /** `SHELF_JOB_PRIORITY` of the server and the worker; unset: the config's default. */
  jobPriority: string | undefined;
}

const roundOf = (idle: Phase, jobs: Phase): Round => ({ idle, jobs, ratio: jobs.p99Ms / idle.p99Ms });

/** Busy loops at nice 19, one per core, ending after `seconds`. */
function spinners(seconds: number): ReturnType<typeof spawn>[] {
  return Array.from({ length: availableParallelism() }, () => {
    const loop = `const end = Date.now() + ${Math.ceil(seconds * 1000)}; while (Date.now() < end) {}`;
    const child = spawn(process.execPath, ['-e', loop], { stdio: 'ignore' });
    if (child.pid !== undefined) setPriority(child.pid, 19);
    return child;
  });
}

async function latencyUnderJobs(mode: 'embedded' | 'worker', o: LatencyOptions): Promise<LatencyPhases> {
  const dir = await mkdtemp(join(tmpdir(), `shelf-bench-jobs-${mode}-`));
  const prefix = `shelf-bench-jobs-${process.pid}`;
  const env: Record<string, string> = {
    SHELF_DATA_DIR: dir,
    SHELF_PORT: '0',
    SHELF_RATE_LIMIT: String(1e9),
    SHELF_LOG_LEVEL: 'silent',
    SHELF_SCHEDULE_TRAIN: 'off',
    SHELF_SCHEDULE_SEGMENTS: 'off',
    SHELF_SCHEDULE_AGGREGATE: 'off',
    ...(o.jobPriority ? { SHELF_JOB_PRIORITY: o.jobPriority } : {}),
    ...(mode === 'worker' ? { REDIS_URL: o.redisUrl, SHELF_QUEUE_PREFIX: prefix } : {}),
  };
  const demo = { items: o.items, users: Math.round(o.items / 2), events: o.items * 20, seed: 1 };
  let server: RunningServer | null = null;
  let worker: ReturnType<typeof spawn> | null = null;
  try {
    server = await startServer({
      config: loadConfig(env),
      log,
      demo,
      simulate: false,
    });
    if (mode === 'worker') {
      worker = spawn(process.execPath, [BIN, 'worker'], { env: { ...process.env, ...env }, stdio: 'ignore' });
      // The worker registers its schedules (all off) and waits; give it its start-up.
      await new Promise((r) => setTimeout(r, 4000));
    }
    const key = (role: string) => server!.apiKeys.find((k) => k.role === role)!.key;
    const headers = { authorization: `Bearer ${key('storefront')}` };
    const admin = { authorization: `Bearer ${key('admin')}`, 'content-type': 'application/json' };
    const users = Array.from({ length: 500 }, (_, i) => demoUserId(i, demo.users));
    const paths = users.map((u) => `/v1/recommendations/personalized?userId=${u}&limit=20`);
    // At a fixed rate, up to 64 connections: with the 8 of the fast loads, the client's own pool
    // queued the requests (3,600 req/s over 8 connections is one every 2.2 ms on each) as soon
    // as an answer took longer, and the tails were its queue's, not the server's.
    const load = (rate?: number): Promise<LoadResult> =>
      runLoad({
        url: server!.url,
        paths,
        headers,
        duration: o.duration,
        connections: rate === undefined ? o.connections : Math.max(64, o.connections),
        ...(rate !== undefined ? { rate } : {}),
      });
    const post = async (path: string) =>
      (
        (await (await fetch(server!.url + path, { method: 'POST', headers: admin, body: '{}' })).json()) as {
          id: string;
        }
      ).id;
    const serving = async () =>
      ((await (await fetch(`${server!.url}/readyz`)).json()) as { modelVersion: string | null }).modelVersion;
    /** `load` from the moment a train and a segments job are posted, and the seconds they took. */
    const whileJobsRun = async (before: string | null, rate?: number): Promise<Phase> => {
      const t0 = performance.now();
      const ids = [await post('/v1/admin/train'), await post('/v1/admin/segments')];
      const running = measured(load(rate), o.duration);
      const finished = (async () => {
        for (;;) {
          const states = await Promise.all(
            ids.map(
              async (id) =>
                (
                  (await (await fetch(`${server!.url}/v1/admin/jobs/${id}`, { headers: admin })).json()) as {
                    state: string;
                  }
                ).state,
            ),
          );
          if (states.every((s) => s === 'completed' || s === 'failed'))
            return (performance.now() - t0) / 1000;
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      // When the published version was first served (polled beside the load, up to 15 s after the jobs).
      let doneAt = Infinity;
      void finished.then(() => (doneAt = performance.now()));
      const swapped = (async () => {
        while ((await serving()) === before && performance.now() < doneAt + 15_000)
          await new Promise((r) => setTimeout(r, 100));
        return (performance.now() - t0) / 1000;
      })();
      return { ...(await running), jobSeconds: await finished, swappedAtS: await swapped };
    };
    /**
     * After a jobs phase: until the server serves the version the train job published, then every
     * visitor's list on it, once, so that the next idle phase measures neither the swap nor the
     * lists the swap did not compute (Engine.warm computes only those it found cached; without
     * this pass the first half second computed the rest at once: tails up to 250 ms at 3,600
     * req/s on 3,000 items).
     */
    const settle = async (before: string | null) => {
      const end = performance.now() + 15_000;
      while ((await serving()) === before && performance.now() < end)
        await new Promise((r) => setTimeout(r, 100));
      await runLoad({
        url: server!.url,
        paths,
        headers,
        duration: 60,
        connections: o.connections,
        amount: paths.length,
      });
    };
    /**
     * `rounds` idle phases, each followed by a jobs phase, at `rate` (unset: as fast as the server
     * answers). A p99 rests on a few requests, and one stall of 50 ms doubles it: one pair of
     * phases is a lottery around the target, the median of several is the figure.
     */
    const rounds = async (rate?: number): Promise<Round[]> => {
      const out: Round[] = [];
      for (let r = 0; r < o.rounds; r++) {
        const idle = await measured(load(rate), o.duration);
        const before = await serving();
        const jobs = await whileJobsRun(before, rate);
        await settle(before);
        out.push(roundOf(idle, jobs));
      }
      return out;
    };
    await load(); // warm-up
    const spinning = spinners(o.duration + 2);
    const besideSpinners = await measured(load(), o.duration);
    for (const child of spinning) child.kill();
    const full = await rounds();
    // The same at a fixed rate the idle server answers with room to spare, as a storefront's
    // traffic arrives: the jobs' cost to each answer, not to a saturated server's queue.
    const rate = Math.max(1, Math.round(median(full.map((r) => r.idle.reqPerSec)) * o.steadyShare));
    const steady = await rounds(rate);
    return { full, besideSpinners, rate, steady };
  } finally {
    worker?.kill('SIGTERM');
    await server?.close();
    if (mode === 'worker') {
      const redis = new Redis(o.redisUrl);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

async function shardedFits(
  redisUrl: string,
  o: { interactions: number; iterations: number; factors: number },
): Promise<unknown> {
  const seed = 1;
  const t0 = performance.now();
  const train = powerLawInteractions({
    users: Math.max(10, Math.round(o.interactions / 20)),
    items: Math.max(10, Math.round(o.interactions / 200)),
    interactions: o.interactions,
    seed,
  });
  const generateSeconds = (performance.now() - t0) / 1000;
  const nnz = train.indptr[train.rows]!;
  const fit = { iterations: o.iterations, factors: o.factors, seed };
  const plain = await plainFit(train, { ...fit, threads: 2 });
  const runs = [];
  for (const workers of [1, 2]) {
    // 4 shards per worker: a lost shard costs a quarter of a worker's share, and the shards even out.
    const run = await shardedFit(train, { ...fit, redisUrl, workers, shards: 4 * workers, log });
    const differing =
      differingElements(run.userFactors, plain.userFactors) +
      differingElements(run.itemFactors, plain.itemFactors);
    runs.push({
      workers,
      shards: run.shards,
      secondsPerIteration: run.secondsPerIteration,
      iterationSeconds: run.iterationSeconds,
      differingFromSingleProcess: differing,
    });
  }
  printTable(
    `sharded ALS fit, ${o.interactions} interactions drawn (${nnz} user–item pairs, ${train.rows} users × ${train.cols} items), f = ${o.factors}, ${o.iterations} iterations`,
    ['fit', 'shards per half-step', 's per iteration (2…n)', 'factors differing from single process'],
    [
      ['single process, 2 threads', '-', plain.secondsPerIteration, '-'],
      ...runs.map((r) => [
        `sharded, ${r.workers} worker${r.workers > 1 ? 's' : ''}`,
        r.shards,
        r.secondsPerIteration,
        r.differingFromSingleProcess,
      ]),
    ],
  );
  return {
    interactions: o.interactions,
    pairs: nnz,
    users: train.rows,
    items: train.cols,
    factors: o.factors,
    iterations: o.iterations,
    generateSeconds,
    singleProcess2ThreadsSecondsPerIteration: plain.secondsPerIteration,
    sharded: runs,
  };
}

export default async function jobs(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const parts = new Set(String(opts.get('parts') ?? 'rates,latency,shard,train').split(','));
  const shard = {
    interactions: Number(opts.get('shard-interactions') ?? 1_000_000),
    iterations: Number(opts.get('shard-iterations') ?? 3),
    factors: Number(opts.get('shard-factors') ?? 64),
  };
  const n = Number(opts.get('jobs') ?? 2000);
  const items = Number(opts.get('items') ?? 3000);
  // Seconds per phase. At a fixed rate a 5-s phase's p99 rests on ~120 requests, and one 30-ms
  // pause (a major GC, a job child started) moved it: idle p99s of 6-55 ms for the same code. At
  // 15 s three rounds' idle p99s read 7.9, 8.0, 8.2 ms.
  const duration = Number(opts.get('duration') ?? 15);
  const connections = Number(opts.get('connections') ?? 8);
  const steadyShare = Number(opts.get('steady-share') ?? 0.25);
  // One round's p99 ratio moved between 1.10 and 1.81 for the same code in one session, and the
  // median of three crossed 2 where that of five did not (2.08 from 2.08 · 2.27 · 1.74 one day;
  // 1.47 and 1.56 from five rounds each another): five by default.
  const rounds = Number(opts.get('rounds') ?? 5);
  const withWorker = (opts.get('worker') ?? 'on') === 'on';
  const redisUrl = String(opts.get('redis') ?? 'redis://127.0.0.1:6379');
  const priority = opts.get('job-priority');
  const jobPriority = priority === undefined ? undefined : String(priority);

  let rates: Record<string, number> | undefined;
  if (parts.has('rates')) {
    rates = {
      inline: await inlineRate(n),
      bullmqConcurrency1: await bullmqRate(redisUrl, n, 1),
      bullmqConcurrency8: await bullmqRate(redisUrl, n, 8),
    };
    printTable(
      `no-op jobs, ${n} each`,
      ['runner', 'jobs/s'],
      [
        ['inline (in process)', rates.inline],
        ['BullMQ, 1 worker, concurrency 1', rates.bullmqConcurrency1],
        ['BullMQ, 1 worker, concurrency 8', rates.bullmqConcurrency8],
      ],
    );
  }

  let latency: Record<string, LatencyPhases> | undefined;
  if (parts.has('latency')) {
    latency = {};
    const lo: LatencyOptions = { items, duration, connections, steadyShare, rounds, redisUrl, jobPriority };
    latency.embedded = await latencyUnderJobs('embedded', lo);
    if (withWorker) latency.worker = await latencyUnderJobs('worker', lo);
    const waited = (p: Phase) => p.waitedMsPerSecond ?? NaN;
    /** The median over `rs` of `f`. */
    const mid = (rs: Round[], f: (r: Round) => number) => median(rs.map(f));
    const ratios = (rs: Round[]) => rs.map((r) => r.ratio.toFixed(2)).join(' · ');
    const errors = (rs: Round[]) => rs.reduce((n, r) => n + r.idle.errors + r.jobs.errors, 0);
    const took = (rs: Round[]) => mid(rs, (r) => r.jobs.jobSeconds ?? 0);
    /** Each round's longest stall in `phase`, in order (their outliers are what the p99s show). */
    const stallsOf = (rs: Round[], phase: 'idle' | 'jobs') =>
      rs.map((r) => r[phase].longestStallMs).join(' · ');
    printTable(
      `personalized tier, ${items} items, ${connections} connections, ${duration} s per phase, as fast as the server answers: beside ${availableParallelism()} nice-19 busy loops, then ${rounds} rounds of idle and while a train and a segments job run; medians of the rounds`,
      [
        'mode',
        'idle p99 ms',
        'jobs p99 ms',
        'ratio (target ≤ 2)',
        'rounds’ ratios',
        'busy loops p99 ms',
        'their ratio',
        'idle req/s',
        'jobs req/s',
        'waited ms/s idle',
        'busy loops',
        'jobs',
        'errors',
        'jobs took s',
      ],
      Object.entries(latency).map(([mode, r]) => {
        const idleP99 = mid(r.full, (x) => x.idle.p99Ms);
        return [
          mode,
          idleP99,
          mid(r.full, (x) => x.jobs.p99Ms),
          mid(r.full, (x) => x.ratio),
          ratios(r.full),
          r.besideSpinners.p99Ms,
          r.besideSpinners.p99Ms / idleP99,
          mid(r.full, (x) => x.idle.reqPerSec),
          mid(r.full, (x) => x.jobs.reqPerSec),
          mid(r.full, (x) => waited(x.idle)),
          waited(r.besideSpinners),
          mid(r.full, (x) => waited(x.jobs)),
          errors(r.full) + r.besideSpinners.errors,
          took(r.full),
        ];
      }),
    );
    printTable(
      `the same at a fixed rate, ${steadyShare * 100}% of the idle req/s above, up to ${Math.max(64, connections)} connections, latency from when each request was due: ${rounds} rounds of idle and while the jobs run (a swap at their end included when the load outlasts the train job); medians of the rounds`,
      [
        'mode',
        'req/s',
        'idle p50 ms',
        'idle p99 ms',
        'jobs p50 ms',
        'jobs p99 ms',
        'ratio (target ≤ 2)',
        'rounds’ ratios',
        'waited ms/s idle',
        'jobs',
        'longest stall ms idle',
        'jobs',
        'errors',
        'jobs took s',
      ],
      Object.entries(latency).map(([mode, r]) => [
        mode,
        r.rate,
        mid(r.steady, (x) => x.idle.p50Ms),
        mid(r.steady, (x) => x.idle.p99Ms),
        mid(r.steady, (x) => x.jobs.p50Ms),
        mid(r.steady, (x) => x.jobs.p99Ms),
        mid(r.steady, (x) => x.ratio),
        ratios(r.steady),
        mid(r.steady, (x) => waited(x.idle)),
        mid(r.steady, (x) => waited(x.jobs)),
        stallsOf(r.steady, 'idle'),
        stallsOf(r.steady, 'jobs'),
        errors(r.steady),
        took(r.steady),
      ]),
    );

    printTable(
      `each fixed-rate round: p99 beside the serving thread’s longest stall, and when the published version was first served (s from the jobs’ start; the phase lasts ${duration} s)`,
      [
        'mode',
        'round',
        'idle p99 ms',
        'idle stall ms',
        'jobs p99 ms',
        'jobs stall ms',
        'stalls ≥ 50 ms (s: ms)',
        'swapped at s',
        'jobs took s',
      ],
      Object.entries(latency).flatMap(([mode, r]) =>
        r.steady.map((x, k) => [
          mode,
          k + 1,
          x.idle.p99Ms,
          x.idle.longestStallMs,
          x.jobs.p99Ms,
          x.jobs.longestStallMs,
          [
            ...x.idle.stalls.map((t) => `idle ${t.atS}: ${t.ms}`),
            ...x.jobs.stalls.map((t) => `jobs ${t.atS}: ${t.ms}`),
          ].join(', ') || '-',
          x.jobs.swappedAtS ?? NaN,
          x.jobs.jobSeconds ?? NaN,
        ]),
      ),
    );
  }

  const sharded = parts.has('shard') ? await shardedFits(redisUrl, shard) : undefined;

  let train: TrainJobResult | undefined;
  if (parts.has('train')) {
    train = await trainJob({
      items: Number(opts.get('train-items') ?? 100_000),
      users: Number(opts.get('train-users') ?? 50_000),
      seed: 42,
    });
    printTrainJob(train);
  }
  return {
    jobs: n,
    items,
    durationSeconds: duration,
    connections,
    steadyShare,
    rounds,
    jobPriority: jobPriority ?? 'default',
    rates,
    latency,
    sharded,
    train,
  };
}
