/**
 * `npm run bench -- experiments [--units 1e6] [--impressions 1e7] [--requests 1e6] [--seed 7]`
 *
 * Results for one two-variant experiment over `--units` randomisation units who saw
 * `--impressions` lists in all (Poisson per unit), with CUPED's pre-period for a third of them:
 * the time `experimentResults` takes from the per-unit rows (what the store's `unitTotals`
 * returns) to every number of the reply — delta-method CTR, conversion, revenue, lifts, Welch,
 * sequential intervals, SRM, CUPED. Target: ≤ 10 s at 10M impressions and 1M units. Then the
 * same results as `GET /v1/admin/experiments/:id/results` computes them (`ExperimentService`):
 * the store's per-unit query over its per-visitor-day aggregates and the units' pre-period
 * purchases read from its events, on SQLite (`--store off` skips it). Then the cost of
 * assignment per request: `ExperimentRouter.route`
 * for visitors in a running experiment (two hashes and a table read), in µs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createRng } from '../models/random.ts';
import { BUCKETS } from '../src/experiments/assignment.ts';
import { draftOf, variantConfigName } from '../src/experiments/experiment-definition.ts';
import { experimentResults } from '../src/experiments/experiment-results.ts';
import { ExperimentRouter } from '../src/experiments/experiment-router.ts';
import { ExperimentService } from '../src/experiments/experiment-service.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import { DEFAULT_SERVING_CONFIG, tierConfig } from '../src/serving/types.ts';
import type { RecommendRequest } from '../src/serving/types.ts';
import type { Experiment, ShelfEvent, UnitTotals } from '../src/store/types.ts';
import { parseArgs, printTable } from './lib/table.ts';

export default async function experimentsBench(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const num = (name: string, dflt: number) => {
    const v = opts.get(name);
    const x = typeof v === 'string' ? Math.round(Number(v)) : dflt;
    if (!(x >= 1)) throw new RangeError(`--${name} must be a number ≥ 1`);
    return x;
  };
  const units = num('units', 1_000_000);
  const impressions = num('impressions', 10_000_000);
  const requests = num('requests', 1_000_000);
  const rng = createRng(num('seed', 7));

  const e: Experiment = {
    ...draftOf(
      {
        id: 'bench',
        name: 'bench',
        tiers: ['homepage'],
        unit: 'user',
        variants: [
          { name: 'control', share: 0.5, config: {} },
          { name: 'b', share: 0.5, config: { weights: { trending: 1 } } },
        ],
      },
      0,
      'bench-salt',
    ),
    state: 'running',
    range: [0, BUCKETS],
    startedAt: 0,
  };
  const configs = e.variants.map((v) => variantConfigName(e.id, v.name));
  const t0 = performance.now();
  const perUnit = impressions / units;
  const rows: UnitTotals[] = new Array<UnitTotals>(units);
  const pre = new Map<string, { purchases: number; revenue: number }>();
  let shown = 0;
  for (let i = 0; i < units; i++) {
    // 1 + Poisson(mean − 1) by a normal approximation (the shape does not change the cost).
    const n = Math.max(1, Math.round(perUnit + Math.sqrt(Math.max(perUnit - 1, 0)) * rng.normal()));
    shown += n;
    const clicks = Math.max(0, Math.round(n * 0.05 + Math.sqrt(n * 0.05) * rng.normal()));
    const purchases = rng.next() < 0.03 ? 1 : 0;
    const visitor = `u:${i}`;
    rows[i] = {
      config: configs[i & 1]!,
      visitor,
      impressions: n,
      clicks,
      purchases,
      revenue: purchases ? 20 + 30 * rng.next() : 0,
    };
    if (i % 3 === 0) pre.set(visitor, { purchases: 1, revenue: 10 + 40 * rng.next() });
  }
  const generateSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const results = experimentResults(e, rows, { pre });
  const resultsSeconds = (performance.now() - t1) / 1000;

  const viaStore = opts.get('store') === 'off' ? null : await throughStore(e, rows, pre);

  const router = new ExperimentRouter();
  router.load([e]);
  const base = tierConfig(DEFAULT_SERVING_CONFIG, 'homepage');
  const ids = Array.from({ length: Math.min(requests, 100_000) }, (_, i) => `user-${i}`);
  // Warm up, then time.
  for (let i = 0; i < Math.min(10_000, requests); i++)
    router.route({ tier: 'homepage', userId: ids[i % ids.length]! }, base);
  const t2 = performance.now();
  let inB = 0;
  for (let i = 0; i < requests; i++) {
    const r: RecommendRequest = { tier: 'homepage', userId: ids[i % ids.length]! };
    router.route(r, base);
    if (r.variant === 'b') inB++;
  }
  const assignMicros = ((performance.now() - t2) * 1000) / requests;

  printTable(
    'experiments: results of one experiment, and assignment per request',
    ['measure', 'value'],
    [
      ['units', units],
      ['impressions (lists)', shown],
      ['generate rows, s', generateSeconds],
      ['results (delta method, Welch, sequential, SRM, CUPED), s', resultsSeconds],
      ...(viaStore
        ? [
            [
              'through the store (SQLite): the per-unit query and the pre-period, then the results, s',
              viaStore.seconds,
            ],
            ['  rows written for it (not timed), s', viaStore.fillSeconds],
          ]
        : []),
      [
        'target ≤ 10 s at 10M impressions, 1M units',
        units >= 1_000_000 && shown >= 10_000_000
          ? Math.max(resultsSeconds, viaStore?.seconds ?? 0) <= 10
            ? 'met'
            : 'missed'
          : 'n/a: smaller run',
      ],
      ['assignment per request, µs', assignMicros],
      ['share in b', inB / requests],
    ],
  );
  return {
    units,
    impressions: shown,
    resultsSeconds,
    throughStoreSeconds: viaStore?.seconds ?? null,
    generateSeconds,
    assignMicrosPerRequest: assignMicros,
    requests,
    srm: results.srm,
    ctrLift: results.comparisons.find((c) => c.metric === 'ctr')?.lift ?? null,
  };
}

/**
 * `rows` written as one day of per-visitor aggregates and `pre` as purchases in the two weeks
 * before the start, into a SQLite store of its own; then the experiment's results as the API
 * computes them, timed.
 */
