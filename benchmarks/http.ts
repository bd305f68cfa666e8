/**
 * `npm run bench -- http [--items 100000] [--duration 10] [--connections 32]`: drives the
 * personalized tier over loopback with autocannon, then a bare Fastify route that returns a
 * constant list of the same size, in the same run, so the engine's overhead shows as a ratio.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { pino } from 'pino';
import { startServer } from '../src/api/server.ts';
import { loadConfig } from '../src/config.ts';
import { parseArgs, printTable } from './table.ts';

interface Run {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  requests: number;
}

async function drive(
  url: string,
  paths: string[],
  headers: Record<string, string>,
  duration: number,
  connections: number,
): Promise<Run> {
  let n = 0;
  const result = await autocannon({
    url,
    connections,
    duration,
    headers,
    requests: [{ setupRequest: (req) => ({ ...req, path: paths[n++ % paths.length]! }) }],
  });
  return {
    reqPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    requests: result.requests.total,
  };
}

export default async function http(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const items = Number(opts.get('items') ?? 100_000);
  const duration = Number(opts.get('duration') ?? 10);
  const connections = Number(opts.get('connections') ?? 32);
  const limit = 20;
  const dir = await mkdtemp(join(tmpdir(), 'shelf-bench-http-'));
  const t0 = performance.now();
  const server = await startServer({
    config: loadConfig({
      SHELF_DATA_DIR: dir,
      SHELF_PORT: '0',
      SHELF_RATE_LIMIT: String(1e9),
      SHELF_LOG_LEVEL: 'silent',
    }),
    log: pino({ level: 'silent' }),
    demo: { items, users: Math.round(items / 5), events: items * 10, seed: 1 },
    onProgress: (m, p) => {
      if (!p) console.error(`setup: ${m} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    },
  });
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
      { length: 2000 },
      (_, i) => `u-${String(i + 1).padStart(String(Math.round(items / 5)).length, '0')}`,
    );
    const paths = users.map((u) => `/v1/recommendations/personalized?userId=${u}&limit=${limit}`);
    const key = server.apiKeys.find((k) => k.role === 'storefront')!.key;
    const headers = { authorization: `Bearer ${key}` };
    // Warm up both (JIT, caches), then measure.
    await drive(server.url, paths, headers, 2, connections);
    await drive(bareUrl, paths, headers, 2, connections);
    const shelf = await drive(server.url, paths, headers, duration, connections);
    const bareRun = await drive(bareUrl, paths, headers, duration, connections);
    const ratio = shelf.reqPerSec / bareRun.reqPerSec;
    printTable(
      `HTTP personalized tier, ${items.toLocaleString('en-US')} items (model ${readyz.modelVersion}), ${connections} connections, ${duration} s`,
      ['server', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'requests'],
      [
        ['shelf', shelf.reqPerSec, shelf.p50Ms, shelf.p99Ms, shelf.errors, shelf.requests],
        ['bare fastify', bareRun.reqPerSec, bareRun.p50Ms, bareRun.p99Ms, bareRun.errors, bareRun.requests],
      ],
    );
    console.log(
      `\nshelf / bare throughput: ${(ratio * 100).toFixed(0)}% (target ≥ 60%; ≥ 5,000 req/s, p99 ≤ 10 ms, 0 errors)`,
    );
    return {
      items,
      connections,
      durationSeconds: duration,
      shelf: { reqPerSec: shelf.reqPerSec, p50Ms: shelf.p50Ms, p99Ms: shelf.p99Ms, errors: shelf.errors },
      bare: {
        reqPerSec: bareRun.reqPerSec,
        p50Ms: bareRun.p50Ms,
        p99Ms: bareRun.p99Ms,
        errors: bareRun.errors,
      },
      ratio,
    };
  } finally {
    await bare.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
