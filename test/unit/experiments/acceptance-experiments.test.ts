/**
 * Issue #14's "done when" for experiments, on the closed-loop simulator (seeded): lists from the
 * real engine for the simulator's planted visitors, each unit's clicks, purchases and revenue
 * drawn from the simulator's click model (test/helpers/click-population.ts) — at the level of
 * units' outcomes, not 200 runs of the HTTP pipeline, which would take minutes — assigned by the
 * real hash and read by the real results (`experimentResults`).
 *
 * - A/A: 200 experiments; fixed-horizon false positives in [0.02, 0.09]; a look every day for 14
 *   days: the sequential p-value's false positives ≤ 0.05 (+ binomial noise) while naive daily
 *   peeking at the fixed-horizon p-value exceeds that.
 * - A/B: the ALS blend against popularity only: the right sign, significant, and the lift's 95%
 *   interval covering the true lift in ≥ 90% of seeds.
 * - SRM fires when a variant silently loses 5% of its visitors' impressions and stays quiet when healthy.
 * - CUPED narrows the revenue-per-unit interval by ≥ 15% without moving the lift's expectation,
 *   on two close configurations (the default and more trending: a true lift near −10%) over 14
 *   days with 14 days of pre-period. With the ALS-vs-popularity gap (+170%) the pooled θ fits
 *   neither arm and narrows the relative lift's interval by < 1%: see the issue note.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import type { Rng } from '../../../models/random.ts';
import { BUCKETS, bucketOf, shareBounds, variantOf } from '../../../src/experiments/assignment.ts';
import { draftOf, variantConfigName } from '../../../src/experiments/experiment-definition.ts';
import { experimentResults } from '../../../src/experiments/experiment-results.ts';
import type { Experiment, UnitTotals } from '../../../src/store/types.ts';
import { clickPopulation, poisson, showList } from '../../helpers/click-population.ts';
import type { Population, Visitor } from '../../helpers/click-population.ts';

const ALS = {};
const POP = { weights: { vector: 0, neighbours: 0, ease: 0, complements: 0, trending: 1 } };
/** The default with more trending: a small change, as most experiments are. */
const MORE_TRENDING = { weights: { trending: 0.8 } };

/** A running two-variant experiment; what each variant serves is `rowsOf`'s `configOf`. */
function experiment(id: string): Experiment {
  const e = draftOf(
    {
      id,
      name: id,
      tiers: ['homepage'],
      unit: 'user',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'treatment', share: 0.5, config: {} },
      ],
    },
    0,
    `salt-${id}`,
  );
  return { ...e, state: 'running', range: [0, BUCKETS], startedAt: 0 };
}

interface Unit {
  id: string;
  visitor: Visitor;
  /** Lists a day, log-normal across units (some visit a lot): what makes pre- and in-period spend correlate. */
  activity: number;
  /** 0-based arrival day. */
  day: number;
}

