import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SegmentReports } from '../../../src/segments/segment-reports.ts';
import type { SegmentReport } from '../../../src/segments/segment-reports.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { ShelfEvent, Store } from '../../../src/store/types.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1, 12);

let seq = 0;
const ev = (userId: string, daysAgo: number, over: Partial<ShelfEvent> = {}): ShelfEvent => ({
  eventId: `e${seq++}`,
  type: 'view',
  userId,
  itemId: 'mug',
  timestamp: NOW - daysAgo * DAY,
  ...over,
});
const buy = (userId: string, daysAgo: number, price: number, itemId = 'mug') =>
  ev(userId, daysAgo, { type: 'purchase', price, itemId });

describe('SegmentReports', () => {
  let store: Store;
  let reports: SegmentReport[];
  let segments: SegmentReports;
  beforeEach(async () => {
    store = await openSqliteStore(':memory:');
    // Twenty regular buyers (paying 10 … 29, 60 days in), one big spender, two newcomers.
    await store.insertEvents([
      ...Array.from({ length: 20 }, (_, u) => [ev(`r${u}`, 60), buy(`r${u}`, 2, 10 + u)]).flat(),
      ev('whale', 90),
      buy('whale', 3, 500),
      ev('n1', 1, { itemId: 'lamp' }),
      ev('n2', 2, { itemId: 'lamp' }),
      ev('n2', 2, { itemId: 'vase' }),
    ]);
    reports = [];
    segments = new SegmentReports({
      store,
      now: () => NOW,
      trending: { weights: { view: 1, purchase: 8 }, halfLifeMs: 2 * DAY, windowMs: 14 * DAY },
      onReport: (r) => reports.push(r),
    });
  });
  afterEach(async () => {
    await store.close();
  });

  it('classifies one user before any report, with no high-value threshold yet', async () => {
    expect(segments.latest).toBeNull();
    const whale = await segments.classifyUser('whale');
    expect(whale).toMatchObject({ segment: 'active', lifecycle: 'first_time_buyer' });
    expect(whale.activity.revenue).toBe(500);
    expect(await segments.classifyUser('nobody')).toMatchObject({ segment: 'new', lifecycle: 'prospect' });
  });

  it('computes counts and per-segment lists once for concurrent refreshes, then classifies with its threshold', async () => {
    const [a, b] = await Promise.all([segments.refresh(), segments.refresh()]);
    expect(a).toBe(b);
    expect(reports).toEqual([a]);
    expect(segments.latest).toBe(a);
    expect(a.computedAt).toBe(NOW);
    expect(a.summary.users).toBe(23);
    // The 90th percentile of the 21 buyers' revenue is 28: r18, r19 and the big spender reach it.
    expect(a.summary.highValueRevenue).toBe(28);
    expect(a.summary.bySegment).toMatchObject({ new: 2, active: 18, high_value: 3 });
    expect(a.trending.items.new.map((i) => i.itemId)).toEqual(['lamp', 'vase']);
    expect(a.trending.items.high_value.map((i) => i.itemId)).toEqual(['mug']);
    expect((await segments.classifyUser('whale')).segment).toBe('high_value');
    expect((await segments.classifyUser('r17')).segment).toBe('active');
    expect((await segments.classifyUser('r18')).segment).toBe('high_value');
    // A later refresh is a new computation.
    await store.insertEvents([ev('n3', 0, { itemId: 'vase' }), ev('n3', 0, { itemId: 'vase' })]);
    const c = await segments.refresh();
    expect(c).not.toBe(a);
    expect(c.trending.items.new[0]!.itemId).toBe('vase');
  });
});
