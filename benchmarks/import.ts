/**
 * `npm run bench -- import [--data-dir DIR] [--stores parse,sqlite,postgres] [--batch-size N] [--repeat N]
 *  [--synthetic N]`
 *
 * Imports UCI Online Retail (`online-retail-uci/online_retail.csv.gz`, 541,909 rows) as events
 * into a fresh store per run and reports rows read, events stored, rows/s, events/s and peak
 * RSS. Stores: `parse` (a store that accepts everything and writes nothing: the parse-only
 * ceiling, to tell parsing from storing), `sqlite` (a new file in a temp dir), `postgres`
 * (`DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/test, in a fresh schema dropped
 * afterwards). Medians over `--repeat` runs (default 3). Targets: ≥ 100,000 events/s into
 * SQLite, ≥ 30,000 events/s into PostgreSQL, peak RSS < 300 MB.
 *
 * `--synthetic N` imports N generated JSONL events (gzip) instead, to show that memory does not
 * grow with the file.
 *
 * Peak RSS is sampled every 50 ms during each run (`process.memoryUsage().rss`); the process-wide
 * `resourceUsage().maxRSS` is reported too (it includes everything run before in this process).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importFile } from '../src/store/import/import-file.ts';
import type { ImportFormat, ImportSummary } from '../src/store/import/types.ts';
import { openPostgresStore } from '../src/store/postgres-store.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { InsertResult, Item, ShelfEvent, Store, UpsertResult, User } from '../src/store/types.ts';
import { parseArgs, printTable } from './lib/table.ts';
import { median } from './lib/median.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KNOWN = ['parse', 'sqlite', 'postgres'] as const;
type StoreName = (typeof KNOWN)[number];

export interface StoreResult {
  rows: number;
  stored: number;
  rejected: number;
  skipped: number;
  seconds: number;
  /** CPU time of this process (all threads: zlib runs in the libuv pool), median over runs. */
  cpuSeconds: number;
  rowsPerSec: number;
  eventsPerSec: number;
  peakRssMb: number;
  /** Process-wide peak RSS after this store's runs (includes earlier stores). */
  maxRssMb: number;
  runs: number[];
}

interface Harness {
  store: Store;
  cleanup(): Promise<void>;
}

/** Accepts everything and writes nothing: what the importer costs without a database. */
function nullStore(): Store {
  const unsupported = () => {
    throw new Error('not supported by the parse-only store');
  };
  return {
    kind: 'sqlite',
    async migrate() {},
    async upsertItems(items: readonly Item[]): Promise<UpsertResult> {
      return { written: items.length };
    },
    async getItem() {
      return null;
    },
    async getItems() {
      return [];
    },
    listItems: unsupported,
    async upsertUsers(users: readonly User[]): Promise<UpsertResult> {
      return { written: users.length };
    },
    async getUser() {
      return null;
    },
    async insertEvents(events: readonly ShelfEvent[]): Promise<InsertResult> {
      return {
        stored: events.length,
        duplicates: 0,
        erased: 0,
        invalid: [],
        statuses: events.map(() => 'stored' as const),
      };
    },
    patchUser: unsupported,
    insertImpressions: unsupported,
    impressions: unsupported,
    listsShownTo: unsupported,
    latestImpressionWith: unsupported,
    insertAttributions: unsupported,
    purchaseAttribution: unsupported,
    impressionsAfter: unsupported,
    attributionsAfter: unsupported,
    feedbackWatermark: unsupported,
    feedbackHorizon: unsupported,
    addFeedbackBetween: unsupported,
    feedbackTotals: unsupported,
    unitTotals: unsupported,
    preExposure: unsupported,
    saveExperiment: unsupported,
    experiments: unsupported,
    merchantRules: unsupported,
    saveMerchantRules: unsupported,
    generatedKeys: unsupported,
    hasEvents: unsupported,
    isEmpty: unsupported,
    async erasedAmong() {
      return new Set<string>();
    },
    async consentOf() {
      return new Map<string, boolean>();
    },
    erasedUsers: unsupported,
    async appendChanges() {
      return 0;
    },
    changesSince: unsupported,
    async lastChangeSeq() {
      return 0;
    },
    pruneChanges: unsupported,
    async appendAudit() {},
    audit: unsupported,
    streamEvents: unsupported,
    streamInteractions: unsupported,
    recentEvents: unsupported,
    sessionEvents: unsupported,
    sessionItems: unsupported,
    userItems: unsupported,
    mergeSession: unsupported,
    deleteUser: unsupported,
    userActivity: unsupported,
    usersActivity: unsupported,
    stats: unsupported,
    async ping() {},
    async close() {},
  };
}

async function open(name: StoreName, databaseUrl: string): Promise<Harness> {
  if (name === 'parse') return { store: nullStore(), cleanup: async () => undefined };
  if (name === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'shelf-bench-import-'));
    const store = await openSqliteStore(join(dir, 'shelf.sqlite'));
    return {
      store,
      cleanup: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `bench_import_${process.pid}_${randomBytes(3).toString('hex')}`;
  const store = await openPostgresStore({ url: databaseUrl, schema });
  return {
    store,
    cleanup: async () => {
      try {
        await store.dropSchema();
      } finally {
        await store.close();
      }
    },
  };
}