function units(rng: Rng, pop: Population, n: number, tag: string, days = 1): Unit[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${i}`,
    visitor: pop.visitors[rng.int(pop.visitors.length)]!,
    activity: Math.exp(Math.log(2.5) + 0.9 * rng.normal()),
    day: rng.int(days),
  }));
}

/** A unit's totals over its exposure: 1 + Poisson(activity − 1)… lists of its variant's configuration. */
function outcome(rng: Rng, u: Unit, config: string, scale = 1) {
  const lists = 1 + poisson(rng, Math.max(0, u.activity * scale - 1));
  let clicks = 0;
  let purchases = 0;
  let revenue = 0;
  const list = u.visitor.lists[config]!;
  for (let l = 0; l < lists; l++) {
    const o = showList(rng, list);
    clicks += o.clicks;
    purchases += o.purchases;
    revenue += o.revenue;
  }
  return { impressions: lists, clicks, purchases, revenue };
}

/** Rows as the store's `unitTotals` gives them: each unit under the variant the hash gives it. */
function rowsOf(
  rng: Rng,
  e: Experiment,
  us: readonly Unit[],
  configOf: (variant: number) => string,
  /** Days of exposure each unit's activity runs for. */
  days = 1,
): (UnitTotals & { day: number })[] {
  const bounds = shareBounds(e.variants.map((v) => v.share));
  return us.map((u) => {
    const v = variantOf(bounds, bucketOf(e.salt, u.id));
    return {
      config: variantConfigName(e.id, e.variants[v]!.name),
      visitor: `u:${u.id}`,
      day: u.day,
      ...outcome(rng, u, configOf(v), days),
    };
  });
}

describe('experiments on the closed-loop simulator (acceptance)', () => {
  let pop: Population;

  beforeAll(async () => {
    pop = await clickPopulation({ als: ALS, pop: POP, more: MORE_TRENDING });
  }, 60_000);

  it('A/A: fixed-horizon false positives in [0.02, 0.09]; daily looks: sequential ≤ 0.05, naive peeking above', () => {
    const EXPERIMENTS = 200;
    const N = 1000;
    const DAYS = 14;
    let fixed = 0;
    let sequential = 0;
    let peeking = 0;
    for (let s = 0; s < EXPERIMENTS; s++) {
      const rng = createRng(1000 + s);
      const e = experiment(`aa-${s}`);
      const rows = rowsOf(rng, e, units(rng, pop, N, `aa${s}`, DAYS), () => 'als');
      let seqHit = false;
      let peekHit = false;
      for (let d = 1; d <= DAYS; d++) {
        const r = experimentResults(
          e,
          rows.filter((x) => x.day < d),
          { nStar: N },
        );
        const ctr = r.comparisons.find((c) => c.metric === 'ctr')!;
        if (ctr.pValue !== null && ctr.pValue < 0.05) peekHit = true;
        if (ctr.sequentialPValue !== null && ctr.sequentialPValue < 0.05) seqHit = true;
        if (d === DAYS && ctr.pValue! < 0.05) fixed++;
      }
      if (seqHit) sequential++;
      if (peekHit) peeking++;
    }
    const rates = {
      fixed: fixed / EXPERIMENTS,
      sequential: sequential / EXPERIMENTS,
      peeking: peeking / EXPERIMENTS,
    };
    const said = JSON.stringify(rates); // seed 1000…: fixed 0.055, sequential 0.04, peeking 0.26
    expect(rates.fixed, said).toBeGreaterThanOrEqual(0.02);
    expect(rates.fixed, said).toBeLessThanOrEqual(0.09);
    // ≤ 0.05 within binomial noise: 0.05 + 1.65 × √(0.05 · 0.95 / 200) ≈ 0.075.
    expect(rates.sequential, said).toBeLessThanOrEqual(0.075);
    expect(rates.peeking, said).toBeGreaterThan(0.05);
    expect(rates.peeking, said).toBeGreaterThan(rates.sequential);
  }, 60_000);

  it('A/B: the ALS blend beats popularity with the right sign; the lift interval covers the truth in ≥ 90% of seeds', () => {
    const trueLift = pop.trueCtr.als! / pop.trueCtr.pop! - 1;
    expect(trueLift).toBeGreaterThan(0.1); // a clearly better configuration, by the click model
    // Coverage is a rate: with 40 seeds one miss moved it 2.5 points, and a nominal 95% interval
    // read 0.875 by chance (35 of 40; 377 of 400 on the same code). 200 seeds: ±1.5 points.
    const SEEDS = 200;
    let covered = 0;
    let rightSign = 0;
    let significant = 0;
    for (let s = 0; s < SEEDS; s++) {
      const rng = createRng(5000 + s);
      const e = experiment(`ab-${s}`);
      const rows = rowsOf(rng, e, units(rng, pop, 3000, `ab${s}`), (v) => (v === 0 ? 'pop' : 'als'));
      const ctr = experimentResults(e, rows).comparisons.find((c) => c.metric === 'ctr')!;
      if (ctr.lift! > 0) rightSign++;
      if (ctr.lift! > 0 && ctr.pValue! < 0.05) significant++;
      if (ctr.liftCi95[0]! <= trueLift && trueLift <= ctr.liftCi95[1]!) covered++;
    }
    const said = JSON.stringify({ trueLift, covered, rightSign, significant, of: SEEDS });
    expect(rightSign, said).toBe(SEEDS);
    expect(significant / SEEDS, said).toBeGreaterThanOrEqual(0.9);
    expect(covered / SEEDS, said).toBeGreaterThanOrEqual(0.9);
  }, 60_000);

  it('SRM fires when a variant silently loses 5% of its visitors’ impressions, and stays quiet when healthy', () => {
    const SEEDS = 20;
    let fired = 0;
    let quiet = 0;
    for (let s = 0; s < SEEDS; s++) {
      const rng = createRng(7000 + s);
      const e = experiment(`srm-${s}`);
      const rows = rowsOf(rng, e, units(rng, pop, 40_000, `srm${s}`), () => 'als');
      if (!experimentResults(e, rows).srm.flagged) quiet++;
      // Broken: a faulty logger drops every impression of 5% of the treatment's visitors, who
      // then never reach the aggregates.
      const treatment = variantConfigName(e.id, 'treatment');
      const broken = rows.filter((r) => r.config !== treatment || rng.next() >= 0.05);
      if (experimentResults(e, broken).srm.flagged) fired++;
    }
    const said = JSON.stringify({ fired, quiet, of: SEEDS });
    expect(quiet, said).toBe(SEEDS);
    expect(fired / SEEDS, said).toBeGreaterThanOrEqual(0.9);
  }, 60_000);

  it('CUPED narrows the revenue-per-unit interval by ≥ 15% without moving the lift’s expectation', () => {
    const SEEDS = 30;
    const widths: number[] = [];
    const plain: number[] = [];
    const adjusted: number[] = [];
    for (let s = 0; s < SEEDS; s++) {
      const rng = createRng(9000 + s);
      const e = experiment(`cuped-${s}`);
      const us = units(rng, pop, 3000, `cu${s}`);
      // The 14 days before: each visitor's own spend under the default (its activity carries over);
      // the experiment runs 14 days too.
      const pre = new Map<string, { purchases: number; revenue: number }>();
      for (const u of us) {
        const o = outcome(rng, u, 'als', 14);
        if (o.purchases) pre.set(`u:${u.id}`, { purchases: o.purchases, revenue: o.revenue });
      }
      const rows = rowsOf(rng, e, us, (v) => (v === 0 ? 'als' : 'more'), 14);
      const rev = experimentResults(e, rows, { pre }).comparisons.find((c) => c.metric === 'revenuePerUnit')!;
      const c = rev.cuped!;
      widths.push((c.liftCi95[1]! - c.liftCi95[0]!) / (rev.liftCi95[1]! - rev.liftCi95[0]!));
      plain.push(rev.lift!);
      adjusted.push(c.lift!);
    }
    const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
    const sd = (x: number[]) => Math.sqrt(x.reduce((a, b) => a + (b - mean(x)) ** 2, 0) / (x.length - 1));
    const narrowing = 1 - mean(widths);
    const diffs = plain.map((p, i) => adjusted[i]! - p);
    const trueLift =
      pop.visitors.reduce((a, v) => a + v.lists.more!.expectedRevenue, 0) /
        pop.visitors.reduce((a, v) => a + v.lists.als!.expectedRevenue, 0) -
      1;
    const said = JSON.stringify({
      narrowing,
      meanLift: mean(plain),
      meanCupedLift: mean(adjusted),
      trueLift,
      meanShift: mean(diffs),
      shiftSe: sd(diffs) / Math.sqrt(SEEDS),
    });
    expect(narrowing, said).toBeGreaterThanOrEqual(0.15);
    // No bias: the mean shift CUPED makes is within 3 standard errors of 0, and the adjusted
    // lifts centre on the true one as closely as the plain lifts do (within 3 of their SEs).
    expect(Math.abs(mean(diffs)), said).toBeLessThan(3 * (sd(diffs) / Math.sqrt(SEEDS)) + 1e-9);
    expect(Math.abs(mean(adjusted) - trueLift), said).toBeLessThan(3 * (sd(adjusted) / Math.sqrt(SEEDS)));
  }, 60_000);
});
