/**
 * The closed-loop simulator (issue #13's "Done when"): for a fixed seed, after the aggregation
 * job, `GET /v1/admin/metrics` per tier equals the simulator's own counts exactly; the ground
 * truth is written beside the data; the same seed gives the same counts.
 */
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShelf } from '../../../src/app/create-shelf.ts';
import { simulateStorefront } from '../../../src/app/simulate-storefront.ts';
import type { SimulateStorefrontResult } from '../../../src/app/simulate-storefront.ts';
import { loadConfig } from '../../../src/config.ts';
import type { ShelfConfig } from '../../../src/config.ts';
import type { ShownList, SimulationCounts } from '../../../src/demo/closed-loop.ts';
import { trueProbabilities } from '../../../src/demo/click-model.ts';
import type { MetricsRow } from '../../../src/feedback/feedback-metrics.ts';
import type { Store } from '../../../src/store/types.ts';
import { experimentOf } from '../../helpers/experiment-fixture.ts';
import { trainedShop } from '../../helpers/trained-shop.ts';
import type { TrainedShop } from '../../helpers/trained-shop.ts';

const log = pino({ level: 'silent' });
const NOW = Date.UTC(2025, 0, 15, 0);
const ADMIN = 'admin-key-0123456789abcdef';
// A seed whose four days hold returns and a purchase of several units.
const SIMULATION = { visitors: 80, days: 4, seed: 5, start: NOW };

/** The demo storefront, trained (trained-shop.ts), then the simulation through it. */
async function simulated(
  simulationLog: Logger = log,
  before?: (store: Store) => Promise<void>,
): Promise<{ shop: TrainedShop; store: Store; config: ShelfConfig; run: SimulateStorefrontResult }> {
  const shop = await trainedShop({ seed: 5, items: 150, users: 120, events: 5000, now: NOW });
  await before?.(shop.store);
  const config = loadConfig({
    SHELF_DATA_DIR: shop.dir,
    SHELF_API_KEYS: `storefront:storefront-key-0123456789,admin:${ADMIN}`,
  });
  const run = await simulateStorefront({
    config,
    log: simulationLog,
    store: shop.store,
    registry: shop.registry,
    planted: shop.storefront.planted,
    simulation: SIMULATION,
  });
  return { shop, store: shop.store, config, run };
}

describe('the closed-loop simulator', () => {
  const shops: TrainedShop[] = [];
  let first: Awaited<ReturnType<typeof simulated>>;

  beforeAll(async () => {
    first = await simulated();
    shops.push(first.shop);
  });
  afterAll(async () => {
    for (const shop of shops) await shop.close();
  });

  it('counts what the metrics API reports after aggregation, per tier, exactly', async () => {
    const { run, store, config } = first;
    const t = run.result.totals;
    // Enough traffic that every kind of count is exercised, returns included.
    expect(run.impressionsDropped).toBe(0);
    expect(t.clicks).toBeGreaterThan(20);
    expect(t.purchases).toBeGreaterThan(5);
    expect(t.returns).toBeGreaterThan(0);
    expect(t.units).toBeGreaterThan(t.purchases); // a purchase of several units
    expect(Object.keys(run.result.byTier).sort()).toEqual([
      'cart',
      'category',
      'homepage',
      'personalized',
      'similar',
    ]);

    const shelf = await createShelf(config, log, { store, now: () => NOW });
    try {
      const res = await shelf.app.inject({
        method: 'GET',
        url: `/v1/admin/metrics?from=${run.result.from}&to=${run.result.to}&groupBy=tier`,
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(res.statusCode).toBe(200);
      const rows = res.json<{ rows: MetricsRow[] }>().rows;
      const asCounted = (c: SimulationCounts) => ({
        impressions: c.impressions,
        itemsShown: c.itemsShown,
        clicks: c.clicks,
        addToCarts: c.addToCarts,
        purchases: c.purchases,
        units: c.units,
        revenueCents: c.revenueCents,
      });
      const asReported = (r: MetricsRow) => ({
        impressions: r.impressions,
        itemsShown: r.itemsShown,
        clicks: r.clicks,
        addToCarts: r.addToCarts,
        purchases: r.purchases,
        units: r.units,
        // Revenue is summed in floating point by the store; the simulator counts whole cents.
        revenueCents: Math.round(r.revenue * 100),
      });
      expect(Object.fromEntries(rows.map((r) => [r.tier, asReported(r)]))).toEqual(
        Object.fromEntries(Object.entries(run.result.byTier).map(([tier, c]) => [tier, asCounted(c)])),
      );
    } finally {
      await shelf.close();
    }
  });

  it('writes the ground truth beside the data: every list shown with the true chances drawn against', async () => {
    const { run, shop } = first;
    const sf = shop.storefront;
    expect(run.files.map((f) => f.slice(shop.dir.length))).toEqual([
      '/simulation/2025-01-15-seed5/shown.jsonl',
      '/simulation/2025-01-15-seed5/summary.json',
    ]);
    const lines = (await readFile(run.files[0]!, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ShownList);
    expect(lines).toHaveLength(run.result.totals.impressions);
    const byId = new Map(sf.items.map((i) => [i.itemId, i]));
    const line = lines.find((l) => l.tier === 'personalized')!;
    const taste = sf.planted.users[line.userId]!;
    for (const it of line.items) {
      expect(it.click).toBe(trueProbabilities(taste, byId.get(it.itemId)!, it.position).click);
    }
    expect(lines.reduce((n, l) => n + l.items.filter((i) => i.clicked).length, 0)).toBe(
      run.result.totals.clicks,
    );
    const summary = JSON.parse(await readFile(run.files[1]!, 'utf8')) as {
      totals: { revenue: number; trueCtr: number };
      byTier: Record<string, { trueCtr: number }>;
    };
    expect(summary.totals.revenue).toBe(run.result.totals.revenueCents / 100);
    expect(summary.byTier.personalized!.trueCtr).toBeGreaterThan(0);
  });

  it('gives the same counts for the same seed on the same data, and logs none of its requests at info', async () => {
    const lines: { msg: string }[] = [];
    const info = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const again = await simulated(info);
    shops.push(again.shop);
    expect(again.run.result).toEqual(first.run.result);
    expect(again.run.result.totals.impressions).toBeGreaterThan(100);
    expect(lines.filter((l) => /request/.test(l.msg))).toEqual([]);
  });

  it("is served a running experiment's variants, as real traffic is", async () => {
    const experiment = experimentOf({
      id: 'sim-ab',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'b', share: 0.5, config: { weights: { vector: 0, neighbours: 0, ease: 0, trending: 1 } } },
      ],
      state: 'running',
      range: [0, 10_000],
      createdAt: NOW,
      startedAt: NOW,
    });
    const routed = await simulated(log, (store) => store.saveExperiment(experiment));
    shops.push(routed.shop);
    const lists = await routed.store.impressionsAfter(0, 100_000);
    const homepage = lists.filter((l) => l.tier === 'homepage');
    expect(homepage.length).toBe(routed.run.result.byTier.homepage!.impressions);
    const byVariant = new Map<string, number>();
    for (const l of homepage)
      byVariant.set(`${l.experiment}/${l.variant}`, (byVariant.get(`${l.experiment}/${l.variant}`) ?? 0) + 1);
    expect([...byVariant.keys()].sort()).toEqual(['sim-ab/b', 'sim-ab/control']);
    for (const n of byVariant.values()) expect(n).toBeGreaterThan(homepage.length / 4);
    expect(lists.filter((l) => l.tier !== 'homepage').every((l) => l.experiment === undefined)).toBe(true);
  });
});
