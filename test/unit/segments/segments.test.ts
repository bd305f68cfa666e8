import { describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import type { SegmentRules, UserActivity } from '../../../src/segments/segments.ts';
import {
  classify,
  DEFAULT_SEGMENT_RULES,
  LIFECYCLES,
  SEGMENTS,
  SegmentTally,
  summarize,
} from '../../../src/segments/segments.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);
const RULES: SegmentRules = { ...DEFAULT_SEGMENT_RULES, highValueRevenue: 100 };

/** A user whose first event was `firstDaysAgo` and last `lastDaysAgo` days before NOW. */
function user(firstDaysAgo: number, lastDaysAgo: number, over: Partial<UserActivity> = {}): UserActivity {
  return {
    userId: 'u',
    firstEventAt: NOW - firstDaysAgo * DAY,
    lastEventAt: NOW - lastDaysAgo * DAY,
    events: 10,
    purchases: 1,
    revenue: 50,
    ...over,
  };
}

const noEvents: UserActivity = {
  userId: 'u',
  firstEventAt: null,
  lastEventAt: null,
  events: 0,
  purchases: 0,
  revenue: 0,
};
const segment = (a: UserActivity, rules = RULES) => classify(a, NOW, rules).segment;

describe('classify: segment', () => {
  it('is new without events', () => {
    expect(classify(noEvents, NOW, RULES)).toEqual({ segment: 'new', lifecycle: 'prospect' });
  });

  it('is new while the first event is at most newDays old and nothing was bought', () => {
    expect(segment(user(30, 0, { purchases: 0 }))).toBe('new');
    expect(segment(user(30 + 1 / DAY, 0, { purchases: 0 }))).toBe('active');
    expect(segment(user(1, 0, { purchases: 1 }))).toBe('active');
  });

  it('is churning after churningDays without events, churned after churnedDays', () => {
    expect(segment(user(200, 30))).toBe('active');
    expect(segment(user(200, 30 + 1 / DAY))).toBe('churning');
    expect(segment(user(200, 90))).toBe('churning');
    expect(segment(user(200, 90 + 1 / DAY))).toBe('churned');
  });

  it('is high_value at or above the revenue threshold while recent', () => {
    expect(segment(user(200, 0, { revenue: 100 }))).toBe('high_value');
    expect(segment(user(200, 0, { revenue: 99.99 }))).toBe('active');
    expect(segment(user(200, 0, { revenue: Infinity }), { ...RULES, highValueRevenue: Infinity })).toBe(
      'high_value',
    );
    expect(segment(user(200, 0, { revenue: 1e9 }), { ...RULES, highValueRevenue: Infinity })).toBe('active');
  });

  it('lets recency win over revenue, and new win over churn', () => {
    expect(segment(user(200, 31, { revenue: 1e6 }))).toBe('churning');
    expect(segment(user(200, 91, { revenue: 1e6 }))).toBe('churned');
    const longNew = { ...RULES, newDays: 120 };
    expect(segment(user(100, 95, { purchases: 0 }), longNew)).toBe('new');
    expect(segment(user(100, 95, { purchases: 1 }), longNew)).toBe('churned');
  });

  it('treats an event after `now` as recent', () => {
    expect(segment(user(-1, -1, { purchases: 0 }))).toBe('new');
    expect(segment(user(100, -1))).toBe('active');
  });
});

describe('classify: lifecycle', () => {
  it('follows purchase occasions: 0, 1, 2 to loyalPurchases − 1, loyalPurchases and more', () => {
    const stage = (purchases: number, rules = RULES) =>
      classify(user(200, 0, { purchases }), NOW, rules).lifecycle;
    expect([0, 1, 2, 4, 5, 50].map((p) => stage(p))).toEqual([
      'prospect',
      'first_time_buyer',
      'repeat_buyer',
      'repeat_buyer',
      'loyal',
      'loyal',
    ]);
    expect(stage(2, { ...RULES, loyalPurchases: 2 })).toBe('loyal');
  });

  it('does not depend on segment', () => {
    expect(classify(user(200, 200, { purchases: 7 }), NOW, RULES)).toEqual({
      segment: 'churned',
      lifecycle: 'loyal',
    });
  });
});

describe('classify: rule checks', () => {
  const bad: [Partial<SegmentRules>, RegExp][] = [
    [{ newDays: -1 }, /newDays must be a finite number ≥ 0, got -1/],
    [{ churningDays: NaN }, /churningDays .*got NaN/],
    [{ churnedDays: Infinity }, /churnedDays .*got Infinity/],
    [{ churningDays: 100 }, /churningDays \(100\) must not exceed churnedDays \(90\)/],
    [{ highValueRevenue: 0 }, /highValueRevenue must be a number > 0/],
    [{ highValueRevenue: NaN }, /highValueRevenue .*got NaN/],
    [{ loyalPurchases: 1 }, /loyalPurchases must be an integer ≥ 2, got 1/],
    [{ loyalPurchases: 2.5 }, /loyalPurchases .*got 2.5/],
  ];
  it.each(bad)('rejects %o', (over, message) => {
    expect(() => classify(noEvents, NOW, { ...RULES, ...over })).toThrow(RangeError);
    expect(() => classify(noEvents, NOW, { ...RULES, ...over })).toThrow(message);
  });

  it('rejects a `now` that is not a finite number', () => {
    expect(() => classify(noEvents, NaN, RULES)).toThrow(/now must be a finite/);
  });

  it('accepts zero days', () => {
    const zero = { ...RULES, newDays: 0, churningDays: 0, churnedDays: 0 };
    expect(segment(user(0, 0, { purchases: 0 }), zero)).toBe('new');
    expect(segment(user(1, 1 / DAY), zero)).toBe('churned');
  });
});

describe('summarize', () => {
  /** Recent, non-new buyers with the given revenues. */
  const buyers = (revenues: number[]) =>
    revenues.map((revenue, i) => user(200, 0, { userId: `b${i}`, revenue, purchases: 1 }));

  it('takes the 90th percentile of positive revenues, interpolated between ranks', () => {
    // 10 buyers 10…100: rank 0.9 × 9 = 8.1 → 90 + 0.1 × (100 − 90) = 91; zero and negative
    // revenues stay out of the population.
    const s = summarize(
      [...buyers([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]), ...buyers([0, 0, -25, 0])],
      NOW,
    );
    expect(s.highValueRevenue).toBeCloseTo(91, 9);
    expect(s.bySegment).toEqual({ new: 0, active: 13, high_value: 1, churning: 0, churned: 0 });
    expect(s.rules).toEqual({ ...DEFAULT_SEGMENT_RULES, highValueRevenue: s.highValueRevenue });
  });

  it('lands exactly on a value when the rank is whole, and counts everyone tied at it', () => {
    // 11 buyers: rank 0.9 × 10 = 9, so the threshold is the 10th value itself.
    const s = summarize(buyers([110, 10, 20, 30, 40, 50, 60, 70, 80, 100, 90]), NOW);
    expect(s.highValueRevenue).toBe(100);
    expect(s.bySegment.high_value).toBe(2);
    const tied = summarize(buyers([5, 5, 5, 5]), NOW);
    expect(tied).toMatchObject({ highValueRevenue: 5, bySegment: { high_value: 4, active: 0 } });
  });

  it('ranks churned buyers in the percentile but keeps them churned', () => {
    const s = summarize(
      [
        ...buyers([1, 2, 3, 4, 5, 6, 7, 8, 9]),
        user(300, 200, { userId: 'gone', revenue: 1000 }),
        user(5, 0, { userId: 'recent', revenue: 1000 }),
      ],
      NOW,
    );
    // 11 buyers with revenues 1…9, 1000, 1000: the threshold is the 10th, 1000.
    expect(s.highValueRevenue).toBe(1000);
    expect(s.bySegment).toEqual({ new: 0, active: 9, high_value: 1, churning: 0, churned: 1 });
  });

  it('has nobody high-value when nobody bought', () => {
    const s = summarize([noEvents, user(200, 0, { revenue: 0, purchases: 0 })], NOW);
    expect(s.highValueRevenue).toBe(Infinity);
    expect(s.bySegment).toEqual({ new: 1, active: 1, high_value: 0, churning: 0, churned: 0 });
    expect(summarize([], NOW)).toEqual({
      users: 0,
      bySegment: { new: 0, active: 0, high_value: 0, churning: 0, churned: 0 },
      byLifecycle: { prospect: 0, first_time_buyer: 0, repeat_buyer: 0, loyal: 0 },
      highValueRevenue: Infinity,
      rules: { ...DEFAULT_SEGMENT_RULES, highValueRevenue: Infinity },
      kpis: Object.fromEntries(
        SEGMENTS.map((seg) => [seg, { cohort: 0, retention30: null, buyers: 0, repurchaseRate: null }]),
      ),
    });
  });

  it('uses an explicit threshold and rules as given, defaults for the rest', () => {
    const s = summarize(buyers([10, 20, 30]), NOW, {
      highValueRevenue: 20,
      loyalPurchases: 3,
      newDays: undefined,
    });
    expect(s.highValueRevenue).toBe(20);
    expect(s.bySegment.high_value).toBe(2);
    expect(s.rules).toEqual({ ...DEFAULT_SEGMENT_RULES, loyalPurchases: 3, highValueRevenue: 20 });
  });

  it('rejects bad options before reading anything', () => {
    let read = false;
    function* never(): Generator<UserActivity> {
      read = true;
      yield noEvents;
    }
    expect(() => summarize(never(), NOW, { churnedDays: -3 })).toThrow(/churnedDays/);
    expect(() => summarize(never(), NOW, { highValueRevenue: -1 })).toThrow(/highValueRevenue/);
    expect(() => summarize(never(), NOW, { highValueRevenue: 'p95' as 'p90' })).toThrow(RangeError);
    expect(read).toBe(false);
  });

  it('counts every user once per segment and lifecycle, as classify with the summary’s rules does', () => {
    const rng = createRng(7);
    const activities: UserActivity[] = [];
    for (let i = 0; i < 5000; i++) {
      const first = rng.int(400);
      const purchases = rng.next() < 0.5 ? 0 : 1 + rng.int(8);
      activities.push(
        rng.next() < 0.05
          ? { ...noEvents, userId: `n${i}` }
          : user(first, rng.int(first + 1), {
              userId: `u${i}`,
              purchases,
              revenue: purchases ? Math.round(rng.next() * 50000) / 100 - 20 : 0,
            }),
      );
    }
    // A one-shot generator: summarize must read its input once.
    const s = summarize(
      (function* () {
        yield* activities;
      })(),
      NOW,
    );
    expect(s.users).toBe(5000);
    const bySegment = Object.fromEntries(SEGMENTS.map((k) => [k, 0]));
    const byLifecycle = Object.fromEntries(LIFECYCLES.map((k) => [k, 0]));
    for (const a of activities) {
      const c = classify(a, NOW, s.rules);
      bySegment[c.segment]!++;
      byLifecycle[c.lifecycle]!++;
    }
    expect(s.bySegment).toEqual(bySegment);
    expect(s.byLifecycle).toEqual(byLifecycle);
    expect(Object.values(s.bySegment).every((n) => n > 0)).toBe(true);
    // About the top tenth of buyers (revenue > 0) reach the threshold.
    const positive = activities.filter((a) => a.revenue > 0);
    const share = positive.filter((a) => a.revenue >= s.highValueRevenue).length / positive.length;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
  });

  it('gives the same summary when fed one user at a time, asked twice', () => {
    const list = buyers([3, 1, 4, 1, 5, 9, 2, 6]);
    const tally = new SegmentTally(NOW);
    for (const a of list) tally.add(a);
    expect(tally.summary()).toEqual(summarize(list, NOW));
    expect(tally.summary()).toEqual(summarize(list, NOW));
  });
});

describe('segment KPIs: 30-day retention and repurchase rate', () => {
  it('counts, per segment, the cohort first seen over 30 days ago and its share active in the last 30, and buyers who bought again', () => {
    // Hand-counted: with the threshold from p90 of revenues [50, 200, 80, 40], 200 and above is high_value.
    const users: UserActivity[] = [
      user(60, 5, { purchases: 1, revenue: 50 }), // active: cohort, retained, buyer
      user(45, 10, { purchases: 3, revenue: 200 }), // high_value: cohort, retained, repeat buyer
      user(40, 2, { purchases: 2, revenue: 80 }), // active: cohort, retained, repeat buyer
      user(10, 1, { purchases: 1, revenue: 40 }), // active: not in the cohort (first seen 10 days ago), buyer
      user(100, 45, { purchases: 0, revenue: 0 }), // churning: cohort, not retained
      user(200, 120, { purchases: 0, revenue: 0 }), // churned: cohort, not retained
      user(5, 5, { purchases: 0, revenue: 0 }), // new: not in the cohort, no purchase
    ];
    const s = summarize(users, NOW, { highValueRevenue: 200 });
    expect(s.bySegment).toMatchObject({ active: 3, high_value: 1, churning: 1, churned: 1, new: 1 });
    expect(s.kpis.active).toEqual({ cohort: 2, retention30: 1, buyers: 3, repurchaseRate: 1 / 3 });
    expect(s.kpis.high_value).toEqual({ cohort: 1, retention30: 1, buyers: 1, repurchaseRate: 1 });
    expect(s.kpis.churning).toEqual({ cohort: 1, retention30: 0, buyers: 0, repurchaseRate: null });
    expect(s.kpis.churned).toEqual({ cohort: 1, retention30: 0, buyers: 0, repurchaseRate: null });
    expect(s.kpis.new).toEqual({ cohort: 0, retention30: null, buyers: 0, repurchaseRate: null });
    // The same with the threshold found from the population (p90): the undecided users' KPIs
    // land in the segment the threshold puts them in.
    const p90 = summarize(users, NOW);
    const total = (k: 'cohort' | 'buyers') => SEGMENTS.reduce((n, seg) => n + p90.kpis[seg][k], 0);
    expect(total('cohort')).toBe(5);
    expect(total('buyers')).toBe(4);
    expect(p90.kpis.high_value.buyers + p90.kpis.active.buyers).toBe(4);
  });
});
