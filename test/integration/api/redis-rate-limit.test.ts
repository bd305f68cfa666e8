import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShelf } from '../../../src/app/create-shelf.ts';
import { loadConfig } from '../../../src/config.ts';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const KEY = 'storefront-key-for-redis-test';

describe.runIf(available)('rate limits shared through Redis', () => {
  let dir: string;
  let store: Store;
  let redis: Redis;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-redis-rl-'));
    store = await openSqliteStore(':memory:');
    redis = new Redis(REDIS_URL, { keyPrefix: undefined });
  });
  afterAll(async () => {
    await redis.quit();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts one key’s requests across two replicas', async () => {
    // A unique key per run, so counters left by other runs never interfere.
    const key = `${KEY}-${uniqueName('k')}`;
    // Two replicas over the same store and Redis; real-time state in memory (only counters shared).
    const config = loadConfig({
      SHELF_DATA_DIR: dir,
      SHELF_API_KEYS: `storefront:${key}`,
      SHELF_RATE_LIMIT: '4',
    });
    const replica = async () =>
      (await createShelf(config, log, { store, redis, realtime: new MemoryRealtime() })).app;
    const [a, b] = [await replica(), await replica()];
    try {
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) {
        const app = i % 2 ? b : a;
        codes.push(
          (
            await app.inject({
              url: '/v1/recommendations/homepage',
              headers: { authorization: `Bearer ${key}` },
            })
          ).statusCode,
        );
      }
      expect(codes).toEqual([200, 200, 200, 200, 429, 429]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('counts one address’s failed authentications across two replicas, then answers 429', async () => {
    const key = `${KEY}-${uniqueName('k')}`;
    const config = loadConfig({
      SHELF_DATA_DIR: dir,
      SHELF_API_KEYS: `storefront:${key}`,
      SHELF_AUTH_FAILURE_LIMIT: '3',
    });
    const replica = async () =>
      (await createShelf(config, log, { store, redis, realtime: new MemoryRealtime() })).app;
    const [a, b] = [await replica(), await replica()];
    // An address no other run used in this minute (the counters live in the shared Redis).
    const address = `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await (i % 2 ? b : a).inject({
          url: '/v1/recommendations/homepage',
          remoteAddress: address,
          headers: { authorization: `Bearer guess-${i}` },
        });
        codes.push(res.statusCode);
      }
      expect(codes).toEqual([401, 401, 401, 429]);
      // Replica A learns of the block at its next failure from the address, then refuses the key too.
      const guess = await a.inject({ url: '/v1/recommendations/homepage', remoteAddress: address });
      expect(guess.statusCode).toBe(429);
      const right = await a.inject({
        url: '/v1/recommendations/homepage',
        remoteAddress: address,
        headers: { authorization: `Bearer ${key}` },
      });
      expect(right.statusCode).toBe(429);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
