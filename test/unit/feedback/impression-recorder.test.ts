import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FeedbackCounters } from '../../../src/feedback/feedback-counters.ts';
import { ImpressionRecorder } from '../../../src/feedback/impression-recorder.ts';
import type { Impression } from '../../../src/serving/types.ts';
import type { NewImpression } from '../../../src/store/types.ts';

const log = pino({ level: 'silent' });
const imp = (n: number): Impression => ({
  recommendationId: `r${n}`,
  tier: 'homepage',
  config: 'default',
  modelVersion: 'v1',
  itemIds: ['a'],
  timestamp: n,
});

/** A store whose writes hang until `release()`. */
function stalledStore() {
  const written: NewImpression[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let calls = 0;
  return {
    written,
    release: () => release(),
    get calls() {
      return calls;
    },
    async insertImpressions(batch: readonly NewImpression[]) {
      calls++;
      await gate;
      written.push(...batch);
      return batch.length;
    },
  };
}

describe('ImpressionRecorder', () => {
  it('never blocks and sheds beyond its capacity while the store is stalled, counted', async () => {
    const store = stalledStore();
    const counters = new FeedbackCounters();
    const rec = new ImpressionRecorder({ store, log, counters, capacity: 10, batchSize: 4 });
    for (let n = 0; n < 4; n++) rec.record(imp(n));
    const flushing = rec.flush(); // takes the 4 out: the store now hangs
    await Promise.resolve();
    const t0 = performance.now();
    for (let n = 4; n < 30; n++) rec.record(imp(n)); // returns at once, though the store hangs
    expect(performance.now() - t0).toBeLessThan(50);
    expect(rec.stats).toEqual({ recorded: 30, written: 0, dropped: 16, pending: 10 });
    expect(counters.dropped).toBe(16);
    expect(counters.byTier.get('homepage')?.impressions).toBe(30);
    store.release();
    await flushing;
    expect(rec.stats).toMatchObject({ written: 14, pending: 0, dropped: 16 });
    // The first 4, then the 10 held: what came first is kept, what overflowed is shed.
    expect(store.written.map((i) => i.recommendationId)).toEqual(
      Array.from({ length: 14 }, (_, n) => `r${n}`),
    );
    expect(store.written[0]).toMatchObject({ probability: 1, modelVersion: 'v1', itemIds: ['a'] });
  });

  it('writes what it holds on close, and sheds after', async () => {
    const written: NewImpression[] = [];
    const rec = new ImpressionRecorder({
      store: { insertImpressions: async (b) => (written.push(...b), b.length) },
      log,
      flushEveryMs: 60_000,
    }).start();
    for (let n = 0; n < 5; n++) rec.record(imp(n));
    expect(written).toHaveLength(0);
    await rec.close();
    expect(written).toHaveLength(5);
    rec.record(imp(9));
    expect(rec.stats).toMatchObject({ dropped: 1, pending: 0 });
  });

  it('flushes on its timer, at least every flushEveryMs', async () => {
    const written: NewImpression[] = [];
    const rec = new ImpressionRecorder({
      store: { insertImpressions: async (b) => (written.push(...b), b.length) },
      log,
      flushEveryMs: 20,
    }).start();
    rec.record(imp(1));
    await new Promise((r) => setTimeout(r, 80));
    expect(written).toHaveLength(1);
    await rec.close();
  });

  it('drops a batch the store refuses, counted, and goes on', async () => {
    let fail = true;
    const written: NewImpression[] = [];
    const rec = new ImpressionRecorder({
      store: {
        insertImpressions: async (b) => {
          if (fail) throw new Error('down');
          written.push(...b);
          return b.length;
        },
      },
      log,
    });
    rec.record(imp(1));
    await rec.flush();
    fail = false;
    rec.record(imp(2));
    await rec.flush();
    expect(rec.stats).toMatchObject({ dropped: 1, written: 1 });
    expect(written.map((i) => i.recommendationId)).toEqual(['r2']);
  });
});
