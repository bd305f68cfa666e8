/**
 * Two clusters on one Redis, `SHELF_QUEUE_PREFIX` apart (a staging and a production, two shops):
 * everything one keeps there — a visitor's events and rotation, trending, rate-limit counters —
 * is under its own prefix, so the other never reads it. Before, only the queues were apart, and
 * one cluster's traffic moved the other's trending and its visitors' lists.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShelf } from '../../../src/app/create-shelf.ts';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { loadConfig } from '../../../src/config.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const KEY = 'storefront-key-for-redis-clusters';

describe.runIf(available)('two clusters on one Redis', () => {
  const prefixes = [uniqueName('cluster-a'), uniqueName('cluster-b')] as const;
  const log = pino({ level: 'silent' });
  let dir: string;
  let redis: Redis;
  const stores: Store[] = [];
  const shelves: Shelf[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-redis-clusters-'));
    redis = new Redis(REDIS_URL);
    for (const prefix of prefixes) {
      const store = await openSqliteStore(':memory:');
      stores.push(store);
      const config = loadConfig({
        SHELF_DATA_DIR: join(dir, prefix),
        SHELF_API_KEYS: `storefront:${KEY}`,
        REDIS_URL,
        SHELF_QUEUE_PREFIX: prefix,
        SHELF_SCHEDULE_TRAIN: 'off',
        SHELF_SCHEDULE_SEGMENTS: 'off',
        SHELF_SCHEDULE_AGGREGATE: 'off',
      });
      shelves.push(await createShelf(config, log, { store }));
    }
  });
  afterAll(async () => {
    for (const shelf of shelves) await shelf.close();
    for (const store of stores) await store.close();
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a visitor’s state, trending and counters under the cluster’s own prefix', async () => {
    const [a, b] = prefixes;
    const userId = uniqueName('visitor');
    const headers = { authorization: `Bearer ${KEY}` };
    const now = Date.now();
    const events = ['i-1', 'i-2', 'i-3'].map((itemId, k) => ({
      eventId: uniqueName('e'),
      type: 'view',
      userId,
      itemId,
      timestamp: now - 1000 + k,
    }));
    const sent = await shelves[0]!.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers,
      payload: { events },
    });
    expect(sent.json()).toMatchObject({ accepted: 3 });
    const asked = await shelves[0]!.app.inject({
      url: `/v1/recommendations/personalized?userId=${userId}`,
      headers,
    });
    expect(asked.statusCode).toBe(200);

    // Every key naming the visitor is cluster A's real-time state; cluster B has none at all.
    const visitorKeys = await redis.keys(`*${userId}*`);
    expect(visitorKeys.length).toBeGreaterThan(0);
    for (const key of visitorKeys) expect(key.startsWith(`${a}:rt:`)).toBe(true);
    expect((await redis.keys(`${a}:rt:trend:*`)).length).toBeGreaterThan(0);
    // B's only key so far: the mark that it counted its own trending window at start.
    expect(await redis.keys(`${b}:rt:*`)).toEqual([`${b}:rt:trend:seeded`]);
    expect((await redis.keys(`${a}-rate-limit:*`)).length).toBeGreaterThan(0);
    expect(await redis.keys(`${b}-rate-limit:*`)).toEqual([]);

    // B serves the visitor as a stranger: A's views are not B's history.
    const onB = await shelves[1]!.app.inject({
      url: `/v1/recommendations/personalized?userId=${userId}`,
      headers,
    });
    expect(onB.statusCode).toBe(200);
    expect(await redis.zcard(`${a}:rt:u:${userId}`)).toBe(3);
    expect(await redis.zcard(`${b}:rt:u:${userId}`)).toBe(0);
  });
});
