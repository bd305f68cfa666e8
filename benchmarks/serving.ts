/**
 * `npm run bench -- serving [--scales 100000,1000000] [--requests 1000] [--cache-dir DIR] [--rotation on|off] [index options]`:
 * the index half (`serving-index`: recall, filtered search, build/load, memory) and, in the same
 * process, every tier's engine time on a synthetic catalogue of the same size: items in a
 * SQLite store, a published version with clustered item factors, user rows, neighbours and its
 * HNSW graph, recent events for trending. Engine time = the `Engine.recommend` call, no HTTP,
 * with the list cache off (every request computed), as wall time and as the process's CPU time.
 * Each request is a random one of 10,000 users, most seen for the first time (two store reads).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import type { Vectors } from '../models/matrix.ts';
import { createRng } from '../models/random.ts';
import { bytesOf } from '../models/typed-bytes.ts';
import { buildAnnIndex } from '../src/index/build-ann-index.ts';
import { HNSW_BUILD_DEFAULTS } from '../src/index/hnsw-index.ts';
import { MemoryRealtime } from '../src/realtime/memory-realtime.ts';
import { DEFAULT_ROTATION } from '../src/realtime/rotation.ts';
import { ModelRegistry } from '../src/registry/model-registry.ts';
import { VERSION_FILES as F } from '../src/registry/version-files.ts';
import { createEngine } from '../src/app/create-shelf.ts';
import type { Engine } from '../src/serving/engine.ts';
import type { RecommendRequest, Tier } from '../src/serving/types.ts';
import { TIERS } from '../src/serving/types.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { Item, ShelfEvent } from '../src/store/types.ts';
import { clusteredItems, userQueries } from '../test/helpers/clustered-vectors.ts';
import servingIndex, { timeCalls } from './serving-index.ts';
import type { Latency } from './serving-index.ts';
import { parseArgs, printTable } from './lib/table.ts';

const DIMS = 64;
const CLUSTERS = 1000;
const USERS = 10_000;
const NOW = Date.UTC(2026, 10, 25, 12);

async function readFiles(paths: string[]): Promise<Record<string, Uint8Array>> {
  const { readFile } = await import('node:fs/promises');
  const out: Record<string, Uint8Array> = {};
  for (const p of paths) out[basename(p)] = await readFile(p);
  return out;
}

export interface SyntheticEngine {
  engine: Engine;
  /** A random request of `tier` (seeded). */
  request: (tier: Tier) => RecommendRequest;
  close: () => Promise<void>;
}

/**
 * An engine serving a synthetic catalogue of `n` items (see the file comment), for this
 * benchmark and for profiling. With `cacheDir`, the version's graph is kept there and reused by
 * later runs (a 1M-item build takes minutes).
 */
