/**
 * `npm run bench -- feedback [--stores sqlite,postgres] [--impressions 10000000] [--incremental 1000000]
 * [--events 100000] [--http on|off] [--items 20000] [--duration 10] [--rounds 3] [--slices 5] [--fixed-rate 6000] [--writer-stored …] [--stall-seconds 10]`: the
 * feedback loop's figures (issue #13), each on data made here with a fixed seed:
 * - events/s through attribution: store insert plus attribution, batches of 100, on each store;
 * - the aggregation job over `--impressions` lists from scratch, then over `--incremental` new
 *   ones, on each store;
 * - the HTTP personalized tier with impression recording on and off, cache hits and cache off
 *   (the http bench's runs, benchmarks/lib/http-runs.ts): `--rounds` rounds, each a server of each
 *   side by side, driven in turn in `--slices` slices; the figure is the median of the rounds' ratios;
 *   then, cache hits, the same servers at `--fixed-rate` req/s (0: not run): what recording costs
 *   in CPU per request, thread by thread, where both serve the same requests;
 * - the impression writer thread's CPU per list on SQLite, by lists already stored
 *   (`--writer-stored 0,1000000`) and visitors (`--writer-visitors 4000,100000`), at
 *   `--writer-rate 10000` lists/s for `--writer-seconds 10`;
 * - the impression buffer's peak size and heap while the store stalls for `--stall-seconds`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { createRng } from '../models/random.ts';
import { aggregateFeedback } from '../src/feedback/aggregate-feedback.ts';
import { Attributor } from '../src/feedback/attributor.ts';
import { ImpressionRecorder } from '../src/feedback/impression-recorder.ts';
import { ImpressionThread } from '../src/feedback/impression-thread.ts';
import { timeOrderedId } from '../src/serving/answer.ts';
import type { Impression } from '../src/serving/types.ts';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../src/store/open-store.ts';
import { openPostgresStore } from '../src/store/postgres-store.ts';
import type { ShelfEvent, Store, StoredImpression } from '../src/store/types.ts';
import { measureHttp, roundRatios } from './lib/http-runs.ts';
import type { Run } from './lib/http-runs.ts';
import { median } from './lib/median.ts';
import { parseArgs, printTable } from './lib/table.ts';
import { threadCpuSince, threadCpuUs } from './lib/thread-cpu.ts';

const DAY = 86_400_000;
const LIST = 20;
const silent = pino({ level: 'silent' });

/**
 * Lists shown over the 7 days before `end`, in time order: visits by a visitor drawn from
 * `visitors`, each visit a run of lists (8 on average, geometric), as a shopper moving between
 * pages sees a few tiers on each; a quarter of the visitors anonymous (sessions).
 */
function impressions(
  count: number,
  o: { visitors: number; items: number; end: number; seed: number },
): StoredImpression[] {
  const r = createRng(o.seed);
  const start = o.end - 7 * DAY;
  let visitor = 0;
  let left = 0;
  const out: StoredImpression[] = [];
  for (let done = 0; done < count; done++) {
    if (left-- <= 0) {
      visitor = r.int(o.visitors);
      left = Math.floor(-Math.log(1 - r.next()) * 7);
    }
    const first = r.int(o.items - LIST);
    const itemIds: string[] = [];
    for (let p = 0; p < LIST; p++) itemIds.push(`sku-${first + p}`);
    const i: StoredImpression = {
      recommendationId: `a-${done}`,
      tier: r.next() < 0.7 ? 'personalized' : 'homepage',
      config: 'default',
      probability: 1,
      modelVersion: 'v1',
      itemIds,
      timestamp: start + Math.floor((done / count) * 7 * DAY),
    };
    if (visitor % 4 === 0) i.sessionId = `s-${visitor}`;
    else i.userId = `u-${visitor}`;
    out.push(i);
  }
  return out;
}

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** Stores `events` in batches of 100 and credits them, as the events route does; events/s. */
async function attributionRun(store: Store, count: number, seed: number) {
  const r = createRng(seed);
  const lists = impressions(200_000, { visitors: 20_000, items: 50_000, end: Date.now() - 60_000, seed });
  await store.insertImpressions(lists);
  const attributor = new Attributor({ store, retries: 0 });
  const events: ShelfEvent[] = [];
  for (let k = 0; k < count; k++) {
    const list = lists[r.int(lists.length)]!;
    const pos = r.int(LIST);
    const x = r.next();
    const type = x < 0.8 ? 'click' : x < 0.9 ? 'add_to_cart' : 'purchase';
    const e: ShelfEvent = {
      eventId: `e-${k}`,
      type,
      itemId: list.itemIds[pos]!,
      timestamp: list.timestamp + 60_000,
      ...(list.userId !== undefined ? { userId: list.userId } : { sessionId: list.sessionId! }),
      // Half name their list; the others are credited through the visitor's latest list in the window.
      ...(r.next() < 0.5 ? { recommendationId: list.recommendationId } : {}),
      ...(type === 'purchase' ? { price: 12.5, quantity: 1 } : {}),
    } as ShelfEvent;
    events.push(e);
  }
  const t0 = performance.now();
  let credited = 0;
  for (let k = 0; k < events.length; k += 100) {
    const batch = events.slice(k, k + 100);
    const res = await store.insertEvents(batch);
    const stored = batch.filter((_, j) => res.statuses[j] === 'stored');
    credited += (await attributor.attribute(stored)).length;
  }
  const s = seconds(t0);
  await attributor.close();
  return { events: count, credited, seconds: s, eventsPerSecond: count / s };
}

