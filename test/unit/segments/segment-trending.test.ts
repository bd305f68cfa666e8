import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SegmentTrendingOptions } from '../../../src/segments/segment-trending.ts';
import { computeSegmentTrending } from '../../../src/segments/segment-trending.ts';
import type { SegmentRules } from '../../../src/segments/segments.ts';
import { DEFAULT_SEGMENT_RULES } from '../../../src/segments/segments.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { ShelfEvent, Store } from '../../../src/store/types.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1, 12);
const WINDOW = 14 * DAY;

/** Short recency thresholds, so that churning and churned users can have events in the window. */
const RULES: SegmentRules = {
  newDays: 30,
  churningDays: 5,
  churnedDays: 10,
  highValueRevenue: 100,
  loyalPurchases: 5,
};
const OPTIONS: SegmentTrendingOptions = {
  rules: RULES,
  weights: { view: 1, click: 2, add_to_cart: 4, purchase: 8 },
  halfLifeMs: 2 * DAY, // events at 0, 2, 4, … days weigh ×1, ×1/2, ×1/4: exact in float64
  windowMs: WINDOW,
};

let seq = 0;
function ev(userId: string | undefined, type: ShelfEvent['type'], itemId: string, ago: number): ShelfEvent {
  return {
    eventId: `e${seq++}`,
    type,
    ...(userId === undefined ? { sessionId: 'visit' } : { userId }),
    itemId,
    timestamp: NOW - ago,
    ...(type === 'purchase' ? { price: userId === 'whale' ? 500 : 10 } : {}),
  };
}

/** With RULES: each user's segment at NOW and what they add to its list. */
const EVENTS: ShelfEvent[] = [
  // new (never bought, first event ≤ 30 days ago). a = 1 + 4/4, b = 2/2, c = 1/128 (the window's edge).
  ev('newbie', 'view', 'a', 0),
  ev('newbie', 'click', 'b', 2 * DAY),
  ev('newbie', 'add_to_cart', 'a', 4 * DAY),
  ev('newbie', 'view', 'c', WINDOW),
  ev('newbie', 'view', 'd', WINDOW + 1), // a millisecond before the window
  ev('newbie', 'view', 'e', -1), // a millisecond after now
  // new, in the window, but only with types that carry no weight.
  ev('grumpy', 'dislike', 'a', DAY),
  ev('grumpy', 'return', 'b', DAY),
  // Anonymous: no segment.
  ev(undefined, 'purchase', 'z', 0),
  // active: first event 40 days ago (so not new, whatever the window holds). b = 2, a = 1/2.
  ev('veteran', 'view', 'x', 40 * DAY),
  ev('veteran', 'click', 'b', 0),
  ev('veteran', 'view', 'a', 2 * DAY),
  // active: revenue 20 < 100. c = 8/4 (the purchase 40 days ago is outside the window).
  ev('regular', 'purchase', 'c', 40 * DAY),
  ev('regular', 'purchase', 'c', 4 * DAY),
  // high_value: revenue 500. w = 8/2, a = 1.
  ev('whale', 'purchase', 'w', 2 * DAY),
  ev('whale', 'view', 'a', 0),
  // churning: idle 6 days (> 5, ≤ 10). f = 4/8.
  ev('fading', 'view', 'x', 60 * DAY),
  ev('fading', 'add_to_cart', 'f', 6 * DAY),
  // churned: idle 12 days, last event still in the window. g = 1/64.
  ev('gone', 'view', 'x', 60 * DAY),
  ev('gone', 'view', 'g', 12 * DAY),
  // churned: idle 14 days, last event exactly on the window's edge. g += 1/128.
  ev('edgy', 'view', 'x', 60 * DAY),
  ev('edgy', 'view', 'g', WINDOW),
  // churned, no event in the window.
  ev('sleeper', 'view', 'x', 20 * DAY),
];

