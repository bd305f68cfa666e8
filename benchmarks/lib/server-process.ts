/**
 * A server of the HTTP runs (http-runs.ts) in a process of its own, as a replica runs in
 * production: a Shelf on a prepared data dir, or the bare Fastify route. It prints where it
 * listens as one JSON line, and closes when its standard input ends.
 *
 * Why a process each: Shelf servers started one after another in one process slowed down server
 * after server, recording impressions or not. Over six that did not record, the serving thread's
 * CPU per list-cache hit rose from 60 to 104–114 µs, though each closed server was collected.
 * Four servers started, served once and closed made a fifth cost 88 µs a hit against 73 in a
 * fresh process: the code they share (Fastify's, Shelf's) had met every instance's objects, and
 * the bench measured that history.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { pino } from 'pino';
import { startServer } from '../../src/app/start-server.ts';
import { loadConfig } from '../../src/config.ts';

export interface ServerProcessOptions {
  /** A Shelf over this data dir, with this list cache and environment; null: the bare route. */
  shelf: { dir: string; cacheMs: number; env: Record<string, string> } | null;
  /** The bare route answers a constant list of this many items. */
  limit: number;
}

/** What the process prints once it listens. */
interface Listening {
  url: string;
  /** The version served ('bare' for the bare route). */
  modelVersion: string;
  /** Bearer keys of the storefront and admin roles (none for the bare route). */
  storefrontKey: string | null;
  adminKey: string | null;
}

export interface ServerProcess extends Listening {
  /** The process id: its main thread, which serves, has this thread id. */
  pid: number;
  close(): Promise<void>;
}

/** Starts a server process; resolves once it listens. */
export function startServerProcess(o: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(o)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    void exited.then((code) => reject(new Error(`the server process exited with code ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      const listening = JSON.parse(line) as Listening;
      resolve({
        ...listening,
        pid: child.pid!,
        close: async () => {
          child.stdin.end();
          const code = await exited;
          if (code !== 0) throw new Error(`the server process exited with code ${code}`);
        },
      });
    });
  });
}

async function listen(o: ServerProcessOptions): Promise<Listening & { close(): Promise<void> }> {
  if (!o.shelf) {
    const app = Fastify({ logger: false });
    const constant = {
      recommendationId: '00000000-0000-0000-0000-000000000000',
      tier: 'personalized',
      modelVersion: 'bare',
      items: Array.from({ length: o.limit }, (_, i) => ({
        itemId: `sku-${i}`,
        score: 1 - i / 100,
        reason: 'recommended for you',
      })),
    };
    app.get('/v1/recommendations/:tier', async () => constant);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { url, modelVersion: 'bare', storefrontKey: null, adminKey: null, close: () => app.close() };
  }
  const server = await startServer({
    config: loadConfig({
      SHELF_DATA_DIR: o.shelf.dir,
      SHELF_PORT: '0',
      SHELF_RATE_LIMIT: String(1e9),
      SHELF_LOG_LEVEL: 'silent',
      SHELF_ANSWER_CACHE_MS: String(o.shelf.cacheMs),
      ...o.shelf.env,
    }),
    log: pino({ level: 'silent' }),
  });
  const keyOf = (role: string) => server.apiKeys.find((k) => k.role === role)!.key;
  const { modelVersion } = (await (await fetch(`${server.url}/readyz`)).json()) as { modelVersion: string };
  return {
    url: server.url,
    modelVersion,
    storefrontKey: keyOf('storefront'),
    adminKey: keyOf('admin'),
    close: () => server.close(),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { close, ...listening } = await listen(JSON.parse(process.argv[2]!) as ServerProcessOptions);
  console.log(JSON.stringify(listening));
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  await close();
}
