/**
 * Issue #14's "done when" for the bandit and off-policy evaluation, on the closed-loop simulator
 * (seeded): lists from the real engine for the simulator's planted visitors, clicks drawn from
 * the simulator's click model per list shown (test/helpers/click-population.ts), arms chosen by
 * the real AdaptiveRouter (its split recomputed from the totals so far at every cadence, its
 * chances logged as propensities). Outcomes are drawn per list rather than through HTTP, so that
 * tens of thousands of lists take a second.
 *
 * - Bandit: with one clearly better arm (the ALS blend against popularity only), ≥ 70% of the
 *   traffic goes to it and cumulative regret is at most half that of an even split.
 * - OPE: on logs of a stochastic policy (exploration over three arms), the SNIPS estimate of
 *   another configuration's clicks per list holds the simulator's truth within its bootstrap
 *   interval in ≥ 90% of seeds; the item-position estimator too, on each list's arms logged
 *   position by position as the engine logs them (answer.ts `positionLog`) and read back as the
 *   off-policy command reads them (off-policy-logs.ts `armRounds`).
 */
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import { parseAdaptive } from '../../../src/experiments/adaptive-policy.ts';
import { AdaptiveRouter } from '../../../src/experiments/adaptive-router.ts';
import { MemoryAllocationState } from '../../../src/experiments/allocation-state.ts';
import { itemPositionEstimates, listEstimates } from '../../../src/experiments/off-policy.ts';
import { armRounds } from '../../../src/experiments/off-policy-logs.ts';
import type { LoggedList, LoggedPosition } from '../../../src/experiments/off-policy.ts';
import { positionLog } from '../../../src/serving/answer.ts';
import { DEFAULT_SERVING_CONFIG, tierConfig } from '../../../src/serving/types.ts';
import type { RecommendRequest } from '../../../src/serving/types.ts';
import type { FeedbackTotals } from '../../../src/store/types.ts';
import { clickPopulation, showList } from '../../helpers/click-population.ts';
import type { Population } from '../../helpers/click-population.ts';

const log = pino({ level: 'silent' });
const POP = { weights: { vector: 0, neighbours: 0, ease: 0, complements: 0, trending: 1 } };
const MORE = { weights: { trending: 0.8 } };
const base = tierConfig(DEFAULT_SERVING_CONFIG, 'homepage');
/** Arm config name → the population's list. */
const LIST_OF: Record<string, string> = {
  'adaptive:homepage:default': 'als',
  'adaptive:homepage:pop': 'pop',
  'adaptive:homepage:more': 'more',
};

const ids = (l: { itemIds: string[] }) => l.itemIds.map((itemId) => ({ itemId }));

/** Totals per arm as the store's aggregates would give them, kept as lists are shown. */
class Totals {
  private readonly by = new Map<string, FeedbackTotals>();
  add(config: string, clicks: number): void {
    let t = this.by.get(config);
    if (!t) {
      t = {
        keys: { tier: 'homepage', config },
        impressions: 0,
        clicks: 0,
        itemsShown: 0,
        addToCarts: 0,
        purchases: 0,
        units: 0,
        revenue: 0,
        visitors: null,
        visitorCtr: null,
      };
      this.by.set(config, t);
    }
    t.impressions++;
    t.clicks += clicks;
  }
  readonly store = { feedbackTotals: () => Promise.resolve([...this.by.values()]) };
}

