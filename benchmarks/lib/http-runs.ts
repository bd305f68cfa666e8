/**
 * The HTTP runs of the http and feedback benchmarks: the personalized tier over loopback with
 * autocannon, for each variant (a server environment), with the list cache on and off, then a
 * bare Fastify route that returns a constant list of the same size, so the engine's overhead
 * shows as a ratio. Every server of a run shares one data dir: the first start seeds the demo
 * storefront and trains; the others load that version.
 *
 * The storefront is seeded and its first version trained in a child process first
 * (prepare-data-dir.ts): every measured server starts on a ready data dir, in a process whose
 * heap never held the setup (the first variant measured on the server that had seeded ran with
 * that garbage in its old generation, which made its collections costlier than the others').
 *
 * Traffic: `visitors` distinct users in turn (each comes back every `visitors / req/s` seconds,
 * as a shopper moving between pages does), after a first pass that serves each of them once; so
 * the list cache answers the measured requests, and its hit ratio is printed. autocannon runs in
 * a child process (load-client.ts), on the same 2 cores; the servers' CPU time per request is
 * measured in this process (split into the serving thread and the others), the client's in its own.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { pino } from 'pino';
import { startServer } from '../../src/app/start-server.ts';
import { loadConfig } from '../../src/config.ts';
import { demoUserId } from '../../src/demo/build-shoppers.ts';
import { runLoad } from './load-client.ts';
import type { LoadResult } from './load-client.ts';
import { printTable } from './table.ts';
import { threadCpuSince, threadCpuUs } from './thread-cpu.ts';

export interface HttpVariant {
  name: string;
  /** Environment added to the server's (e.g. `SHELF_ROTATION_SHOWS: '0'`). */
  env: Record<string, string>;
}

export interface HttpOptions {
  items: number;
  duration: number;
  connections?: number;
  visitors?: number;
  variants: HttpVariant[];
  /**
   * Servers started per variant and cache mode, the variants' order flipped every round; each
   * row is the round of median throughput (this machine's runs of the same code differ by up to
   * a quarter). @defaultValue 1
   */
  rounds?: number;
}

/**
 * The server's CPU per request, and its split: the thread that serves (this process's main
 * thread) and the others (the impression writer, V8's helpers), from /proc's per-thread times.
 */
type Run = LoadResult & { cpuUsPerRequest: number; servingCpuUsPerRequest: number };

/** The demo storefront the runs serve (prepare-data-dir.ts seeds it). */
export function demoOf(items: number) {
  return { items, users: Math.round(items / 5), events: items * 10, seed: 1 };
}

/** Seeds `dir` with `items` items and trains its first version, in a child process. */
function prepare(dir: string, items: number): Promise<void> {
  const script = fileURLToPath(new URL('./prepare-data-dir.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(items)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`preparing the data dir exited with code ${code}`)),
    );
  });
}

export interface VariantRuns {
  name: string;
  cacheHitRatio: number;
  /** The median round's, cache on and off. */
  cached: Run;
  uncached: Run;
  /** Every round's req/s, in order. */
  rounds: { cached: number[]; uncached: number[] };
}

/** The run of median throughput (the lower of the two middle ones for an even count). */
function median<T extends { run: Run }>(runs: T[]): T {
  return [...runs].sort((a, b) => a.run.reqPerSec - b.run.reqPerSec)[(runs.length - 1) >> 1]!;
}

/** Drives `url` from a child process; the server's CPU time per request is measured here. */
async function drive(
  url: string,
  paths: string[],
  headers: Record<string, string>,
  duration: number,
  connections: number,
): Promise<Run> {
  const cpu = process.cpuUsage();
  const threads = threadCpuUs();
  const result = await runLoad({ url, paths, headers, duration, connections });
  const used = process.cpuUsage(cpu);
  const serving = threadCpuSince(threads).find((t) => t.tid === String(process.pid))?.us ?? 0;
  const n = Math.max(1, result.requests);
  return { ...result, cpuUsPerRequest: (used.user + used.system) / n, servingCpuUsPerRequest: serving / n };
}

