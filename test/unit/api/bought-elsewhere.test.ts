/**
 * A purchase sent to one replica keeps its item out of the buyer's lists on another, however many
 * events the buyer sends after it. Two servers over one store and one real-time state (as Redis
 * is shared): the other replica had read the buyer's bought items before the purchase, and knew
 * of it only from the real-time history, which keeps the newest 50 events; past them, it served
 * the bought item again.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShelf } from '../../../src/app/create-shelf.ts';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { loadConfig } from '../../../src/config.ts';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { trainedShop } from '../../helpers/trained-shop.ts';
import type { TrainedShop } from '../../helpers/trained-shop.ts';

const NOW = Date.UTC(2025, 0, 15, 12);
const SHOP = 'storefront-key-0123456789';
const ADMIN = 'admin-key-0123456789abcdef';
const ENV = {
  SHELF_API_KEYS: `storefront:${SHOP},admin:${ADMIN}`,
  SHELF_ROTATION_SHOWS: '0',
  SHELF_ANSWER_CACHE_MS: '0',
  SHELF_FEED_POLL_MS: '50',
};

describe('a purchase on another replica', () => {
  let shop: TrainedShop;
  let a: Shelf;
  let b: Shelf;

  beforeAll(async () => {
    shop = await trainedShop({ seed: 9, items: 150, users: 60, events: 3000, now: NOW });
    const realtime = new MemoryRealtime();
    const start = () =>
      createShelf(loadConfig({ SHELF_DATA_DIR: shop.dir, ...ENV }), pino({ level: 'silent' }), {
        store: shop.store,
        registry: shop.registry,
        realtime,
        now: () => NOW,
      });
    a = await start();
    b = await start();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await shop?.close();
  });

  const list = async (s: Shelf, userId: string) => {
    const r = await s.app.inject({
      url: `/v1/recommendations/personalized?userId=${userId}&limit=20`,
      headers: { authorization: `Bearer ${SHOP}` },
    });
    expect(r.statusCode).toBe(200);
    return (r.json() as { items: { itemId: string }[] }).items.map((i) => i.itemId);
  };
  const send = (s: Shelf, events: object[]) =>
    s.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${SHOP}` },
      payload: { events },
    });

  it('keeps the bought item out on the other replica past 60 later events', async () => {
    const buyer = shop.storefront.users[4]!.userId;
    const shown = await list(a, buyer);
    const bought = shown[0]!;
    const viewed = shop.storefront.items.map((i) => i.itemId).filter((id) => !shown.includes(id));
    const purchase = {
      eventId: 'else-p',
      type: 'purchase',
      userId: buyer,
      itemId: bought,
      timestamp: NOW - 60_000,
    };
    const views = viewed.slice(0, 60).map((itemId, k) => ({
      eventId: `else-v${k}`,
      type: 'view',
      userId: buyer,
      itemId,
      timestamp: NOW - 59_000 + k * 100,
    }));
    expect((await send(b, [purchase, ...views])).statusCode).toBe(200);
    expect(await list(b, buyer)).not.toContain(bought);
    // Explain: kept out by the purchase, not merely ranked lower after the views.
    const why = async (s: Shelf) => {
      const r = await s.app.inject({
        url: `/v1/admin/explain?tier=personalized&userId=${buyer}&itemId=${bought}`,
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(r.statusCode).toBe(200);
      return r.json() as { stage: string; reason: string };
    };
    const kept = { stage: 'filters', reason: expect.stringContaining('purchase') };
    expect(await why(b)).toMatchObject(kept);
    const deadline = Date.now() + 3000;
    while ((await why(a)).stage !== 'filters' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(await why(a)).toMatchObject(kept);
    expect(await list(a, buyer)).not.toContain(bought);
  });
});