describe('bandit and off-policy evaluation on the closed-loop simulator (acceptance)', () => {
  let pop: Population;

  beforeAll(async () => {
    pop = await clickPopulation({ als: {}, pop: POP, more: MORE });
  }, 60_000);

  it('bandit: ≥ 70% of traffic to the clearly better arm, cumulative regret ≤ half of an even split', async () => {
    const best = pop.trueCtr.als! > pop.trueCtr.pop! ? 'als' : 'pop';
    expect(best).toBe('als');
    for (const seed of [1, 2, 3]) {
      const totals = new Totals();
      let now = 0;
      const router = new AdaptiveRouter({
        config: parseAdaptive(JSON.stringify({ homepage: { arms: { pop: POP }, everyMs: 1000 } }), seed),
        state: new MemoryAllocationState(),
        store: totals.store,
        log,
        now: () => now,
      });
      const rng = createRng(seed);
      const LISTS = 20_000;
      let toBest = 0;
      let regret = 0;
      let evenRegret = 0;
      for (let i = 0; i < LISTS; i++) {
        if (i % 500 === 0) {
          now += 1000;
          await router.refresh();
        }
        const v = pop.visitors[rng.int(pop.visitors.length)]!;
        const r: RecommendRequest = { tier: 'homepage', userId: v.userId };
        router.route(r, base);
        const arm = LIST_OF[r.config!.name]!;
        totals.add(r.config!.name, showList(rng, v.lists[arm]!).clicks);
        if (arm === best) toBest++;
        const gap = v.lists.als!.expectedClicks - v.lists.pop!.expectedClicks;
        regret += arm === best ? 0 : gap;
        evenRegret += gap / 2;
      }
      const share = toBest / LISTS;
      const finalSplit = router.split().homepage!.probabilities;
      const ratio = regret / evenRegret;
      expect(share, JSON.stringify({ seed, share, ratio, finalSplit })).toBeGreaterThanOrEqual(0.7);
      expect(ratio, JSON.stringify({ seed, share, ratio, finalSplit })).toBeLessThanOrEqual(0.5);
      // The floor: the worse arm keeps its 5%.
      expect(Math.min(...finalSplit)).toBeCloseTo(0.05, 6);
    }
  }, 60_000);

  it('OPE: SNIPS (list level and item-position) holds the truth within its interval in ≥ 90% of seeds', async () => {
    const SEEDS = 40;
    const truth = pop.trueCtr.pop!;
    let listCovered = 0;
    let itemCovered = 0;
    for (let s = 0; s < SEEDS; s++) {
      const router = new AdaptiveRouter({
        config: parseAdaptive(
          JSON.stringify({ homepage: { mode: 'explore', exploration: 0.6, arms: { pop: POP, more: MORE } } }),
          100 + s,
        ),
        state: new MemoryAllocationState(),
        store: new Totals().store,
        log,
      });
      const split = router.split().homepage!;
      const target = split.arms.indexOf('pop');
      const rng = createRng(200 + s);
      const rounds: LoggedList[] = [];
      const positions: LoggedPosition[][] = [];
      for (let i = 0; i < 6000; i++) {
        const v = pop.visitors[rng.int(pop.visitors.length)]!;
        const r: RecommendRequest = { tier: 'homepage', userId: v.userId };
        router.route(r, base);
        const shown = v.lists[LIST_OF[r.config!.name]!]!;
        const clicked = Array.from(shown.click, (p) => (rng.next() < p ? 1 : 0));
        // What the engine logs with the list (every arm's list, position by position), read
        // back as the off-policy command reads it from the store.
        const logged = positionLog(
          ids(shown),
          split.arms.map((a) => ids(v.lists[a === 'default' ? 'als' : a]!)),
          split.arms,
          split.probabilities,
        );
        const round = armRounds(logged, target, clicked);
        rounds.push(round.list);
        positions.push(round.positions);
      }
      const lists = listEstimates(rounds, { seed: s, resamples: 300 });
      const items = itemPositionEstimates(positions, { seed: s, resamples: 300 });
      if (lists.snips.ci95[0] <= truth && truth <= lists.snips.ci95[1]) listCovered++;
      if (items.snips.ci95[0] <= truth && truth <= items.snips.ci95[1]) itemCovered++;
    }
    const rates = { truth, listCoverage: listCovered / SEEDS, itemPositionCoverage: itemCovered / SEEDS };
    expect(rates.listCoverage, JSON.stringify(rates)).toBeGreaterThanOrEqual(0.9);
    expect(rates.itemPositionCoverage, JSON.stringify(rates)).toBeGreaterThanOrEqual(0.9);
  }, 60_000);
});