/** The list cache's hits and misses, from the server's /metrics. */
async function cacheCounts(url: string, headers: Record<string, string>) {
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  const count = (kind: string) =>
    Number(new RegExp(`shelf_answer_cache\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
  return { hits: count('hits'), misses: count('misses') };
}

/** Measures every variant (cache on, then cache off) and the bare route; prints one table. */
export async function measureHttp(
  o: HttpOptions,
): Promise<{ variants: VariantRuns[]; bare: Run; modelVersion: string }> {
  const connections = o.connections ?? 32;
  const visitors = o.visitors ?? 2000;
  const rounds = o.rounds ?? 1;
  const limit = 20;
  const dir = await mkdtemp(join(tmpdir(), 'shelf-bench-http-'));
  await prepare(dir, o.items);
  const start = (cacheMs: number, env: Record<string, string>) =>
    startServer({
      config: loadConfig({
        SHELF_DATA_DIR: dir,
        SHELF_PORT: '0',
        SHELF_RATE_LIMIT: String(1e9),
        SHELF_LOG_LEVEL: 'silent',
        SHELF_ANSWER_CACHE_MS: String(cacheMs),
        ...env,
      }),
      log: pino({ level: 'silent' }),
    });
  const users = Array.from({ length: visitors }, (_, i) => demoUserId(i, demoOf(o.items).users));
  const paths = users.map((u) => `/v1/recommendations/personalized?userId=${u}&limit=${limit}`);
  /** One server: warmed up (JIT; every visitor's first list), then measured with returning visitors. */
  const measure = async (cacheMs: number, env: Record<string, string>) => {
    const server = await start(cacheMs, env);
    try {
      const keyOf = (role: string) => server.apiKeys.find((k) => k.role === role)!.key;
      const headers = { authorization: `Bearer ${keyOf('storefront')}` };
      const admin = { authorization: `Bearer ${keyOf('admin')}` };
      const { modelVersion } = (await (await fetch(`${server.url}/readyz`)).json()) as {
        modelVersion: string;
      };
      await runLoad({ url: server.url, paths, headers, duration: 600, connections, amount: paths.length });
      await drive(server.url, paths, headers, 2, connections);
      const before = await cacheCounts(server.url, admin);
      const run = await drive(server.url, paths, headers, o.duration, connections);
      const after = await cacheCounts(server.url, admin);
      const hits = after.hits - before.hits;
      return { run, modelVersion, hitRatio: hits / (hits + after.misses - before.misses) };
    } finally {
      await server.close();
    }
  };
  const bare = Fastify({ logger: false });
  const constant = {
    recommendationId: '00000000-0000-0000-0000-000000000000',
    tier: 'personalized',
    modelVersion: 'bare',
    items: Array.from({ length: limit }, (_, i) => ({
      itemId: `sku-${i}`,
      score: 1 - i / 100,
      reason: 'recommended for you',
    })),
  };
  bare.get('/v1/recommendations/:tier', async () => constant);
  try {
    // Cache on for every variant, then cache off: a variant's two rows are apart in time, but
    // the variants compared in one row kind are measured next to each other.
    let modelVersion = '';
    const cached = o.variants.map((): { run: Run; hitRatio: number }[] => []);
    const uncached = o.variants.map((): { run: Run }[] => []);
    for (let round = 0; round < rounds; round++) {
      const order = o.variants.map((_, k) => k);
      if (round % 2) order.reverse();
      for (const k of order) {
        const m = await measure(30_000, o.variants[k]!.env);
        modelVersion = m.modelVersion;
        cached[k]!.push(m);
      }
      for (const k of order) uncached[k]!.push(await measure(0, o.variants[k]!.env));
    }
    const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
    await drive(bareUrl, paths, {}, 2, connections);
    const bareRun = await drive(bareUrl, paths, {}, o.duration, connections);
    const variants = o.variants.map((v, k): VariantRuns => {
      const hits = median(cached[k]!);
      return {
        name: v.name,
        cacheHitRatio: hits.hitRatio,
        cached: hits.run,
        uncached: median(uncached[k]!).run,
        rounds: {
          cached: cached[k]!.map((m) => m.run.reqPerSec),
          uncached: uncached[k]!.map((m) => m.run.reqPerSec),
        },
      };
    });
    const row = (name: string, r: Run) => [
      name,
      r.reqPerSec,
      r.p50Ms,
      r.p99Ms,
      r.errors,
      r.requests,
      Math.round(r.cpuUsPerRequest),
      Math.round(r.servingCpuUsPerRequest),
      Math.round(r.cpuUsPerRequest - r.servingCpuUsPerRequest),
      Math.round(r.clientCpuUsPerRequest),
    ];
    printTable(
      `HTTP personalized tier, ${o.items.toLocaleString('en-US')} items (model ${modelVersion}), ${connections} connections, ${o.duration} s, ${visitors.toLocaleString('en-US')} visitors in turn${rounds > 1 ? `; each row the median of ${rounds} rounds` : ''}`,
      [
        'server',
        'req/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'requests',
        'server CPU µs/req',
        'serving thread',
        'other threads',
        'client CPU µs/req',
      ],
      [
        ...variants.map((v) =>
          row(`${v.name} (list cache hits ${(v.cacheHitRatio * 100).toFixed(1)}%)`, v.cached),
        ),
        ...variants.map((v) => row(`${v.name}, list cache off`, v.uncached)),
        row('bare fastify', bareRun),
      ],
    );
    if (rounds > 1) {
      for (const v of variants)
        console.log(
          `${v.name}: req/s by round, cache hits ${v.rounds.cached.join(' · ')}; cache off ${v.rounds.uncached.join(' · ')}`,
        );
    }
    return { variants, bare: bareRun, modelVersion };
  } finally {
    await bare.close();
    await rm(dir, { recursive: true, force: true });
  }
}
