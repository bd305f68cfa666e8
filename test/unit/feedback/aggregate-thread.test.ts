/**
 * The aggregate-feedback job in a thread of its own (aggregate-thread.ts): the same totals as
 * the job run in this process, and the event loop free while the database sums — where the same
 * run on this thread stops timers for as long as it takes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateFeedback } from '../../../src/feedback/aggregate-feedback.ts';
import { aggregateInThread } from '../../../src/feedback/aggregate-thread.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store, StoredImpression } from '../../../src/store/types.ts';
import { longestStall } from '../../helpers/longest-stall.ts';

const T0 = Date.UTC(2026, 0, 5, 12);
const LISTS = 150_000;
const itemIds = Array.from({ length: 20 }, (_, i) => `sku-${i}`);

/** `lists` lists to `visitors` users, a second apart from `at`. */
function lists(prefix: string, at: number, count: number, visitors: number): StoredImpression[] {
  return Array.from({ length: count }, (_, k) => ({
    recommendationId: `${prefix}-${k}`,
    tier: k % 3 ? 'personalized' : 'homepage',
    userId: `u-${(k * 7919) % visitors}`,
    config: 'default',
    probability: 1,
    modelVersion: 'v1',
    itemIds,
    timestamp: at + k * 1000,
  }));
}

describe('the aggregate-feedback job in a thread', () => {
  let dir: string;
  let store: Store;
  const file = () => join(dir, 'shelf.sqlite');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-aggregate-thread-'));
    store = await openSqliteStore(file());
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sums what the job in this process sums, without stopping this thread', async () => {
    for (let k = 0; k < LISTS; k += 10_000)
      await store.insertImpressions(lists(`a${k}`, T0 + k * 1000, 10_000, 40_000));
    // In one chunk (SQLite runs in smaller ones): a stall long enough to tell the two apart.
    const here = await longestStall(() => aggregateFeedback(store, LISTS));
    const inProcess = await store.feedbackTotals({ from: '2026-01-01', to: '2026-12-31', groupBy: ['tier'] });

    for (let k = 0; k < LISTS; k += 10_000)
      await store.insertImpressions(lists(`b${k}`, T0 + k * 1000, 10_000, 40_000));
    let result: Awaited<ReturnType<typeof aggregateInThread>> | null = null;
    const threaded = await longestStall(async () => {
      result = await aggregateInThread({ kind: 'sqlite', file: file() });
    });
    expect(result).toMatchObject({ impressions: LISTS, attributions: 0, applied: true });
    // The same lists again, shown to the same visitors on the same days: every total doubles.
    const both = await store.feedbackTotals({ from: '2026-01-01', to: '2026-12-31', groupBy: ['tier'] });
    expect(both.map((t) => [t.keys.tier, t.impressions, t.itemsShown, t.visitors])).toEqual(
      inProcess.map((t) => [t.keys.tier, 2 * t.impressions, 2 * t.itemsShown, t.visitors]),
    );
    expect(both.reduce((n, t) => n + t.impressions, 0)).toBe(2 * LISTS);
    // On this thread the summing stops timers for as long as it takes; in its own, far less.
    expect(here, JSON.stringify({ here, threaded })).toBeGreaterThan(100);
    expect(threaded, JSON.stringify({ here, threaded })).toBeLessThan(here / 2);
  }, 60_000);

  it('fails with the reason when the store cannot be opened', async () => {
    // Its directory would have to be made inside a file.
    const file = join(dir, 'shelf.sqlite', 'inside', 'shelf.sqlite');
    await expect(aggregateInThread({ kind: 'sqlite', file })).rejects.toThrow(/ENOTDIR|not a directory/i);
  });
});