export async function syntheticEngine(
  n: number,
  log: (s: string) => void,
  cacheDir?: string,
  rotation = true,
): Promise<SyntheticEngine> {
  const dir = await mkdtemp(join(tmpdir(), 'shelf-bench-serving-'));
  const store = await openSqliteStore(join(dir, 'shelf.sqlite'));
  const close = async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const rng = createRng(11);
    const { vectors, clusterOf, centers } = clusteredItems(n, DIMS, CLUSTERS, 11);
    const category = (c: number) => `Dept ${c % 20} > Cluster ${c}`;
    log(`${n.toLocaleString('en-US')} items: storing the catalogue`);
    for (let start = 0; start < n; start += 10_000) {
      const batch: Item[] = [];
      for (let i = start; i < Math.min(n, start + 10_000); i++) {
        batch.push({
          itemId: `i${i}`,
          title: `Item ${i}`,
          categories: [category(clusterOf[i]!)],
          price: 5 + (i % 200),
          stock: i % 50 === 0 ? 0 : 10,
          status: 'active',
          publishedAt: i % 100 === 0 ? NOW - 3_600_000 : NOW - 200 * 86_400_000,
          repurchasable: false,
          attributes: {},
        });
      }
      await store.upsertItems(batch);
    }
    const users = userQueries(centers, DIMS, USERS, 12);
    const events: ShelfEvent[] = [];
    for (let e = 0; e < 100_000; e++) {
      events.push({
        eventId: `b${e}`,
        type: e % 10 === 0 ? 'purchase' : 'view',
        userId: `u${rng.int(USERS)}`,
        itemId: `i${rng.int(n)}`,
        timestamp: NOW - rng.int(86_400_000 * 7),
      });
    }
    for (let s = 0; s < events.length; s += 5000) await store.insertEvents(events.slice(s, s + 5000));
    // User rows: 8 items of the user's nearest clusters; neighbours: 20 items of the same cluster.
    const members: number[][] = Array.from({ length: CLUSTERS }, () => []);
    clusterOf.forEach((c, i) => members[c]!.push(i));
    const k = 20;
    const neighbours = new Int32Array(n * k).fill(-1);
    const scores = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      const same = members[clusterOf[i]!]!;
      for (let j = 0; j < k && j < same.length - 1; j++) {
        neighbours[i * k + j] = same[(same.indexOf(i) + 1 + j) % same.length]!;
        scores[i * k + j] = 1 - j / k;
      }
    }
    const indptr = new Int32Array(USERS + 1);
    const rowItems = new Int32Array(USERS * 8);
    for (let u = 0; u < USERS; u++) {
      indptr[u + 1] = (u + 1) * 8;
      for (let j = 0; j < 8; j++) rowItems[u * 8 + j] = rng.int(n);
      rowItems.subarray(u * 8, u * 8 + 8).sort();
    }
    const indexFiles = await versionIndex(vectors, dir, log, cacheDir);
    const registry = new ModelRegistry(join(dir, 'models'));
    const manifest = await registry.create(
      {
        kind: 'als',
        params: { factors: DIMS, alpha: 10, regularization: 0.1 },
        seed: 11,
        data: { from: NOW - 7 * 86_400_000, to: NOW - 1, users: USERS, items: n, interactions: USERS * 8 },
        metrics: null,
        codeVersion: 'bench',
      },
      {
        [F.users]: Buffer.from(JSON.stringify(Array.from({ length: USERS }, (_, u) => `u${u}`))),
        [F.items]: Buffer.from(JSON.stringify(Array.from({ length: n }, (_, i) => `i${i}`))),
        [F.userFactors]: bytesOf(users),
        [F.itemFactors]: bytesOf(vectors.data),
        [F.userItemsIndptr]: bytesOf(indptr),
        [F.userItemsIndices]: bytesOf(rowItems),
        [F.userItemsValues]: bytesOf(new Float32Array(rowItems.length).fill(1)),
        [F.neighboursIndices]: bytesOf(neighbours),
        [F.neighboursScores]: bytesOf(scores),
        ...indexFiles,
      },
    );
    const engine = createEngine({
      store,
      // Rotation records every list shown (off: the engine as before rotation existed).
      realtime: new MemoryRealtime(rotation ? {} : { rotation: { ...DEFAULT_ROTATION, shows: 0 } }),
      registry,
      log: pino({ level: 'silent' }),
      now: () => NOW,
      // Every request computed: the list cache would answer the few repeats of a user.
      answerCache: { ttlMs: 0, entries: 1 },
    });
    const loadStart = performance.now();
    await engine.swap(manifest.version);
    log(`  engine loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`);
    const request = (tier: Tier): RecommendRequest => {
      const item = `i${rng.int(n)}`;
      return {
        tier,
        userId: `u${rng.int(USERS)}`,
        limit: 20,
        ...(tier === 'similar' ? { itemId: item } : {}),
        ...(tier === 'cart' ? { cartItemIds: [item, `i${rng.int(n)}`] } : {}),
        ...(tier === 'category' ? { category: `Dept ${rng.int(20)}` } : {}),
      };
    };
    return { engine, request, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The version's index files: built (seeded), or read from `cacheDir` when an earlier run left them. */
async function versionIndex(
  vectors: Vectors,
  dir: string,
  log: (s: string) => void,
  cacheDir?: string,
): Promise<Record<string, Uint8Array>> {
  // The build's settings are the index's defaults: a graph cached under other ones is not reused.
  const { m, efConstruction } = HNSW_BUILD_DEFAULTS;
  const name = `engine-${vectors.rows}x${vectors.cols}-${CLUSTERS}-${m}-${efConstruction}-42`;
  const cached = cacheDir ? join(cacheDir, name) : null;
  if (cached && existsSync(join(cached, 'done'))) {
    log(`  reusing the graph in ${cached}`);
    const names = (await readdir(cached)).filter((f) => f !== 'done');
    return readFiles(names.map((f) => join(cached, f)));
  }
  log(`${vectors.rows.toLocaleString('en-US')} items: building the version's HNSW graph`);
  const t0 = performance.now();
  const index = await buildAnnIndex(vectors, { seed: 42 });
  const indexDir = await mkdtemp(join(dir, 'index-'));
  const files = await readFiles(await index.save(join(indexDir, F.annIndex)));
  log(`  built ${index.kind} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (cached) {
    await mkdir(cached, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(cached, name), bytes);
    await writeFile(join(cached, 'done'), '');
  }
  return files;
}

/** A full, blocking garbage collection (V8's `gc`, made available at run time). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Per-tier engine p50/p99 (ms) on a synthetic catalogue of `n` items. */
async function measureTiers(
  n: number,
  requests: number,
  log: (s: string) => void,
  cacheDir: string | undefined,
  rotation: boolean,
) {
  const { engine, request, close } = await syntheticEngine(n, log, cacheDir, rotation);
  try {
    // The garbage of building and loading (hundreds of MB at 1M items) is collected before
    // timing: a one-off after a swap, which would otherwise land on the first tier measured.
    collectGarbage();
    // Wall time, and the process's CPU time (every thread: GC helpers included), which other
    // processes on this shared machine disturb far less.
    const tiers: Record<string, Latency> = {};
    for (const tier of TIERS) {
      for (let w = 0; w < 100; w++) await engine.recommend(request(tier));
      const reqs = Array.from({ length: requests }, () => request(tier));
      tiers[tier] = await timeCalls(requests, (r) => engine.recommend(reqs[r]!));
    }
    return tiers;
  } finally {
    await close();
  }
}

export default async function serving(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const requests = Number(opts.get('requests') ?? 1000);
  const dirArg = opts.get('cache-dir');
  const cacheDir = typeof dirArg === 'string' ? dirArg : undefined;
  const rotation = (opts.get('rotation') ?? 'on') !== 'off';
  const index = await servingIndex(args);
  const scales = [];
  for (const s of index.scales) {
    const tiers = await measureTiers(s.items, requests, (line) => console.log(line), cacheDir, rotation);
    printTable(
      `Engine time per tier, ${s.items.toLocaleString('en-US')} items × ${DIMS} (${requests} requests each, rotation ${rotation ? 'on' : 'off'})`,
      ['tier', 'p50 ms', 'p99 ms', 'cpu p50 ms', 'cpu p99 ms'],
      TIERS.map((t) => [t, tiers[t]!.p50Ms, tiers[t]!.p99Ms, tiers[t]!.cpuP50Ms, tiers[t]!.cpuP99Ms]),
    );
    scales.push({ ...s, tiers });
  }
  return { scales, rotation, queryConversion: index.queryConversion };
}
