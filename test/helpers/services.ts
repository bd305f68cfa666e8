/**
 * Reaching the real services for integration tests. In CI (`CI=true`) a missing service is a
 * failure; on a laptop without it the suite skips with a printed reason.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres-store.ts';
import type { Store } from '../../src/store/types.ts';

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when the service answers; throws in CI when it does not; warns and returns false elsewhere. */
export async function serviceAvailable(name: string, url: string): Promise<boolean> {
  if (await reachable(url)) return true;
  const reason = `${name} is not reachable at ${new URL(url).host}`;
  if (process.env.CI) throw new Error(`${reason}: CI must run the integration tests`);
  console.warn(`skipping ${name} tests: ${reason}`);
  return false;
}

/** Both PostgreSQL and Redis answer (the suites running real server and worker processes). */
export async function servicesAvailable(): Promise<boolean> {
  return (await serviceAvailable('PostgreSQL', POSTGRES_URL)) && (await serviceAvailable('Redis', REDIS_URL));
}

/** A schema or key prefix no other test run uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/**
 * A PostgreSQL database of its own, for tests that run real server processes (each opens the
 * database's default schema): its URL, and `drop()` (which ends the connections still open).
 */
export async function createDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = uniqueName(prefix);
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: POSTGRES_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Deletes every Redis key under `prefix` (a test's queues and counters). */
export async function clearRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
}

/** What a test of real server and worker processes stands on (`clusterGround`). */
export interface ClusterGround {
  /** The data dir every process shares. */
  dir: string;
  /** The queue and key prefix in Redis. */
  prefix: string;
  /** Open on the test's own PostgreSQL database. */
  store: Store;
  /** Every process's environment: that database, Redis, the data dir and prefix, no schedule, warnings only. */
  env: Record<string, string>;
  /** Closes the store, deletes the Redis keys, drops the database, removes the data dir. */
  close(): Promise<void>;
}

/** A data dir, a PostgreSQL database and a Redis prefix of the test's own, named after `name`. */
export async function clusterGround(name: string): Promise<ClusterGround> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  const database = await createDatabase(name);
  const prefix = uniqueName(name);
  const store = await openPostgresStore({ url: database.url });
  return {
    dir,
    prefix,
    store,
    env: {
      DATABASE_URL: database.url,
      REDIS_URL,
      SHELF_DATA_DIR: dir,
      SHELF_QUEUE_PREFIX: prefix,
      SHELF_SCHEDULE_TRAIN: 'off',
      SHELF_SCHEDULE_AGGREGATE: 'off',
      SHELF_SCHEDULE_SEGMENTS: 'off',
      SHELF_LOG_LEVEL: 'warn',
    },
    async close() {
      await store.close();
      await clearRedisPrefix(prefix);
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