/**
 * Writes lists `from` ≤ i < `to` straight into the impressions table, in the database (the
 * bench measures the aggregation, not writing): visits of 8 lists by a visitor drawn by a hash
 * of the visit from `visitors`, a quarter of them anonymous, 20 items each, `step` ms apart.
 */
function fillSql(
  kind: Kind,
  o: { prefix: string; t0: number; step: number; visitors: number; from: number; to: number },
): string {
  const items = Array.from({ length: LIST }, (_, p) => `'sku-' || (f + ${p})`).join(', ');
  const rows =
    kind === 'sqlite'
      ? `WITH RECURSIVE n (i) AS (SELECT ${o.from} UNION ALL SELECT i + 1 FROM n WHERE i < ${o.to - 1})`
      : '';
  const source = kind === 'sqlite' ? 'n' : `generate_series(${o.from}::bigint, ${o.to - 1}) AS n (i)`;
  const list = kind === 'sqlite' ? `json_array(${items})` : `jsonb_build_array(${items})`;
  return `${rows}
    INSERT INTO impressions (recommendation_id, ts, tier, user_id, session_id, config, probability, model_version, item_ids, shown)
    SELECT '${o.prefix}' || i, ${o.t0} + i * ${o.step}, CASE WHEN i % 10 < 7 THEN 'personalized' ELSE 'homepage' END,
      CASE WHEN v % 4 <> 0 THEN 'u-' || v END, CASE WHEN v % 4 = 0 THEN 's-' || v END, 'default', 1, 'v1', ${list}, ${LIST}
    FROM (SELECT i, ((i / 8) * 2654435761) % ${o.visitors} AS v, (i * 7919) % 99980 AS f FROM ${source}) AS g`;
}

/** fillSql's lists `from` ≤ i < `to`, a million to a statement. */
async function fillLists(
  h: Handle,
  o: { prefix: string; t0: number; step: number; visitors: number },
  from: number,
  to: number,
): Promise<void> {
  for (let i = from; i < to; i += 1_000_000) {
    await h.exec(fillSql(h.kind, { ...o, from: i, to: Math.min(to, i + 1_000_000) }));
  }
}

/** The aggregation job over `total` lists from scratch, then over `incremental` more. */
async function aggregationRun(h: Handle, total: number, incremental: number) {
  const visitors = Math.max(1000, Math.round(total / 20));
  const step = Math.max(1, Math.floor((7 * DAY) / (total + incremental)));
  const t0 = Date.now() - 8 * DAY;
  const fill = (prefix: string, from: number, to: number) =>
    fillLists(h, { prefix, t0, step, visitors }, from, to);
  let at = performance.now();
  await fill('x-', 0, total);
  const fillSeconds = seconds(at);
  at = performance.now();
  const scratch = await aggregateFeedback(h.store);
  const scratchSeconds = seconds(at);
  await fill('y-', total, total + incremental);
  at = performance.now();
  const inc = await aggregateFeedback(h.store);
  const incSeconds = seconds(at);
  if (scratch.impressions !== total || inc.impressions !== incremental) {
    throw new Error(
      `aggregation read ${scratch.impressions} + ${inc.impressions} lists, expected ${total} + ${incremental}`,
    );
  }
  const [all] = await h.store.feedbackTotals({ from: '1970-01-01', to: '9999-12-31', groupBy: [] });
  return {
    visitors,
    visitorsSeen: all?.visitors ?? 0,
    fillSeconds,
    scratchSeconds,
    incrementalSeconds: incSeconds,
  };
}

