/**
 * Thompson sampling over named serving configurations (Chapelle & Li 2011), pure: each arm's
 * posterior from its attributed totals, the share of traffic each arm gets (the chance it is the
 * best, estimated by seeded Monte Carlo draws of the posteriors, as GrowthBook does), and an
 * additive exploration floor so no arm starves and every logged propensity stays ≥ the floor.
 *
 * Rewards per impression (a list served):
 * - `click`, `purchase`: Beta(1 + successes, 1 + impressions − successes), successes capped at
 *   the impressions (a list clicked twice counts once here).
 * - `revenue`: conversion per impression Beta(1 + purchases, 1 + impressions − purchases) times
 *   the mean order value, order values taken as exponential with a conjugate Gamma prior on their
 *   rate, Gamma(1 + purchases, priorValue + revenue) — a draw of revenue per impression is
 *   θ_conv ÷ λ. Needs only the sums the aggregates hold (no per-order variance).
 */
import type { Rng } from '../../models/random.ts';

export type BanditReward = 'click' | 'purchase' | 'revenue';

export interface ArmTotals {
  impressions: number;
  clicks: number;
  purchases: number;
  /** Attributed revenue, net of returns (never below 0 here). */
  revenue: number;
}

export interface AllocationOptions {
  reward: BanditReward;
  /** Each arm's least share. @defaultValue 0.05 */
  floor?: number;
  /** Monte Carlo draws of the posteriors. @defaultValue 10,000 (GrowthBook's) */
  draws?: number;
  /** Until every arm has this many impressions the split stays even. @defaultValue 100 */
  minImpressions?: number;
  /** The Gamma prior's rate for `revenue` (a prior mean order value). @defaultValue 1 */
  priorValue?: number;
}

export const DEFAULT_FLOOR = 0.05;

/** A Gamma(shape, 1) draw (Marsaglia & Tsang 2000; shape < 1 by the boost u^(1/shape)). */
export function gammaDraw(rng: Rng, shape: number): number {
  if (shape < 1) {
    let u = rng.next();
    while (u === 0) u = rng.next();
    return gammaDraw(rng, shape + 1) * u ** (1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(a, b) draw. */
export function betaDraw(rng: Rng, a: number, b: number): number {
  const x = gammaDraw(rng, a);
  return x / (x + gammaDraw(rng, b));
}

/** One draw of `t`'s reward per impression from its posterior. */
export function posteriorDraw(rng: Rng, t: ArmTotals, reward: BanditReward, priorValue = 1): number {
  const n = Math.max(0, t.impressions);
  if (reward === 'click') {
    const k = Math.min(n, Math.max(0, t.clicks));
    return betaDraw(rng, 1 + k, 1 + n - k);
  }
  const k = Math.min(n, Math.max(0, t.purchases));
  const conversion = betaDraw(rng, 1 + k, 1 + n - k);
  if (reward === 'purchase') return conversion;
  const rate = gammaDraw(rng, 1 + k) / (priorValue + Math.max(0, t.revenue));
  return conversion / rate;
}

/** `q` (summing to 1) with every share raised to `floor`: floor + (1 − k·floor)·q. */
export function withFloor(q: readonly number[], floor: number): number[] {
  const k = q.length;
  const f = Math.min(floor, 1 / k);
  return q.map((x) => f + (1 - k * f) * x);
}

/**
 * Each arm's share of traffic: the posterior chance it is the best (Monte Carlo with `rng`),
 * raised to the floor; even until every arm has `minImpressions`.
 */
export function allocation(arms: readonly ArmTotals[], rng: Rng, o: AllocationOptions): number[] {
  const k = arms.length;
  if (k === 0) throw new RangeError('allocation: no arms');
  const floor = o.floor ?? DEFAULT_FLOOR;
  if (!(floor >= 0 && floor * k <= 1))
    throw new RangeError(`allocation: floor ${floor} must lie in [0, 1/${k}]`);
  if (arms.some((a) => a.impressions < (o.minImpressions ?? 100))) return arms.map(() => 1 / k);
  const draws = o.draws ?? 10_000;
  const wins = new Float64Array(k);
  for (let d = 0; d < draws; d++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let i = 0; i < k; i++) {
      const v = posteriorDraw(rng, arms[i]!, o.reward, o.priorValue);
      if (v > bestValue) {
        bestValue = v;
        best = i;
      }
    }
    wins[best]!++;
  }
  return withFloor(
    [...wins].map((w) => w / draws),
    floor,
  );
}

/** The index drawn with chances `p` (summing to 1) from a uniform `u` in [0, 1). */
export function pick(p: readonly number[], u: number): number {
  let acc = 0;
  for (let i = 0; i < p.length; i++) {
    acc += p[i]!;
    if (u < acc) return i;
  }
  return p.length - 1;
}
