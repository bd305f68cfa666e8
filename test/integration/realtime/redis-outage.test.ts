/**
 * A Redis outage, through HTTP: while the server's Redis does not answer (a proxy in front of
 * the test Redis, cut), the probes answer, lists are served from the stored history without
 * waiting on Redis, a purchase keeps its item out, an item change and an erasure are taken. When
 * Redis answers again, the erased user's real-time state is deleted and the history stored
 * meanwhile is in the real-time state again. A Redis that hangs (the connection open, no answer) is
 * waited on for a second a command, not for good. Before, every route answered 500 after seconds of
 * retries (the rate limiter's counters are in Redis) until Redis came back, and what was asked
 * meanwhile was not stored.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { loadConfig, redisNames } from '../../../src/config.ts';
import { RedisRealtime } from '../../../src/realtime/redis-realtime.ts';
import { redisProxy } from '../../helpers/redis-proxy.ts';
import type { RedisProxy } from '../../helpers/redis-proxy.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';
import { trainedShop } from '../../helpers/trained-shop.ts';
import type { TrainedShop } from '../../helpers/trained-shop.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const NOW = Date.UTC(2025, 0, 15, 12);
const SHOP = 'storefront-key-0123456789';
const ADMIN = 'admin-key-0123456789abcdef';

describe.runIf(available)('a Redis outage', () => {
  const prefix = uniqueName('outage');
  let shop: TrainedShop;
  let proxy: RedisProxy;
  let shelf: Shelf;
  let direct: Redis;
  let state: RedisRealtime;

  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const list = async (userId: string) => {
    const r = await shelf.app.inject({
      url: `/v1/recommendations/personalized?userId=${userId}&limit=10`,
      headers: as(SHOP),
    });
    expect(r.statusCode, r.body).toBe(200);
    return (r.json() as { items: { itemId: string }[] }).items.map((i) => i.itemId);
  };

  beforeAll(async () => {
    shop = await trainedShop({ seed: 5, items: 150, users: 60, events: 3000, now: NOW });
    proxy = await redisProxy(REDIS_URL);
    shelf = await shop.start(
      {
        SHELF_API_KEYS: `storefront:${SHOP},admin:${ADMIN}`,
        REDIS_URL: proxy.url,
        SHELF_QUEUE_PREFIX: prefix,
        SHELF_SCHEDULE_TRAIN: 'off',
        SHELF_SCHEDULE_SEGMENTS: 'off',
        SHELF_SCHEDULE_AGGREGATE: 'off',
      },
      () => NOW,
    );
    direct = new Redis(REDIS_URL);
    state = new RedisRealtime(direct, {
      rotation: loadConfig({}).rotation,
      prefix: redisNames(prefix).realtime,
    });
  });
  afterAll(async () => {
    await shelf?.close();
    await proxy?.close();
    const keys = (await direct?.keys(`${prefix}*`)) ?? [];
    if (keys.length) await direct.del(...keys);
    await direct?.quit();
    await shop?.close();
  });

  it('serves and takes changes while Redis does not answer, and catches up when it does', async () => {
    const [buyer, erased] = shop.storefront.users.map((u) => u.userId);
    await list(buyer!);
    await list(erased!);
    expect((await state.recent({ userId: erased! })).length).toBeGreaterThan(0);

    await proxy.cut();
    for (const probe of ['/healthz', '/readyz'])
      expect((await shelf.app.inject({ url: probe })).statusCode, probe).toBe(200);
    const shown = await list(buyer!);
    expect(shown.length).toBe(10);
    const bought = shown[0]!;
    const sent = await shelf.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: as(SHOP),
      payload: {
        events: [{ eventId: `${prefix}-p`, type: 'purchase', userId: buyer, itemId: bought, timestamp: NOW }],
      },
    });
    expect(sent.statusCode, sent.body).toBe(200);
    expect(sent.json().results[0].status).toBe('accepted');
    expect(await list(buyer!)).not.toContain(bought);
    const soldOut = shown[1]!;
    const patched = await shelf.app.inject({
      method: 'PATCH',
      url: `/v1/items/${soldOut}`,
      headers: as(ADMIN),
      payload: { stock: 0 },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(await list(buyer!)).not.toContain(soldOut);
    const erasure = await shelf.app.inject({
      method: 'DELETE',
      url: `/v1/users/${erased}`,
      headers: as(ADMIN),
    });
    expect(erasure.statusCode, erasure.body).toBe(200);
    // Redis still holds what it held: the erasure could not reach it yet.
    expect((await state.recent({ userId: erased! })).length).toBeGreaterThan(0);

    await proxy.restore();
    const deadline = Date.now() + 15_000;
    const caughtUp = async () =>
      (await state.recent({ userId: erased! })).length === 0 &&
      (await state.recent({ userId: buyer! })).some((e) => e.itemId === bought && e.type === 'purchase');
    while (!(await caughtUp()) && Date.now() < deadline) {
      await list(buyer!);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await state.recent({ userId: erased! })).toEqual([]);
    expect((await state.recent({ userId: buyer! })).map((e) => [e.itemId, e.type])).toContainEqual([
      bought,
      'purchase',
    ]);
    expect(await list(buyer!)).not.toContain(bought);
  });
  it('answers while Redis hangs (the connection open, no answer), and deletes an erased user’s state after', async () => {
    const [, , visitor, erased] = shop.storefront.users.map((u) => u.userId);
    await list(visitor!);
    await list(erased!);
    expect((await state.recent({ userId: erased! })).length).toBeGreaterThan(0);
    proxy.pause();
    try {
      for (const probe of ['/healthz', '/readyz'])
        expect((await shelf.app.inject({ url: probe })).statusCode, probe).toBe(200);
      expect((await list(visitor!)).length).toBe(10);
      const erasure = await shelf.app.inject({
        method: 'DELETE',
        url: `/v1/users/${erased}`,
        headers: as(ADMIN),
      });
      expect(erasure.statusCode, erasure.body).toBe(200);
    } finally {
      proxy.resume();
    }
    expect((await list(visitor!)).length).toBe(10);
    // No reconnection says Redis is back: the deletion is tried again on a timer (every 5 s).
    const deadline = Date.now() + 15_000;
    while ((await state.recent({ userId: erased! })).length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(await state.recent({ userId: erased! })).toEqual([]);
  }, 30_000);
});