/**
 * The server's impression writer thread (impression-thread.ts) over a SQLite table already
 * holding `stored` lists (written by SQL, as the aggregation's are), fed `rate` lists a second
 * for `seconds` from this thread: the CPU time each thread spends per list. This thread's is
 * making each list and handing it over; the writer's is the store's insert with its index
 * upkeep, commits and checkpoints, by lists already stored. The writer is taken to be the
 * busiest thread but this one (nothing else runs here); the rest is V8's helpers (GC).
 */
async function writerRun(h: Handle, stored: number, visitors: number, rate: number, seconds: number) {
  if (h.file === null) throw new Error('the writer run needs a SQLite store');
  await fillLists(h, { prefix: 'x-', t0: Date.now() - stored - 60_000, step: 1, visitors }, 0, stored);
  const thread = await ImpressionThread.start({
    database: { kind: 'sqlite', file: h.file },
    log: silent,
    capacity: 50_000,
  });
  const r = createRng(11);
  const list = (): Impression => {
    const v = r.int(visitors);
    const first = r.int(99_980);
    const itemIds: string[] = [];
    for (let p = 0; p < LIST; p++) itemIds.push(`sku-${first + p}`);
    const at = Date.now();
    return {
      recommendationId: timeOrderedId(at),
      tier: 'personalized',
      ...(v % 4 ? { userId: `u-${v}` } : { sessionId: `s-${v}` }),
      config: 'default',
      modelVersion: 'v1',
      itemIds,
      timestamp: at,
    };
  };
  const feed = async (forMs: number): Promise<number> => {
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < forMs) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      for (; sent < due; sent++) thread.record(list());
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await thread.flush();
    return sent;
  };
  await feed(1000);
  const before = threadCpuUs();
  const lists = await feed(seconds * 1000);
  const threads = threadCpuSince(before);
  const stats = thread.stats;
  await thread.close();
  const feeder = threads.find((t) => t.tid === String(process.pid))?.us ?? 0;
  const [writer, ...helpers] = threads.filter((t) => t.tid !== String(process.pid));
  return {
    stored,
    visitors,
    rate,
    lists,
    written: stats.written,
    dropped: stats.dropped,
    feederUsPerList: feeder / lists,
    writerUsPerList: (writer?.us ?? 0) / lists,
    helpersUsPerList: helpers.reduce((sum, t) => sum + t.us, 0) / lists,
  };
}

