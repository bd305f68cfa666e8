/**
 * `npm run bench -- http [--items 100000] [--duration 10] [--connections 32] [--visitors 2000] [--rotation on|off] [--impression-writes on|off]`:
 * drives the personalized tier over loopback with autocannon, then a bare Fastify route that
 * returns a constant list of the same size, in the same run, so the engine's overhead shows as
 * a ratio.
 *
 * Traffic: `--visitors` distinct users in turn (each comes back every `visitors / req/s`
 * seconds, as a shopper moving between pages does), after a first pass that serves each of them
 * once; so the list cache answers the measured requests, and its hit ratio is printed. The same server is then measured with the list cache off
 * (`SHELF_ANSWER_CACHE_MS=0`): every request a full candidate search, for comparison.
 * autocannon runs in a child process (benchmarks/load-client.ts), on the same 2 cores; the
 * servers' CPU time per request is measured in this process, the client's in its own (a longer
 * reply, more headers, costs the client too, and the two share the cores).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { startServer } from '../src/app/start-server.ts';
import { loadConfig } from '../src/config.ts';
import { runLoad } from './load-client.ts';
import type { LoadResult } from './load-client.ts';
import { parseArgs, printTable } from './table.ts';

type Run = LoadResult & { cpuUsPerRequest: number };

/** Drives `url` from a child process; the server's CPU time per request is measured here. */
async function drive(
  url: string,
  paths: string[],
  headers: Record<string, string>,
  duration: number,
  connections: number,
): Promise<Run> {
  const cpu = process.cpuUsage();
  const result = await runLoad({ url, paths, headers, duration, connections });
  const used = process.cpuUsage(cpu);
  return { ...result, cpuUsPerRequest: (used.user + used.system) / Math.max(1, result.requests) };
}

const pick = (r: Run) => ({
  reqPerSec: r.reqPerSec,
  p50Ms: r.p50Ms,
  p99Ms: r.p99Ms,
  errors: r.errors,
  cpuUsPerRequest: r.cpuUsPerRequest,
  clientCpuUsPerRequest: r.clientCpuUsPerRequest,
});

/** The list cache's hits and misses, from the server's /metrics. */
async function cacheCounts(url: string, headers: Record<string, string>) {
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  const count = (kind: string) =>
    Number(new RegExp(`shelf_answer_cache\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
  return { hits: count('hits'), misses: count('misses') };
}

export default async function http(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const items = Number(opts.get('items') ?? 100_000);
  const duration = Number(opts.get('duration') ?? 10);
  const connections = Number(opts.get('connections') ?? 32);
  const visitors = Number(opts.get('visitors') ?? 2000);
  // Rotation demotes what a visitor was shown three times, so a returning visitor's cached list
  // changes: `--rotation off` measures the list cache as it was before rotation existed.
  const rotation = opts.get('rotation') ?? 'on';
  if (rotation !== 'on' && rotation !== 'off') throw new Error('--rotation must be on or off');
  // `--impression-writes off`: a buffer of one impression, so every list is recorded and shed,
  // not written: what writing every list served to the store costs the request loop.
  const writes = opts.get('impression-writes') ?? 'on';
  if (writes !== 'on' && writes !== 'off') throw new Error('--impression-writes must be on or off');
  const limit = 20;
  const dir = await mkdtemp(join(tmpdir(), 'shelf-bench-http-'));
  const t0 = performance.now();
  const start = (cacheMs: number) =>
    startServer({
      config: loadConfig({
        SHELF_DATA_DIR: dir,
        SHELF_PORT: '0',
        SHELF_RATE_LIMIT: String(1e9),
        SHELF_LOG_LEVEL: 'silent',
        SHELF_ANSWER_CACHE_MS: String(cacheMs),
        ...(rotation === 'off' ? { SHELF_ROTATION_SHOWS: '0' } : {}),
        ...(writes === 'off' ? { SHELF_IMPRESSION_BUFFER: '1' } : {}),
      }),
      log: pino({ level: 'silent' }),
      demo: { items, users: Math.round(items / 5), events: items * 10, seed: 1 },
      onProgress: (m, p) => {
        if (!p) console.error(`setup: ${m} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      },
    });
  let server = await start(30_000);
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
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  try {
    const readyz = (await (await fetch(`${server.url}/readyz`)).json()) as { modelVersion: string };
    const users = Array.from(
      { length: visitors },
      (_, i) => `u-${String(i + 1).padStart(String(Math.round(items / 5)).length, '0')}`,
    );
    const paths = users.map((u) => `/v1/recommendations/personalized?userId=${u}&limit=${limit}`);
    const keyOf = (role: string) => server.apiKeys.find((k) => k.role === role)!.key;
    const headers = { authorization: `Bearer ${keyOf('storefront')}` };
    const admin = { authorization: `Bearer ${keyOf('admin')}` };
    // Warm up both (JIT; every visitor's first list), then measure returning visitors.
    await runLoad({ url: server.url, paths, headers, duration: 600, connections, amount: paths.length });
    await drive(server.url, paths, headers, 2, connections);
    await drive(bareUrl, paths, headers, 2, connections);
    const before = await cacheCounts(server.url, admin);
    const shelf = await drive(server.url, paths, headers, duration, connections);
    const after = await cacheCounts(server.url, admin);
    const hitRatio = (after.hits - before.hits) / (after.hits + after.misses - before.hits - before.misses);
    const bareRun = await drive(bareUrl, paths, headers, duration, connections);
    // The same data and model, the list cache off.
    await server.close();
    server = await start(0);
    const uncachedHeaders = {
      authorization: `Bearer ${server.apiKeys.find((k) => k.role === 'storefront')!.key}`,
    };
    await drive(server.url, paths, uncachedHeaders, 2, connections);
    const uncached = await drive(server.url, paths, uncachedHeaders, duration, connections);
    const ratio = shelf.reqPerSec / bareRun.reqPerSec;
    const row = (name: string, r: Run) => [
      name,
      r.reqPerSec,
      r.p50Ms,
      r.p99Ms,
      r.errors,
      r.requests,
      Math.round(r.cpuUsPerRequest),
      Math.round(r.clientCpuUsPerRequest),
    ];
    printTable(
      `HTTP personalized tier, ${items.toLocaleString('en-US')} items (model ${readyz.modelVersion}), ${connections} connections, ${duration} s, ${visitors.toLocaleString('en-US')} visitors in turn, rotation ${rotation}, impression writes ${writes}`,
      ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'requests', 'server CPU µs/req', 'client CPU µs/req'],
      [
        row(`shelf (list cache hits ${(hitRatio * 100).toFixed(1)}%)`, shelf),
        row('shelf, list cache off', uncached),
        row('bare fastify', bareRun),
      ],
    );
    console.log(
      `\nshelf / bare throughput: ${(ratio * 100).toFixed(0)}% (target ≥ 60%; ≥ 5,000 req/s, p99 ≤ 10 ms, 0 errors); list cache off: ${((uncached.reqPerSec / bareRun.reqPerSec) * 100).toFixed(0)}%`,
    );
    return {
      items,
      connections,
      durationSeconds: duration,
      visitors,
      rotation,
      impressionWrites: writes,
      cacheHitRatio: hitRatio,
      shelf: pick(shelf),
      shelfNoCache: pick(uncached),
      bare: pick(bareRun),
      ratio,
    };
  } finally {
    await bare.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
