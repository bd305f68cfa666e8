import { describe, expect, it } from 'vitest';
import { rowIndices, rowValues } from '../../../models/sparse.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import { DEFAULT_WEIGHTS, interactionMatrix } from '../../../training/interaction-weights.ts';
import { takeSnapshot } from '../../../training/snapshot.ts';
import { event } from '../../helpers/describe-store.ts';

const DAY = 86_400_000;
const T = Date.UTC(2026, 0, 1);

async function snapshotOf(events: Parameters<typeof event>[]) {
  const store = await openSqliteStore(':memory:');
  await store.insertEvents(events.map((args) => event(...args)));
  const s = await takeSnapshot(store);
  await store.close();
  return s;
}

const noDecay = { ...DEFAULT_WEIGHTS, halfLifeDays: 0 };

describe('takeSnapshot', () => {
  it('maps ids to dense indexes in first-seen time order and skips anonymous events', async () => {
    const s = await snapshotOf([
      ['e2', { userId: 'bob', itemId: 'b', timestamp: T + 2 }],
      ['e1', { userId: 'ann', itemId: 'a', timestamp: T + 1 }],
      ['e3', { userId: undefined, sessionId: 's', itemId: 'c', timestamp: T + 3 }],
      ['e4', { userId: 'ann', itemId: 'b', type: 'rating', value: 4, timestamp: T + 4 }],
    ]);
    expect(s.userIds).toEqual(['ann', 'bob']);
    expect(s.itemIds).toEqual(['a', 'b']);
    expect([...s.users]).toEqual([0, 1, 0]);
    expect([...s.items]).toEqual([0, 1, 1]);
    expect([...s.amounts]).toEqual([1, 1, 4]);
    expect(s.length).toBe(3);
  });
});

describe('interactionMatrix', () => {
  it('sums type weights per pair: purchase > add_to_cart > click > view', async () => {
    const s = await snapshotOf([
      ['v', { itemId: 'a', type: 'view' }],
      ['c', { itemId: 'a', type: 'click' }],
      ['p', { itemId: 'b', type: 'purchase' }],
      ['r', { itemId: 'c', type: 'rating', value: 5 }],
    ]);
    const m = interactionMatrix(s, noDecay);
    expect([...rowIndices(m, 0)]).toEqual([0, 1, 2]);
    expect([...rowValues(m, 0)]).toEqual([3, 8, 5]);
  });

  it('counts a rating within the scale, one stored out of it too (seen: 1e300 stopped every fit)', async () => {
    const s = await snapshotOf([
      ['huge', { itemId: 'a', type: 'rating', value: 1e300 }],
      ['neg', { itemId: 'b', type: 'rating', value: -4 }],
      ['half', { itemId: 'c', type: 'rating', value: 2.5 }],
    ]);
    const m = interactionMatrix(s, noDecay);
    // Weight 5 × value / 5: a, at most 5; b, nothing (dropped); c, 2.5.
    expect([...rowIndices(m, 0)]).toEqual([0, 2]);
    expect([...rowValues(m, 0)]).toEqual([5, 2.5]);
  });

  it('halves an event’s weight every half-life before the reference time', async () => {
    const s = await snapshotOf([
      ['old', { itemId: 'a', type: 'purchase', timestamp: T }],
      ['new', { itemId: 'b', type: 'purchase', timestamp: T + 90 * DAY }],
    ]);
    const m = interactionMatrix(s, DEFAULT_WEIGHTS);
    expect(rowValues(m, 0)[0]).toBeCloseTo(4, 4);
    expect(rowValues(m, 0)[1]).toBeCloseTo(8, 4);
  });

  it('counts an event however old at least 1/32 of a fresh one (seen: 2011 history weighed 2^-60 beside 2026 events)', async () => {
    const s = await snapshotOf([
      ['past', { itemId: 'a', type: 'purchase', timestamp: T - 15 * 365 * DAY }],
      ['mid', { itemId: 'b', type: 'purchase', timestamp: T - 90 * DAY }],
      ['now', { itemId: 'c', type: 'purchase', timestamp: T }],
    ]);
    const m = interactionMatrix(s, DEFAULT_WEIGHTS);
    // Purchase weight 8: 8/32 at the floor, 8/2 one half-life back, 8 now.
    expect([...rowValues(m, 0)].map((v) => +v.toFixed(4))).toEqual([0.25, 4, 8]);
  });

  it('drops returned purchases and disliked items, and honours the event range', async () => {
    const s = await snapshotOf([
      ['p1', { itemId: 'a', type: 'purchase', timestamp: T }],
      ['ret', { itemId: 'a', type: 'return', timestamp: T + 1 }],
      ['v', { itemId: 'b', type: 'view', timestamp: T + 2 }],
      ['d', { itemId: 'b', type: 'dislike', timestamp: T + 3 }],
      ['p2', { itemId: 'c', type: 'purchase', timestamp: T + 4 }],
    ]);
    expect([...interactionMatrix(s, noDecay).indices]).toEqual([2]);
    const firstTwo = interactionMatrix(s, noDecay, 2, 3);
    expect([...firstTwo.indices]).toEqual([1]);
    expect(firstTwo.cols).toBe(3);
  });
});