/** The recorder with a store that does not answer for `stallMs`, fed `rate` lists a second. */
async function stalledBuffer(stallMs: number, rate: number, capacity: number) {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  let release = () => {};
  const stalled = new Promise<void>((resolve) => (release = resolve));
  const store = {
    insertImpressions: async (b: readonly StoredImpression[]) => {
      await stalled;
      return b.length;
    },
  };
  const recorder = new ImpressionRecorder({ store, log: silent, capacity, flushEveryMs: 1000 }).start();
  gc();
  const base = process.memoryUsage().heapUsed;
  let peakHeap = 0;
  let peakPending = 0;
  const t0 = Date.now();
  let sent = 0;
  const itemIds = Array.from({ length: LIST }, (_, p) => `sku-${p}`);
  while (Date.now() - t0 < stallMs) {
    const due = Math.floor(((Date.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const i: Impression = {
        recommendationId: randomUUID(),
        tier: 'personalized',
        config: 'default',
        modelVersion: 'v1',
        userId: `u-${sent % 50_000}`,
        itemIds: itemIds.slice(),
        timestamp: Date.now(),
      };
      recorder.record(i);
    }
    peakPending = Math.max(peakPending, recorder.stats.pending);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - base);
    await new Promise((r) => setTimeout(r, 20));
  }
  gc();
  const heldHeap = process.memoryUsage().heapUsed - base;
  release();
  await recorder.close();
  const s = recorder.stats;
  return {
    stallSeconds: stallMs / 1000,
    offered: sent,
    capacity,
    peakPending,
    shed: s.dropped,
    written: s.written,
    peakHeapMB: peakHeap / 2 ** 20,
    heldHeapMB: heldHeap / 2 ** 20,
  };
}

type Kind = 'sqlite' | 'postgres';

/** A store made for one run, and a way to run SQL on its database directly. */
interface Handle {
  kind: Kind;
  store: Store;
  /** The SQLite database's file, for a connection of another thread's own; null on PostgreSQL. */
  file: string | null;
  exec(sql: string): Promise<void>;
}

async function withStore<T>(kind: Kind, run: (h: Handle) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'shelf-bench-feedback-'));
  try {
    if (kind === 'sqlite') {
      const file = join(dir, 'shelf.sqlite');
      const store = await openStore({ kind: 'sqlite', file });
      const db = new Database(file);
      db.pragma('busy_timeout = 5000');
      try {
        return await run({ kind, store, file, exec: async (sql) => void db.exec(sql) });
      } finally {
        db.close();
        await store.close();
      }
    }
    const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    const schema = `bench_feedback_${process.pid}`;
    const store = await openPostgresStore({ url, schema });
    const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      return await run({ kind, store, file: null, exec: async (sql) => void (await client.query(sql)) });
    } finally {
      await client.end();
      await store.dropSchema();
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const numbers = (list: string | true): number[] => String(list).split(',').map(Number);

export default async function feedback(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const stores = String(opts.get('stores') ?? 'sqlite,postgres').split(',') as Kind[];
  for (const k of stores)
    if (k !== 'sqlite' && k !== 'postgres') throw new Error(`--stores: unknown store ${k}`);
  const total = Number(opts.get('impressions') ?? 10_000_000);
  const incremental = Number(opts.get('incremental') ?? 1_000_000);
  const eventCount = Number(opts.get('events') ?? 100_000);
  const http = opts.get('http') ?? 'on';
  const stallMs = Number(opts.get('stall-seconds') ?? 10) * 1000;
  const result: Record<string, unknown> = {};

  const attribution: Record<string, Awaited<ReturnType<typeof attributionRun>>> = {};
  for (const kind of stores)
    attribution[kind] = await withStore(kind, (h) => attributionRun(h.store, eventCount, 7));
  printTable(
    `Attribution: ${eventCount.toLocaleString('en-US')} events (80% clicks, 10% carts, 10% purchases; half name their list) in batches of 100, stored and credited, over 200,000 stored lists`,
    ['store', 'events/s', 'credited', 'seconds'],
    Object.entries(attribution).map(([k, a]) => [k, a.eventsPerSecond, a.credited, a.seconds]),
  );
  result.attribution = attribution;

  const aggregation: Record<string, Awaited<ReturnType<typeof aggregationRun>>> = {};
  for (const kind of stores)
    aggregation[kind] = await withStore(kind, (h) => aggregationRun(h, total, incremental));
  const target = (kind: string) => (kind === 'sqlite' ? 60 : 90);
  printTable(
    `Aggregation job: ${total.toLocaleString('en-US')} lists of ${LIST} from scratch (target ≤ 60 s SQLite, ≤ 90 s PostgreSQL), then ${incremental.toLocaleString('en-US')} new ones (target ≤ 6 s); visits of 8 lists by ${Math.max(1000, Math.round(total / 20)).toLocaleString('en-US')} visitors over 7 days`,
    ['store', 'from scratch s', 'target s', 'incremental s', 'visitors', 'lists written (SQL) s'],
    Object.entries(aggregation).map(([k, a]) => [
      k,
      a.scratchSeconds,
      target(k),
      a.incrementalSeconds,
      a.visitorsSeen,
      a.fillSeconds,
    ]),
  );
  result.aggregation = aggregation;

  if (http === 'on') {
    const runs = await measureHttp({
      items: Number(opts.get('items') ?? 20_000),
      duration: Number(opts.get('duration') ?? 10),
      rounds: Number(opts.get('rounds') ?? 3),
      slices: Number(opts.get('slices') ?? 5),
      fixedRate: Number(opts.get('fixed-rate') ?? 6000),
      variants: [
        // Rotation off in both: it changes a returning visitor's list (and so the cache's hit
        // ratio) with the number of requests served, which is what is being compared.
        { name: 'impressions recorded', env: { SHELF_ROTATION_SHOWS: '0' } },
        {
          name: 'impressions not recorded',
          env: { SHELF_ROTATION_SHOWS: '0', SHELF_IMPRESSION_WRITER: 'off' },
        },
      ],
    });
    const [on, off] = runs.variants;
    const share = (x: number) => `${(x * 100).toFixed(0)}%`;
    // The figure is the median of the rounds' ratios (this machine's runs of the same code
    // differ by up to half); the ratio of the two medians is printed beside it.
    const hits = roundRatios(on!.rounds.cached, off!.rounds.cached);
    const misses = roundRatios(on!.rounds.uncached, off!.rounds.uncached);
    console.log(
      `\nrecorded / not recorded throughput (target ≥ 90%), median of the rounds' ratios: cache hits ${share(median(hits))}, cache off ${share(median(misses))}` +
        ` (by round: cache hits ${hits.map(share).join(' · ')}, cache off ${misses.map(share).join(' · ')};` +
        ` ratio of the medians: cache hits ${share(on!.cached.reqPerSec / off!.cached.reqPerSec)}, cache off ${share(on!.uncached.reqPerSec / off!.uncached.reqPerSec)})`,
    );
    const fixedRateCost = on!.fixed && off!.fixed ? printFixedRate(on!.fixed, off!.fixed) : null;
    result.http = {
      ...runs,
      pairedRatio: { cacheHits: median(hits), cacheOff: median(misses) },
      fixedRateCost,
    };
  }

  const writer: Awaited<ReturnType<typeof writerRun>>[] = [];
  const writerRate = Number(opts.get('writer-rate') ?? 10_000);
  const writerSeconds = Number(opts.get('writer-seconds') ?? 10);
  for (const stored of numbers(opts.get('writer-stored') ?? '0,1000000'))
    for (const visitors of numbers(opts.get('writer-visitors') ?? '4000,100000'))
      writer.push(
        await withStore('sqlite', (h) => writerRun(h, stored, visitors, writerRate, writerSeconds)),
      );
  printTable(
    `Impression writer thread (SQLite): CPU per list, ${writerRate.toLocaleString('en-US')} lists/s of ${LIST} items for ${writerSeconds} s, by lists already stored and visitors`,
    ['stored', 'visitors', 'written', 'dropped', 'feeder µs/list', 'writer µs/list', 'GC helpers µs/list'],
    writer.map((w) => [
      w.stored,
      w.visitors,
      w.written,
      w.dropped,
      w.feederUsPerList,
      w.writerUsPerList,
      w.helpersUsPerList,
    ]),
  );
  result.writer = writer;

  const stall = await stalledBuffer(stallMs, 20_000, 50_000);
  printTable(
    `Impression buffer while the store stalls ${stall.stallSeconds} s, 20,000 lists/s offered (capacity ${stall.capacity.toLocaleString('en-US')})`,
    ['offered', 'peak held', 'shed', 'written after', 'peak heap MB', 'heap held at end MB'],
    [[stall.offered, stall.peakPending, stall.shed, stall.written, stall.peakHeapMB, stall.heldHeapMB]],
  );
  result.stalledBuffer = stall;
  return result;
}

/**
 * The fixed-rate runs of recording on and off (cache hits): each server's CPU per request by
 * thread, and recording's cost as the median of the rounds' differences (a round's servers were
 * driven in turn), beside the CPU a request costs the server and the client without it.
 */
function printFixedRate(on: { run: Run; rounds: Run[] }, off: { run: Run; rounds: Run[] }) {
  const us = (x: number) => Math.round(x * 10) / 10;
  const rest = (r: Run) => r.cpuUsPerRequest - r.servingCpuUsPerRequest - r.busiestOtherCpuUsPerRequest;
  const row = (name: string, r: Run) => [
    name,
    r.reqPerSec,
    r.p50Ms,
    r.p99Ms,
    us(r.cpuUsPerRequest),
    us(r.servingCpuUsPerRequest),
    us(r.busiestOtherCpuUsPerRequest),
    us(rest(r)),
    us(r.clientCpuUsPerRequest),
    r.listsShed,
  ];
  printTable(
    `HTTP personalized tier at a fixed ${on.run.reqPerSec.toLocaleString('en-US')} req/s, list cache hits, CPU µs per request by thread; each row the round of median server CPU`,
    [
      'server',
      'req/s',
      'p50 ms',
      'p99 ms',
      'server CPU',
      'serving thread',
      'busiest other thread',
      'the rest',
      'client CPU',
      'lists shed',
    ],
    [row('impressions recorded', on.run), row('impressions not recorded', off.run)],
  );
  const diff = (f: (r: Run) => number) => median(on.rounds.map((r, k) => f(r) - f(off.rounds[k]!)));
  const cost = {
    server: diff((r) => r.cpuUsPerRequest),
    servingThread: diff((r) => r.servingCpuUsPerRequest),
    busiestOther: diff((r) => r.busiestOtherCpuUsPerRequest),
    rest: diff(rest),
    client: diff((r) => r.clientCpuUsPerRequest),
    /** Server and client CPU per request without recording (the median round's). */
    base: off.run.cpuUsPerRequest + off.run.clientCpuUsPerRequest,
  };
  console.log(
    `\nrecording's CPU per list at that rate (recorded − not recorded, median of the rounds' differences): server ${us(cost.server)} µs` +
      ` (serving thread ${us(cost.servingThread)}, busiest other thread ${us(cost.busiestOther)}, the rest ${us(cost.rest)}), client ${us(cost.client)} µs;` +
      ` server and client without recording: ${us(cost.base)} µs a request`,
  );
  return cost;
}
