/**
 * The bandit's split shared through Redis: one replica recomputes it when due and writes it,
 * another reads it without recomputing, and both serve the same chances.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAdaptive } from '../../../src/experiments/adaptive-policy.ts';
import { AdaptiveRouter } from '../../../src/experiments/adaptive-router.ts';
import { RedisAllocationState } from '../../../src/experiments/allocation-state.ts';
import type { FeedbackTotals } from '../../../src/store/types.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const log = pino({ level: 'silent' });

const row = (config: string, impressions: number, clicks: number): FeedbackTotals => ({
  keys: { tier: 'homepage', config },
  impressions,
  clicks,
  itemsShown: 0,
  addToCarts: 0,
  purchases: 0,
  units: 0,
  revenue: 0,
  visitors: null,
  visitorCtr: null,
});

describe.runIf(available)('bandit split shared through Redis', () => {
  const prefix = `${uniqueName('shelf_alloc')}:`;
  const connections: Redis[] = [];
  afterAll(async () => {
    const keys = await connections[0]!.keys(`${prefix}*`);
    if (keys.length) await connections[0]!.del(...keys);
    for (const c of connections) await c.quit();
  });

  it('is computed once when due and read by the other replica', async () => {
    const config = parseAdaptive(JSON.stringify({ homepage: { arms: { pop: {} }, everyMs: 60_000 } }), 3);
    let reads = 0;
    const store = {
      feedbackTotals: () => {
        reads++;
        return Promise.resolve([
          row('adaptive:homepage:default', 1000, 20),
          row('adaptive:homepage:pop', 1000, 90),
        ]);
      },
    };
    const replica = () => {
      const redis = new Redis(REDIS_URL);
      connections.push(redis);
      return new AdaptiveRouter({
        config,
        state: new RedisAllocationState(redis, prefix),
        store,
        log,
        now: () => 1e12,
      });
    };
    const a = replica();
    const b = replica();
    await a.refresh();
    await b.refresh();
    expect(reads).toBe(1);
    expect(b.split()).toEqual(a.split());
    expect(a.split().homepage!.probabilities[1]).toBeCloseTo(0.95, 6);
    expect(JSON.parse((await connections[0]!.get(`${prefix}alloc:homepage`))!)).toMatchObject({
      arms: ['default', 'pop'],
      round: 1,
    });
  });
});
