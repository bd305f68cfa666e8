/**
 * A store as amounts came in before `MAX_PRICE` and `MAX_QUANTITY` bounded them, and what
 * migration 16 makes of it; each store's suite runs the migration again over it.
 */
import { expect } from 'vitest';
import { aggregateFeedback } from '../../src/feedback/aggregate-feedback.ts';
import { Attributor } from '../../src/feedback/attributor.ts';
import type { ShelfEvent, Store } from '../../src/store/types.ts';
import { impression } from './describe-feedback-store.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const DAY = { from: '2026-01-01', to: '2026-01-01' };

/**
 * List r1 (items a, b, c) credited with two purchases of a at 1.7e308, one of 10⁹ units of b at
 * 1, and one of c at 5, as the events route credited them; item a priced 1e300.
 */
export async function fillOutOfBounds(store: Store): Promise<void> {
  await store.upsertItems([
    {
      itemId: 'a',
      title: 'A',
      categories: [],
      price: 1e300,
      status: 'active',
      publishedAt: T0,
      repurchasable: true,
      attributes: {},
    },
  ]);
  await store.insertImpressions([impression('r1')]);
  const purchase = (eventId: string, itemId: string, price: number, quantity: number): ShelfEvent => ({
    eventId,
    type: 'purchase',
    userId: 'u1',
    itemId,
    price,
    quantity,
    recommendationId: 'r1',
    timestamp: T0 + 60_000,
  });
  const events = [
    purchase('p1', 'a', 1.7e308, 1),
    purchase('p2', 'a', 1.7e308, 1),
    purchase('p3', 'b', 1, 1e9),
    purchase('p4', 'c', 5, 1),
  ];
  expect((await store.insertEvents(events)).stored).toBe(4);
  expect(await new Attributor({ store, retries: 0 }).attribute(events)).toHaveLength(4);
}

/** The store's amounts within the bounds, its aggregates summed from them, aggregation running. */
export async function expectWithinBounds(store: Store): Promise<void> {
  await aggregateFeedback(store);
  const [total] = await store.feedbackTotals({ ...DAY, groupBy: [] });
  expect(total).toMatchObject({
    impressions: 1,
    purchases: 4,
    units: 1 + 1 + 1e6 + 1,
    revenue: 1e18 + 1e18 + 1e9 + 5,
  });
  const byPosition = await store.feedbackTotals({ ...DAY, groupBy: ['position'] });
  expect(byPosition.map((r) => [r.keys.position, r.units, r.revenue])).toEqual([
    [0, 2, 2e18],
    [1, 1e6, 1e9],
    [2, 1, 5],
  ]);
  expect(await store.unitTotals(['default'])).toMatchObject([
    { purchases: 4, revenue: 1e18 + 1e18 + 1e9 + 5 },
  ]);
  expect((await store.userActivity('u1')).revenue).toBe(1e12 + 1e12 + 1e6 + 5);
  expect((await store.getItem('a'))?.price).toBe(1e12);
}