describe('computeSegmentTrending on a SQLite store', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openSqliteStore(':memory:');
    await store.insertEvents(EVENTS);
  });
  afterEach(() => store.close());

  it('scores each segment’s window events with weights and decay, users classified at now', async () => {
    const t = await computeSegmentTrending(store, NOW, OPTIONS);
    expect(t.computedAt).toBe(NOW);
    expect(t.rules).toEqual(RULES);
    expect(t.users).toEqual({ new: 2, active: 2, high_value: 1, churning: 1, churned: 2 });
    expect(t.items).toEqual({
      new: [
        { itemId: 'a', score: 2 },
        { itemId: 'b', score: 1 },
        { itemId: 'c', score: 1 / 128 },
      ],
      active: [
        { itemId: 'b', score: 2 }, // tie with c: itemId order
        { itemId: 'c', score: 2 },
        { itemId: 'a', score: 0.5 },
      ],
      high_value: [
        { itemId: 'w', score: 4 },
        { itemId: 'a', score: 1 },
      ],
      churning: [{ itemId: 'f', score: 0.5 }],
      churned: [{ itemId: 'g', score: 3 / 128 }],
    });
  });

  it('gives an empty list to a segment without window events (default recency rules)', async () => {
    // churningDays 30 > the 14-day window: everyone with a window event is recent.
    const rules = { ...DEFAULT_SEGMENT_RULES, highValueRevenue: 100 };
    const t = await computeSegmentTrending(store, NOW, { ...OPTIONS, rules });
    expect(t.users).toEqual({ new: 2, active: 5, high_value: 1, churning: 0, churned: 0 });
    expect(t.items.churning).toEqual([]);
    expect(t.items.churned).toEqual([]);
    expect(t.items.active.map((i) => i.itemId)).toEqual(['b', 'c', 'a', 'f', 'g']);
  });

  it('keeps the best perSegment items of each segment', async () => {
    const one = await computeSegmentTrending(store, NOW, { ...OPTIONS, perSegment: 1 });
    expect(one.items).toEqual({
      new: [{ itemId: 'a', score: 2 }],
      active: [{ itemId: 'b', score: 2 }],
      high_value: [{ itemId: 'w', score: 4 }],
      churning: [{ itemId: 'f', score: 0.5 }],
      churned: [{ itemId: 'g', score: 3 / 128 }],
    });
    const two = await computeSegmentTrending(store, NOW, { ...OPTIONS, perSegment: 2 });
    expect(two.items.active.map((i) => i.itemId)).toEqual(['b', 'c']);
    expect(two.users).toEqual(one.users);
  });

  it('takes the weights and half-life it is given; users count any window event', async () => {
    const t = await computeSegmentTrending(store, NOW, {
      ...OPTIONS,
      weights: { view: 3, dislike: 0 },
      halfLifeMs: Infinity, // no decay
    });
    expect(t.items.new).toEqual([
      { itemId: 'a', score: 3 },
      { itemId: 'c', score: 3 },
    ]);
    expect(t.items.active).toEqual([{ itemId: 'a', score: 3 }]);
    expect(t.items.churning).toEqual([]); // fading's add_to_cart weighs nothing here
    expect(t.users).toEqual({ new: 2, active: 2, high_value: 1, churning: 1, churned: 2 });
  });

  it('leaves out items whose score is not positive', async () => {
    // A 1 ms half-life: anything older than about 1,100 ms underflows to 0. A negative weight undoes.
    const t = await computeSegmentTrending(store, NOW, {
      ...OPTIONS,
      halfLifeMs: 1,
      weights: { view: 1, click: -1 },
    });
    expect(t.items.new).toEqual([{ itemId: 'a', score: 1 }]); // b: −2^−172800000 = −0
    expect(t.items.active).toEqual([]); // b: −1
    expect(t.items.high_value).toEqual([{ itemId: 'a', score: 1 }]);
    expect(t.items.churned).toEqual([]);
  });

  it('forgets a deleted user', async () => {
    await store.deleteUser('whale');
    const t = await computeSegmentTrending(store, NOW, OPTIONS);
    expect(t.users.high_value).toBe(0);
    expect(t.items.high_value).toEqual([]);
    expect(t.items.new[0]).toEqual({ itemId: 'a', score: 2 });
  });

  it('does not count a user deleted between its two scans', async () => {
    const racing: Pick<Store, 'usersActivity' | 'streamEvents'> = {
      async *usersActivity(q) {
        yield* store.usersActivity(q);
        await store.deleteUser('veteran');
      },
      streamEvents: (q) => store.streamEvents(q),
    };
    const t = await computeSegmentTrending(racing, NOW, OPTIONS);
    expect(t.users.active).toBe(1);
    expect(t.items.active).toEqual([{ itemId: 'c', score: 2 }]);
  });

  // Issue #12, reproduction 5: one user's 1,000 views put an item first for every first-time visitor.
  it('counts one user once per item, event type and day: 1,000 views weigh as one', async () => {
    await store.insertEvents(Array.from({ length: 1000 }, (_, k) => ev('spammer', 'view', 'spam', k * 1000)));
    const t = await computeSegmentTrending(store, NOW, OPTIONS);
    // spammer is new like newbie: spam gets the first view (999 s ago), below a (2) and b (1).
    expect(t.items.new.map((i) => i.itemId)).toEqual(['a', 'b', 'spam', 'c']);
    expect(t.items.new[2]!.score).toBeCloseTo(2 ** (-999_000 / (2 * DAY)), 12);
    expect(t.users.new).toBe(3);
  });

  it('lists an item once minVisitors visits count for it: a user once a day, whatever the types', async () => {
    const t = await computeSegmentTrending(store, NOW, { ...OPTIONS, minVisitors: 2 });
    // new: newbie's a on two days, b and c on one; active: one visit each of a, b, c; churned:
    // g by two users.
    expect(t.items.new).toEqual([{ itemId: 'a', score: 2 }]);
    expect(t.items.active).toEqual([]);
    expect(t.items.churned).toEqual([{ itemId: 'g', score: 3 / 128 }]);
    // Another active user's visits of b and of c (two types on one day: one visit): both listed.
    await store.insertEvents([
      ev('rookie', 'view', 'b', 0),
      ev('rookie', 'click', 'c', 0),
      ev('rookie', 'purchase', 'c', 0),
    ]);
    const more = await computeSegmentTrending(store, NOW, { ...OPTIONS, minVisitors: 2 });
    expect(more.items.active).toEqual([
      { itemId: 'c', score: 2 + 2 + 8 },
      { itemId: 'b', score: 2 + 1 },
    ]);
    expect((await computeSegmentTrending(store, NOW, { ...OPTIONS, minVisitors: 3 })).items.active).toEqual(
      [],
    );
  });

  it('is deterministic', async () => {
    const a = await computeSegmentTrending(store, NOW, OPTIONS);
    const b = await computeSegmentTrending(store, NOW, OPTIONS);
    expect(b).toEqual(a);
  });
});