/** N view/purchase events as gzipped JSONL (deterministic), to check memory on files of any size. */
async function writeSyntheticEvents(file: string, n: number): Promise<void> {
  const gzip = createGzip();
  const done = new Promise<void>((ok, fail) => {
    const out = createWriteStream(file);
    gzip.pipe(out).on('finish', ok).on('error', fail);
  });
  const t0 = Date.UTC(2025, 0, 1);
  for (let i = 0; i < n; i++) {
    const line =
      `{"eventId":"s${i}","type":"${i % 10 ? 'view' : 'purchase'}","userId":"u${(i * 7919) % 200_000}",` +
      `"itemId":"i${(i * 104_729) % 50_000}","timestamp":${t0 + i * 1000},"context":{"page":"p${i % 17}"}}\n`;
    if (!gzip.write(line)) await once(gzip, 'drain');
  }
  gzip.end();
  await done;
}

async function measure(
  run: () => Promise<ImportSummary>,
): Promise<{ summary: ImportSummary; peakRss: number; cpuSeconds: number }> {
  let peak = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    const summary = await run();
    peak = Math.max(peak, process.memoryUsage().rss);
    const used = process.cpuUsage(cpu);
    return { summary, peakRss: peak, cpuSeconds: (used.user + used.system) / 1e6 };
  } finally {
    clearInterval(timer);
  }
}

export default async function importBenchmark(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const dataDir = resolve(repoRoot, String(opts.get('data-dir') ?? '../shared/data'));
  const synthetic = opts.has('synthetic') ? Number(opts.get('synthetic')) : 0;
  let file = join(dataDir, 'online-retail-uci', 'online_retail.csv.gz');
  let format: ImportFormat = 'online-retail';
  let syntheticDir: string | null = null;
  if (synthetic > 0) {
    syntheticDir = await mkdtemp(join(tmpdir(), 'shelf-bench-synthetic-'));
    file = join(syntheticDir, 'events.jsonl.gz');
    format = 'jsonl';
    await writeSyntheticEvents(file, synthetic);
  }
  const names = String(opts.get('stores') ?? 'parse,sqlite,postgres')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!(KNOWN as readonly string[]).includes(n))
      throw new Error(`--stores: unknown store ${n} (${KNOWN.join(', ')})`);
  }
  const repeat = Number(opts.get('repeat') ?? 3);
  const batchSize = Number(opts.get('batch-size') ?? 5000);
  // The benchmark is an entry point: it may read the environment (libraries do not).
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

  const results: Partial<Record<StoreName, StoreResult>> = {};
  const skipped: Record<string, string> = {};
  for (const name of names as StoreName[]) {
    const seconds: number[] = [];
    const cpuSeconds: number[] = [];
    let last: ImportSummary | null = null;
    let peakRss = 0;
    try {
      for (let r = 0; r < repeat; r++) {
        const h = await open(name, databaseUrl);
        try {
          const {
            summary,
            peakRss: peak,
            cpuSeconds: cpu,
          } = await measure(() => importFile(h.store, { kind: 'events', file, format, batchSize }));
          seconds.push(summary.seconds);
          cpuSeconds.push(cpu);
          peakRss = Math.max(peakRss, peak);
          last = summary;
        } finally {
          await h.cleanup();
        }
      }
    } catch (err) {
      if (name !== 'postgres') throw err;
      skipped[name] = (err as Error).message;
      console.warn(`skipping postgres: ${(err as Error).message}`);
      continue;
    }
    const s = median(seconds);
    results[name] = {
      rows: last!.rows,
      stored: last!.stored,
      rejected: last!.rejected,
      skipped: last!.skipped,
      seconds: s,
      cpuSeconds: Math.round(median(cpuSeconds) * 100) / 100,
      rowsPerSec: Math.round(last!.rows / s),
      eventsPerSec: Math.round(last!.stored / s),
      peakRssMb: Math.round(peakRss / 2 ** 20),
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      runs: seconds,
    };
  }

  if (syntheticDir) await rm(syntheticDir, { recursive: true, force: true });
  printTable(
    `import: ${synthetic ? `${synthetic.toLocaleString('en-US')} synthetic JSONL events` : 'Online Retail events'} ` +
      `(${file}), batch ${batchSize}, median of ${repeat}`,
    [
      'store',
      'rows',
      'events stored',
      'seconds',
      'CPU s',
      'rows/s',
      'events/s',
      'peak RSS MB',
      'process max RSS MB',
    ],
    Object.entries(results).map(([name, r]) => [
      name,
      r.rows,
      r.stored,
      r.seconds,
      r.cpuSeconds,
      r.rowsPerSec,
      r.eventsPerSec,
      r.peakRssMb,
      r.maxRssMb,
    ]),
  );
  const targets: [StoreName, number][] = [
    ['sqlite', 100_000],
    ['postgres', 30_000],
  ];
  for (const [name, target] of targets) {
    const r = results[name];
    if (r) {
      const ok = r.eventsPerSec >= target && r.peakRssMb < 300;
      console.log(
        `${name}: ${ok ? 'meets' : 'MISSES'} target (≥ ${target.toLocaleString('en-US')} events/s, < 300 MB)`,
      );
    }
  }
  // Other processes share the CPUs: the load average says how far wall time can be trusted.
  const loadAverage = loadavg().map((x) => Math.round(x * 100) / 100);
  console.log(`load average ${loadAverage.join(' ')} on ${cpus().length} CPUs`);
  return {
    file,
    batchSize,
    repeat,
    stores: results,
    skipped,
    loadAverage,
    cpus: cpus().length,
    node: process.version,
  };
}
