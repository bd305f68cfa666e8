/**
 * Issue #12, build item 6: real-time trending shared through Redis, so two replicas rank alike —
 * and the per-visitor cap holds across them. Two engines over one store and one Redis.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRealtime } from '../../../src/realtime/redis-realtime.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { Engine } from '../../../src/serving/engine.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, ShelfEvent, Store } from '../../../src/store/types.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const log = pino({ level: 'silent' });
const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 25, 12);
/** The engines' clock: moved on past trending's 2 s top-list cache when events arrive. */
let clock = NOW;

const view = (eventId: string, userId: string, itemId: string, timestamp = NOW - HOUR): ShelfEvent => ({
  eventId,
  type: 'view',
  userId,
  itemId,
  timestamp,
});

describe.runIf(available)('trending shared through Redis', () => {
  let dir: string;
  let store: Store;
  const prefix = `${uniqueName('shelf_trend')}:`;
  const connections: Redis[] = [];

  /** A replica: its own connection, real-time state and engine, over the shared store and Redis. */
  const replica = async () => {
    const redis = new Redis(REDIS_URL);
    connections.push(redis);
    const realtime = new RedisRealtime(redis, { prefix });
    const engine = new Engine({
      store,
      realtime,
      registry: new ModelRegistry(join(dir, 'models')),
      log,
      now: () => clock,
      answerCache: { ttlMs: 0, entries: 1 }, // every answer computed afresh
    });
    return { engine, realtime };
  };
  const firstVisit = async (e: Engine) =>
    (await e.recommend({ tier: 'homepage', sessionId: 'first-visit', limit: 10 })).items.map((i) => i.itemId);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-redis-trending-'));
    store = await openSqliteStore(':memory:');
    const items: Item[] = Array.from({ length: 10 }, (_, k) => ({
      itemId: `i${k}`,
      title: `Item ${k}`,
      categories: ['Home'],
      status: 'active',
      publishedAt: NOW - 400 * 24 * HOUR,
      repurchasable: false,
      attributes: {},
    }));
    await store.upsertItems(items);
    // Item ik viewed by 10 − k distinct users an hour ago.
    const organic: ShelfEvent[] = [];
    for (let k = 0; k < 10; k++)
      for (let u = 0; u < 10 - k; u++) organic.push(view(`o-${k}-${u}`, `u${u}`, `i${k}`));
    await store.insertEvents(organic);
  });
  afterAll(async () => {
    const redis = connections[0];
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
    }
    await Promise.all(connections.map((c) => c.quit()));
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('seeds once, then ranks alike on both replicas within a second, one visitor counted once', async () => {
    const [a, b] = [await replica(), await replica()];
    // Replicas starting together: one of them counts the store's window.
    await Promise.all([a.engine.swap(null), b.engine.swap(null)]);
    const seeded = await a.realtime.trending.read(NOW, null);
    expect(seeded.scores.get('i0')).toBeCloseTo(10 * 2 ** (-HOUR / (2 * 86_400_000)), 9);
    expect(await firstVisit(a.engine)).toEqual(await firstVisit(b.engine));

    // On A: 12 new visitors view i9; a spammer views i8 1,000 times on A and 1,000 on B.
    const fresh = Array.from({ length: 12 }, (_, k) => view(`f-${k}`, `fresh-${k}`, 'i9', NOW - 60_000));
    const spamA = Array.from({ length: 1000 }, (_, k) => view(`sa-${k}`, 'spammer', 'i8', NOW - 60_000 + k));
    const spamB = Array.from({ length: 1000 }, (_, k) => view(`sb-${k}`, 'spammer', 'i8', NOW - 50_000 + k));
    await store.insertEvents([...fresh, ...spamA, ...spamB]);
    await a.engine.ingest([...fresh, ...spamA]);
    await b.engine.ingest(spamB);
    clock += 3000;
    const onA = await firstVisit(a.engine);
    expect(onA[0]).toBe('i9'); // 13 visitors
    expect(onA.indexOf('i8')).toBeGreaterThanOrEqual(7); // 2 visitors + the spammer once

    // B hears of A's events from Redis: a request starts a read at most once a second.
    const started = performance.now();
    let onB = await firstVisit(b.engine);
    while (onB.join() !== onA.join() && performance.now() - started < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      onB = await firstVisit(b.engine);
    }
    expect(onB).toEqual(onA);
    expect(performance.now() - started).toBeLessThan(2500);
    const shared = await b.realtime.trending.read(NOW, null);
    expect(shared.scores.get('i8')).toBeCloseTo(
      2 * 2 ** (-HOUR / (2 * 86_400_000)) + 2 ** (-60_000 / (2 * 86_400_000)),
      9,
    );
  });
});
