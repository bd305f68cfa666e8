/**
 * The bandit's split through AdaptiveRouter: recomputed from the arms' attributed totals when
 * due, written to the shared state, read (not recomputed) by another replica, and each request's
 * arm drawn with the split's chances and logged with its propensity; requests in an experiment
 * left alone.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseAdaptive } from '../../../src/experiments/adaptive-policy.ts';
import { AdaptiveRouter } from '../../../src/experiments/adaptive-router.ts';
import { MemoryAllocationState } from '../../../src/experiments/allocation-state.ts';
import { DEFAULT_SERVING_CONFIG, tierConfig } from '../../../src/serving/types.ts';
import type { RecommendRequest } from '../../../src/serving/types.ts';
import type { FeedbackQuery, FeedbackTotals } from '../../../src/store/types.ts';

const log = pino({ level: 'silent' });
const NOW = Date.UTC(2025, 2, 1);

function totals(config: string, impressions: number, clicks: number): FeedbackTotals {
  return {
    keys: { tier: 'homepage', config },
    impressions,
    clicks,
    itemsShown: impressions * 8,
    addToCarts: 0,
    purchases: 0,
    units: 0,
    revenue: 0,
    visitors: null,
    visitorCtr: null,
  };
}

describe('AdaptiveRouter', () => {
  it('moves traffic to the better arm, shares the split across replicas, logs propensities', async () => {
    const config = parseAdaptive(
      JSON.stringify({
        homepage: { arms: { pop: { weights: { vector: 0, trending: 1 } } }, everyMs: 60_000 },
      }),
      2,
    );
    const queries: FeedbackQuery[] = [];
    const store = {
      feedbackTotals: (q: FeedbackQuery) => {
        queries.push(q);
        return Promise.resolve([
          totals('adaptive:homepage:default', 3000, 150),
          totals('adaptive:homepage:pop', 3000, 300),
          totals('default', 9000, 10),
        ]);
      },
    };
    const state = new MemoryAllocationState();
    let now = NOW;
    const a = new AdaptiveRouter({ config, state, store, log, now: () => now });
    const b = new AdaptiveRouter({ config, state, store, log, now: () => now });
    expect(a.split().homepage!.probabilities).toEqual([0.5, 0.5]);
    await a.refresh();
    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatchObject({ from: '2025-01-30', to: '2025-03-01', groupBy: ['tier', 'config'] });
    const p = a.split().homepage!.probabilities;
    expect(p[1]).toBeCloseTo(0.95, 6);
    // The other replica reads the stored split: no second computation.
    await b.refresh();
    expect(queries).toHaveLength(1);
    expect(b.split()).toEqual(a.split());
    // Due again after the cadence.
    now += 60_000;
    await b.refresh();
    expect(queries).toHaveLength(2);
    expect((await state.read('homepage'))!.round).toBe(2);

    const base = tierConfig(DEFAULT_SERVING_CONFIG, 'homepage');
    const seen = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const r: RecommendRequest = { tier: 'homepage', userId: `u${i}` };
      a.route(r, base);
      seen.set(r.config!.name, (seen.get(r.config!.name) ?? 0) + 1);
      expect(r.probability).toBe(r.config!.name === 'adaptive:homepage:pop' ? p[1] : p[0]);
      if (r.config!.name === 'adaptive:homepage:pop') expect(r.config!.weights.vector).toBe(0);
    }
    expect(seen.get('adaptive:homepage:pop')! / 4000).toBeGreaterThan(0.93);
    // Every arm goes with the request, for the answer to log position by position.
    const armed: RecommendRequest = { tier: 'homepage', userId: 'u' };
    a.route(armed, base);
    expect(armed.arms!.configs.map((c) => c.name)).toEqual([
      'adaptive:homepage:default',
      'adaptive:homepage:pop',
    ]);
    expect(armed.arms!.configs).toContain(armed.config);
    expect(armed.arms!.probabilities).toEqual(p);
    const quiet = new AdaptiveRouter({
      config: parseAdaptive(JSON.stringify({ homepage: { arms: { pop: {} }, positions: false } })),
      state,
      store,
      log,
    });
    const unarmed: RecommendRequest = { tier: 'homepage', userId: 'u' };
    quiet.route(unarmed, base);
    expect(unarmed.config).toBeDefined();
    expect(unarmed.arms).toBeUndefined();
    // In an experiment, or on a tier without a policy: untouched.
    const inExp: RecommendRequest = { tier: 'homepage', userId: 'u', experiment: 'x', variant: 'control' };
    a.route(inExp, base);
    expect(inExp.config).toBeUndefined();
    const other: RecommendRequest = { tier: 'similar', itemId: 'i' };
    a.route(other, base);
    expect(other.probability).toBeUndefined();
  });

  it('keeps the last split when the totals cannot be read', async () => {
    const config = parseAdaptive(JSON.stringify({ homepage: { arms: { pop: {} } } }));
    const store = { feedbackTotals: () => Promise.reject(new Error('store down')) };
    const r = new AdaptiveRouter({ config, state: new MemoryAllocationState(), store, log });
    await r.refresh();
    expect(r.split().homepage!.probabilities).toEqual([0.5, 0.5]);
    expect(
      new AdaptiveRouter({ config: parseAdaptive(undefined), state: new MemoryAllocationState(), store, log })
        .active,
    ).toBe(false);
  });
});