async function throughStore(
  e: Experiment,
  rows: readonly UnitTotals[],
  pre: ReadonlyMap<string, { purchases: number; revenue: number }>,
): Promise<{ seconds: number; fillSeconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'shelf-bench-experiments-'));
  const file = join(dir, 'shelf.sqlite');
  const store = await openSqliteStore(file);
  try {
    const t0 = performance.now();
    const startedAt = Date.UTC(2026, 0, 15);
    await store.saveExperiment({ ...e, startedAt });
    const db = new Database(file);
    // Each config's group of the day, then its visitors' rows under the group's id.
    db.prepare(
      `INSERT INTO feedback_groups (day, tier, model_version, config, variant)
       SELECT DISTINCT '2026-01-16', 'homepage', 'v1', value, '' FROM json_each(?)`,
    ).run(JSON.stringify(rows.map((r) => r.config)));
    const insert = db.prepare(
      `INSERT INTO feedback_visitor_days (group_id, visitor, impressions,
         items_shown, clicks, add_to_carts, purchases, units, revenue)
       VALUES ((SELECT id FROM feedback_groups WHERE config = ?), ?, ?, ?, ?, 0, ?, ?, ?)`,
    );
    db.transaction(() => {
      for (const r of rows)
        insert.run(
          r.config,
          r.visitor,
          r.impressions,
          r.impressions * 20,
          r.clicks,
          r.purchases,
          r.purchases,
          r.revenue,
        );
    })();
    db.close();
    let events: ShelfEvent[] = [];
    let n = 0;
    for (const [visitor, p] of pre) {
      events.push({
        eventId: `pre-${n++}`,
        type: 'purchase',
        userId: visitor.slice(2),
        itemId: 'sku-1',
        quantity: p.purchases,
        price: p.revenue / p.purchases,
        timestamp: startedAt - 86_400_000,
      });
      if (events.length === 10_000) {
        await store.insertEvents(events);
        events = [];
      }
    }
    if (events.length) await store.insertEvents(events);
    const fillSeconds = (performance.now() - t0) / 1000;
    const service = new ExperimentService({
      store,
      // Results neither publish nor audit.
      changes: { publish: () => Promise.resolve() },
      audit: { record: () => Promise.resolve() },
    });
    const t1 = performance.now();
    const results = await service.results(e.id);
    const seconds = (performance.now() - t1) / 1000;
    // Every row written is a visitor the readout found (a schema the writes above miss reads none).
    const units = results.variants.reduce((sum, v) => sum + v.units, 0);
    if (units !== rows.length)
      throw new Error(`the readout found ${units} visitors of ${rows.length} written`);
    return { seconds, fillSeconds };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}
