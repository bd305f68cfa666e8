import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeSegments } from '../../../src/segments/compute-segments.ts';
import type { Classification } from '../../../src/segments/segments.ts';
import { classify } from '../../../src/segments/segments.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { ShelfEvent, Store } from '../../../src/store/types.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1, 12);

let seq = 0;
function ev(userId: string, daysAgo: number, over: Partial<ShelfEvent> = {}): ShelfEvent {
  return {
    eventId: `e${seq++}`,
    type: 'view',
    userId,
    itemId: 'i1',
    timestamp: NOW - daysAgo * DAY,
    ...over,
  };
}
const buy = (userId: string, daysAgo: number, price: number, quantity?: number) =>
  ev(userId, daysAgo, { type: 'purchase', price, ...(quantity === undefined ? {} : { quantity }) });

/** Each user's history and the answer it must get with the default rules. */
const SHOPPERS: Record<string, { events: ShelfEvent[]; expected: Classification }> = {
  newbie: {
    events: [ev('newbie', 5), ev('newbie', 2)],
    expected: { segment: 'new', lifecycle: 'prospect' },
  },
  regular: {
    // Two purchase lines on one day and one on another: two occasions, revenue 30.
    events: [ev('regular', 200), buy('regular', 40, 5, 2), buy('regular', 40, 10), buy('regular', 3, 10)],
    expected: { segment: 'active', lifecycle: 'repeat_buyer' },
  },
  whale: {
    events: [ev('whale', 100), ...[60, 50, 40, 30, 20].map((d) => buy('whale', d, 200))],
    expected: { segment: 'high_value', lifecycle: 'loyal' },
  },
  fading: {
    events: [ev('fading', 80), buy('fading', 45, 20)],
    expected: { segment: 'churning', lifecycle: 'first_time_buyer' },
  },
  gone: {
    events: [ev('gone', 150), ev('gone', 120)],
    expected: { segment: 'churned', lifecycle: 'prospect' },
  },
  returner: {
    events: [ev('returner', 60), buy('returner', 12, 50), ev('returner', 10, { type: 'return', price: 50 })],
    expected: { segment: 'active', lifecycle: 'first_time_buyer' },
  },
};

describe('computeSegments on a SQLite store', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openSqliteStore(':memory:');
    await store.insertEvents([
      ...Object.values(SHOPPERS).flatMap((s) => s.events),
      // Anonymous: no user to classify, and its revenue must not move the threshold.
      ev('', 1, { userId: undefined, sessionId: 'visit', type: 'purchase', price: 5000 }),
    ]);
  });
  afterEach(() => store.close());

  it('counts every user with events, with the 90th-percentile threshold of buyers', async () => {
    const s = await computeSegments(store, NOW);
    // Buyers' revenues 20, 30, 1000: rank 0.9 × 2 = 1.8 → 30 + 0.8 × 970.
    expect(s.highValueRevenue).toBeCloseTo(806, 9);
    expect(s).toMatchObject({
      users: 6,
      bySegment: { new: 1, active: 2, high_value: 1, churning: 1, churned: 1 },
      byLifecycle: { prospect: 2, first_time_buyer: 2, repeat_buyer: 1, loyal: 1 },
    });
  });

  it('classifies one user as the job counted them, with the summary’s rules', async () => {
    const s = await computeSegments(store, NOW);
    for (const [userId, { expected }] of Object.entries(SHOPPERS)) {
      expect([userId, classify(await store.userActivity(userId), NOW, s.rules)]).toEqual([userId, expected]);
    }
  });

  it('takes an explicit threshold and rules', async () => {
    const s = await computeSegments(store, NOW, { highValueRevenue: 25, churnedDays: 40 });
    expect(s.highValueRevenue).toBe(25);
    expect(s.bySegment).toEqual({ new: 1, active: 1, high_value: 2, churning: 0, churned: 2 });
  });

  it('forgets a deleted user', async () => {
    await store.deleteUser('whale');
    const s = await computeSegments(store, NOW);
    expect(s.users).toBe(5);
    expect(s.bySegment.high_value).toBe(1); // regular: 30 ≥ p90 of { 20, 30 } = 29
  });

  it('rejects bad rules before reading the store', async () => {
    let read = false;
    const spy: Pick<Store, 'usersActivity'> = {
      async *usersActivity() {
        read = true;
        yield* [];
      },
    };
    await expect(computeSegments(spy, NOW, { newDays: -1 })).rejects.toThrow(RangeError);
    await expect(computeSegments(spy, NaN)).rejects.toThrow(/now/);
    expect(read).toBe(false);
  });
});
