/**
 * The feedback loop through HTTP: lists served are recorded, events credited, the aggregate job
 * run, and `GET /v1/admin/metrics` checked against values counted by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShelfApp } from '../../../src/api/app.ts';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { trainedShop } from '../../helpers/trained-shop.ts';
import type { TrainedShop } from '../../helpers/trained-shop.ts';

const NOW = Date.UTC(2025, 0, 15, 12);
const DAY = '2025-01-15';
const SHOP = 'storefront-key-0123456789';
const ADMIN = 'admin-key-0123456789abcdef';

describe('feedback through HTTP', () => {
  let shop: TrainedShop;
  let shelf: Shelf;
  let app: ShelfApp;
  let user: string;

  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const get = (url: string, key = ADMIN) => app.inject({ method: 'GET', url, headers: as(key) });
  const aggregate = async () => {
    const job = await app.inject({ method: 'POST', url: '/v1/admin/feedback/aggregate', headers: as(ADMIN) });
    expect(job.statusCode).toBe(202);
    await shelf.jobs.idle();
    return shelf.jobs.status(job.json().id);
  };

  beforeAll(async () => {
    shop = await trainedShop({ seed: 5, items: 120, users: 80, events: 4000, now: NOW });
    user = shop.storefront.users[0]!.userId;
    shelf = await shop.start({ SHELF_API_KEYS: `storefront:${SHOP},admin:${ADMIN}` }, () => NOW);
    app = shelf.app;
  });
  afterAll(async () => {
    await shelf.close();
    await shop.close();
  });

  it('answers CTR, conversion and revenue per tier and position as counted by hand', async () => {
    const list = async (url: string) => {
      const r = await get(url, SHOP);
      expect(r.statusCode).toBe(200);
      return r.json() as { recommendationId: string; items: { itemId: string }[] };
    };
    const r1 = await list(`/v1/recommendations/personalized?userId=${user}&limit=5`);
    const r2 = await list(`/v1/recommendations/personalized?userId=${user}&limit=5`); // a cache hit
    const r3 = await list('/v1/recommendations/homepage?sessionId=s-feedback&limit=4');
    expect(r1.items.length).toBeGreaterThan(2);
    expect(r3.items.length).toBeGreaterThan(0);
    const pick = r1.items[2]!.itemId;
    const notInR2 = 'no-such-item';
    const events = [
      { eventId: 'c1', type: 'click', userId: user, itemId: pick, recommendationId: r1.recommendationId },
      { eventId: 'c1', type: 'click', userId: user, itemId: pick, recommendationId: r1.recommendationId },
      {
        eventId: 'p1',
        type: 'purchase',
        userId: user,
        itemId: pick,
        recommendationId: r1.recommendationId,
        price: 10,
        quantity: 2,
      },
      { eventId: 'c2', type: 'click', userId: user, itemId: notInR2, recommendationId: r2.recommendationId },
      { eventId: 'c3', type: 'click', sessionId: 's-feedback', itemId: r3.items[0]!.itemId },
    ].map((e) => ({ ...e, timestamp: new Date(NOW).toISOString() }));
    const posted = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: as(SHOP),
      payload: { events },
    });
    expect(posted.json()).toMatchObject({ accepted: 4, duplicates: 1 });
    expect((await aggregate())?.result).toMatchObject({ impressions: 3, attributions: 3, applied: true });

    const byTier = await get(`/v1/admin/metrics?from=${DAY}&to=${DAY}&groupBy=tier`);
    expect(byTier.statusCode).toBe(200);
    const shown = r1.items.length + r2.items.length;
    expect(byTier.json()).toEqual({
      from: DAY,
      to: DAY,
      rows: [
        {
          tier: 'homepage',
          impressions: 1,
          itemsShown: r3.items.length,
          visitors: 1,
          clicks: 1,
          addToCarts: 0,
          purchases: 0,
          units: 0,
          revenue: 0,
          ctr: 1,
          itemCtr: 1 / r3.items.length,
          addToCartRate: 0,
          conversionRate: 0,
          revenuePerMille: 0,
          visitorCtr: 1,
        },
        {
          tier: 'personalized',
          impressions: 2,
          itemsShown: shown,
          visitors: 1,
          clicks: 1,
          addToCarts: 0,
          purchases: 1,
          units: 2,
          revenue: 20,
          ctr: 0.5,
          itemCtr: 1 / shown,
          addToCartRate: 0,
          conversionRate: 0.5,
          revenuePerMille: 10_000,
          visitorCtr: 0.5,
        },
      ],
    });

    const byPosition = (await get(`/v1/admin/metrics?from=${DAY}&to=${DAY}&groupBy=tier,position`)).json();
    const at2 = byPosition.rows.find(
      (r: { tier: string; position: number }) => r.tier === 'personalized' && r.position === 2,
    );
    expect(at2).toMatchObject({ itemsShown: 2, clicks: 1, purchases: 1, revenue: 20, visitors: null });

    // A variant comes with its experiment (these lists are in none: null, and kept in the answer).
    const byVariant = (await get(`/v1/admin/metrics?from=${DAY}&to=${DAY}&groupBy=variant`)).json();
    expect(byVariant.rows).toEqual([
      expect.objectContaining({ experiment: null, variant: null, impressions: 3, clicks: 2 }),
    ]);

    // One row for everything; nothing in another range; a re-run adds nothing.
    const all = (await get(`/v1/admin/metrics?from=2025-01-01&to=2025-01-31`)).json();
    expect(all.rows).toEqual([expect.objectContaining({ impressions: 3, clicks: 2, visitors: 2 })]);
    expect((await get('/v1/admin/metrics?from=2025-02-01&to=2025-02-02')).json().rows).toEqual([]);
    expect((await aggregate())?.result).toMatchObject({ impressions: 0, attributions: 0 });
    expect((await get(`/v1/admin/metrics?from=${DAY}&to=${DAY}&groupBy=tier`)).json()).toEqual(byTier.json());

    // Live counters on /metrics.
    const prom = (await app.inject({ url: '/metrics' })).body;
    expect(prom).toContain('shelf_impressions_total{tier="personalized"} 2');
    expect(prom).toContain('shelf_attributed_clicks_total{tier="homepage"} 1');
    expect(prom).toContain('shelf_attributed_revenue_total{tier="personalized"} 20');
  });

  it('answers 400 naming the field for a bad date or key', async () => {
    for (const [url, field] of [
      ['/v1/admin/metrics?from=2025-13-01&to=2025-01-02', 'querystring/from'],
      ['/v1/admin/metrics?from=2025-01-01&to=2025-02-30', 'querystring/to'],
      ['/v1/admin/metrics?from=2025-01-05&to=2025-01-02', 'querystring/to'],
      ['/v1/admin/metrics?from=2025-01-01&to=2025-01-02&groupBy=tier,color', 'querystring/groupBy'],
      // Misspelt, it answered ungrouped totals as if asked for them.
      [
        '/v1/admin/metrics?from=2025-01-01&to=2025-01-02&grupBy=tier',
        'querystring/grupBy is not a field here',
      ],
    ] as const) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(400);
      expect(r.json().code).toBe('SHELF_ERR_VALIDATION');
      expect(r.json().message, url).toContain(field);
    }
    expect((await get('/v1/admin/metrics?from=2025-01-01&to=2025-01-02', SHOP)).statusCode).toBe(403);
  });
});