describe('computeSegmentTrending options', () => {
  let read = false;
  const spy: Pick<Store, 'usersActivity' | 'streamEvents'> = {
    async *usersActivity() {
      read = true;
      yield* [];
    },
    async *streamEvents() {
      read = true;
      yield* [];
    },
  };

  it('answers empty lists for an empty store', async () => {
    const t = await computeSegmentTrending(spy, NOW, OPTIONS);
    expect(t.users).toEqual({ new: 0, active: 0, high_value: 0, churning: 0, churned: 0 });
    expect(t.items).toEqual({ new: [], active: [], high_value: [], churning: [], churned: [] });
  });

  it.each([
    [{ windowMs: 0 }, /windowMs must be/],
    [{ windowMs: -DAY }, /windowMs must be/],
    [{ windowMs: Infinity }, /windowMs must be/],
    [{ windowMs: NaN }, /windowMs must be/],
    [{ halfLifeMs: 0 }, /halfLifeMs must be/],
    [{ halfLifeMs: -1 }, /halfLifeMs must be/],
    [{ perSegment: 0 }, /perSegment must be/],
    [{ perSegment: 1.5 }, /perSegment must be/],
    [{ minVisitors: 0 }, /minVisitors must be/],
    [{ weights: { view: NaN } }, /weights\.view must be/],
    [{ weights: { veiw: 1 } as SegmentTrendingOptions['weights'] }, /weights\.veiw is not an event type/],
    [{ rules: { ...RULES, churnedDays: 1 } }, /churningDays/],
    [{ rules: { ...RULES, highValueRevenue: 0 } }, /highValueRevenue/],
  ])('rejects %o before reading the store', async (bad, message) => {
    read = false;
    await expect(computeSegmentTrending(spy, NOW, { ...OPTIONS, ...bad })).rejects.toThrow(RangeError);
    await expect(computeSegmentTrending(spy, NOW, { ...OPTIONS, ...bad })).rejects.toThrow(message);
    expect(read).toBe(false);
  });

  it('rejects a bad now', async () => {
    await expect(computeSegmentTrending(spy, NaN, OPTIONS)).rejects.toThrow(/now/);
  });
});
