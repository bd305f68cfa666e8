import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeedbackCounters } from '../../../src/feedback/feedback-counters.ts';
import { ImpressionThread } from '../../../src/feedback/impression-thread.ts';
import type { Impression } from '../../../src/serving/types.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';

const log = pino({ level: 'silent' });
const imp = (n: number): Impression => ({
  recommendationId: `r${n}`,
  tier: 'homepage',
  config: 'default',
  modelVersion: 'v1',
  userId: `u${n % 7}`,
  itemIds: ['a', `b${n}`],
  timestamp: 1_000 + n,
});

describe('ImpressionThread (the recorder in a worker thread over its own SQLite connection)', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-impression-thread-'));
    store = await openSqliteStore(join(dir, 'shelf.sqlite'));
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const database = () => ({ kind: 'sqlite' as const, file: join(dir, 'shelf.sqlite') });

  it('writes every list recorded to the store, readable by another connection after flush', async () => {
    const counters = new FeedbackCounters();
    const t = await ImpressionThread.start({ database: database(), log, counters, capacity: 10_000 });
    try {
      for (let n = 0; n < 2500; n++) t.record(imp(n));
      await t.flush();
      expect(t.stats).toEqual({ recorded: 2500, written: 2500, dropped: 0, pending: 0 });
      expect(counters.byTier.get('homepage')?.impressions).toBe(2500);
      const [first] = await store.impressions(['r0']);
      expect(first).toEqual({ ...imp(0), probability: 1 });
      expect((await store.impressions(['r2499', 'r2500'])).map((i) => i.recommendationId)).toEqual(['r2499']);
    } finally {
      await t.close();
    }
  });

  it('hands every field over: session, experiment, probability, positions, no model', async () => {
    const t = await ImpressionThread.start({ database: database(), log, capacity: 100 });
    try {
      const ids = Object.freeze(['a', 'b"c']);
      const full: Impression = {
        recommendationId: 'r-full',
        tier: 'cart',
        sessionId: 's1',
        experiment: 'x',
        variant: 'B',
        config: 'x:B',
        probability: 0.25,
        modelVersion: null,
        itemIds: ids,
        timestamp: 5_000,
        positions: { arms: ['x:A', 'x:B'], probabilities: [0.75, 0.25], masks: [2, 3] },
      };
      t.record(full);
      // The same ids array again, as a list cache hit hands it: written for this list too.
      t.record({ ...imp(1), itemIds: ids });
      await t.flush();
      expect(await store.impressions(['r-full'])).toEqual([full]);
      expect((await store.impressions(['r1']))[0]).toEqual({
        ...imp(1),
        itemIds: ['a', 'b"c'],
        probability: 1,
      });
    } finally {
      await t.close();
    }
  });

  it('sheds beyond its capacity, counted, and keeps what came first', async () => {
    const counters = new FeedbackCounters();
    const t = await ImpressionThread.start({ database: database(), log, counters, capacity: 10 });
    try {
      // All at once, before the outbox is handed over: 10 held, 40 shed.
      for (let n = 0; n < 50; n++) t.record(imp(n));
      expect(t.stats).toMatchObject({ recorded: 50, dropped: 40, pending: 10 });
      await t.flush();
      expect(t.stats).toEqual({ recorded: 50, written: 10, dropped: 40, pending: 0 });
      expect(counters.dropped).toBe(40);
      expect(await store.impressions(['r9', 'r10'])).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it('close writes what is held, then sheds', async () => {
    const t = await ImpressionThread.start({ database: database(), log, capacity: 1000 });
    for (let n = 0; n < 5; n++) t.record(imp(n));
    await t.close();
    t.record(imp(99));
    expect(t.stats).toMatchObject({ recorded: 6, written: 5, dropped: 1, pending: 0 });
    expect(await store.impressions(['r4', 'r99'])).toHaveLength(1);
  });

  it('fails to start when its store cannot be opened', async () => {
    await expect(
      ImpressionThread.start({
        database: { kind: 'sqlite', file: dir }, // a directory: SQLite cannot open it
        log,
        capacity: 10,
      }),
    ).rejects.toThrow(/impression writer thread/);
  });
});
