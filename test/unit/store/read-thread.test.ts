/**
 * SQLite's long reads in a thread of their own (read-thread.ts): the same answers as the store
 * on this thread, and this thread's event loop free meanwhile — where the same read here stops
 * timers for as long as it takes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadThread } from '../../../src/store/read-thread.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { FeedbackQuery, Store } from '../../../src/store/types.ts';
import { longestStall } from '../../helpers/longest-stall.ts';

const VISITORS = 100_000;
const DAYS = 4;
const WEEK: FeedbackQuery = { from: '2026-11-01', to: '2026-11-30', groupBy: ['day'] };

describe('the store read thread', () => {
  let dir: string;
  let store: Store;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-read-thread-'));
    file = join(dir, 'shelf.sqlite');
    store = await openSqliteStore(file);
    // Per-visitor-day aggregates as the aggregation leaves them: two configs, a visitor a row a day.
    const db = new Database(file);
    db.exec(`WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < ${DAYS - 1})
      INSERT INTO feedback_groups (day, tier, model_version, config, variant)
      SELECT date('2026-11-01', '+' || k || ' days'), 'personalized', 'v1', c.config, ''
      FROM d, (SELECT 'exp:a' AS config UNION ALL SELECT 'exp:b') AS c`);
    db.exec(`WITH RECURSIVE v(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM v WHERE i < ${VISITORS - 1})
      INSERT INTO feedback_visitor_days (group_id, visitor,
        impressions, items_shown, clicks, add_to_carts, purchases, units, revenue)
      SELECT g.id, 'u:' || i, 1 + i % 5, 20 * (1 + i % 5), i % 3, 0, i % 7 = 0, i % 7 = 0, (i % 7 = 0) * 9.5
      FROM feedback_groups g JOIN v ON g.config = CASE WHEN i % 2 THEN 'exp:a' ELSE 'exp:b' END`);
    db.close();
    // Purchases of two users before the 15th (p3's after it).
    const purchase = (eventId: string, userId: string, day: number) => ({
      eventId,
      type: 'purchase' as const,
      userId,
      itemId: 'sku-1',
      price: 10,
      quantity: 1,
      timestamp: Date.UTC(2026, 10, day),
    });
    await store.insertEvents([
      purchase('e1', 'p1', 2),
      purchase('e2', 'p1', 3),
      purchase('e3', 'p2', 4),
      purchase('e4', 'p3', 20),
    ]);
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers what the store answers here, without stopping this thread', async () => {
    let here: Awaited<ReturnType<Store['feedbackTotals']>> = [];
    const stalledHere = await longestStall(async () => (here = await store.feedbackTotals(WEEK)));
    const reads = new ReadThread({ kind: 'sqlite', file });
    try {
      let there: typeof here = [];
      const stalledThere = await longestStall(async () => (there = await reads.feedbackTotals(WEEK)));
      expect(there).toEqual(here);
      expect(there.map((t) => [t.keys.day, t.visitors])).toEqual(
        ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04'].map((day) => [day, VISITORS]),
      );
      // Asked together, the reads are answered in turn, each with its own answer.
      const [units, again] = await Promise.all([
        reads.unitTotals(['exp:a', 'exp:b']),
        reads.feedbackTotals(WEEK),
      ]);
      expect(units).toEqual(await store.unitTotals(['exp:a', 'exp:b']));
      expect(units).toHaveLength(VISITORS);
      expect(again).toEqual(here);
      // The units' purchases before an experiment's start (CUPED's covariate).
      const ids = ['p1', 'p2', 'p3'];
      const pre = await reads.preExposure('user', ids, 0, Date.UTC(2026, 10, 15));
      expect(pre).toEqual(await store.preExposure('user', ids, 0, Date.UTC(2026, 10, 15)));
      expect(pre.map((p) => [p.id, p.purchases]).sort()).toEqual([
        ['p1', 2],
        ['p2', 1],
      ]);
      // Here the read stops timers for as long as it takes; in its own thread, far less.
      const stalls = JSON.stringify({ stalledHere, stalledThere });
      expect(stalledHere, stalls).toBeGreaterThan(100);
      expect(stalledThere, stalls).toBeLessThan(stalledHere / 2);
    } finally {
      await reads.close();
    }
  }, 60_000);

  it('fails with the reason when the store cannot be opened, and a failed read with its own', async () => {
    const inside = join(file, 'inside', 'shelf.sqlite');
    // The thread starts at the first read, which fails with the reason.
    const unopened = new ReadThread({ kind: 'sqlite', file: inside });
    await expect(unopened.feedbackTotals(WEEK)).rejects.toThrow(/ENOTDIR|not a directory/i);
    await unopened.close();
    const reads = new ReadThread({ kind: 'sqlite', file });
    try {
      // A day the SQL cannot group by: the store refuses it, and the thread answers the next read.
      await expect(reads.feedbackTotals({ ...WEEK, groupBy: ['nope' as 'day'] })).rejects.toThrow(
        /feedbackTotals failed/,
      );
      expect(await reads.feedbackTotals(WEEK)).toHaveLength(DAYS);
    } finally {
      await reads.close();
    }
    // Once the thread is gone a read fails at once (it would otherwise wait for an answer forever).
    await expect(reads.feedbackTotals(WEEK)).rejects.toThrow(/the store read thread exited/);
  });
});
