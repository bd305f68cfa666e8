/**
 * When every session happens: each shopper's sessions spread over their active period (busier in
 * the evening), plus anonymous visitors' sessions, sorted by start. Each session gets its own
 * seed so that simulating it needs nothing but the plan and the shopper's purchase history.
 */
import type { Rng } from '../../models/random.ts';
import type { Shopper } from './build-shoppers.ts';
import { ACTIVITY_MARGIN_MS } from './build-shoppers.ts';
import { cumulative, pickCumulative, uniform } from './sampling.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Relative traffic by hour of day (UTC), evening peak. */
const HOURLY_TRAFFIC = [2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 9, 10, 9, 8, 8, 9, 10, 12, 14, 15, 13, 9, 5];

export interface SessionPlan {
  /** Start of each session (epoch ms), ascending. */
  start: Float64Array;
  /** Shopper index; -1 for an anonymous visitor who never logs in. */
  shopper: Int32Array;
  /** Seed of each session's own generator. */
  seed: Uint32Array;
}

export interface PlanOptions {
  now: number;
  days: number;
  /** Sessions by visitors who never log in. */
  anonymousSessions: number;
}

/** Plans all sessions; deterministic for a given `rng` state. */
export function planSessions(shoppers: readonly Shopper[], options: PlanOptions, rng: Rng): SessionPlan {
  const { now, days } = options;
  const hourCum = cumulative(HOURLY_TRAFFIC);
  const at = (lo: number, hi: number): number => {
    const t = uniform(rng, lo, hi);
    // Move to a typical hour of the same day when that stays inside [lo, hi).
    const moved = Math.floor(t / DAY) * DAY + (pickCumulative(hourCum, rng) + rng.next()) * HOUR;
    return Math.floor(moved >= lo && moved < hi ? moved : t);
  };

  let total = options.anonymousSessions;
  for (const s of shoppers) total += s.sessions;
  const start = new Float64Array(total);
  const shopper = new Int32Array(total);
  let k = 0;
  shoppers.forEach((s, u) => {
    const lo = s.activityStart;
    const hi = Math.max(lo + 1, s.activityEnd);
    for (let j = 0; j < s.sessions; j++) {
      // Shoppers still active came back within the last week.
      const recent = j === 0 && (s.segment === 'active' || s.segment === 'high_value') && hi - lo > 7 * DAY;
      start[k] = recent ? at(hi - 7 * DAY, hi) : at(lo, hi);
      shopper[k++] = u;
    }
  });
  const latest = now - ACTIVITY_MARGIN_MS;
  for (let j = 0; j < options.anonymousSessions; j++) {
    start[k] = at(now - days * DAY, latest);
    shopper[k++] = -1;
  }

  const order = Array.from({ length: total }, (_, i) => i).sort((a, b) => start[a]! - start[b]! || a - b);
  const plan: SessionPlan = {
    start: new Float64Array(total),
    shopper: new Int32Array(total),
    seed: new Uint32Array(total),
  };
  order.forEach((i, j) => {
    plan.start[j] = start[i]!;
    plan.shopper[j] = shopper[i]!;
    plan.seed[j] = Math.floor(rng.next() * 4294967296);
  });
  return plan;
}
