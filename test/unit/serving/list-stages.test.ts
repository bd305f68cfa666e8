import { describe, expect, it } from 'vitest';
import { ListStages } from '../../../src/serving/list-stages.ts';
import type { ListTrace } from '../../../src/serving/explain.ts';
import type { RecommendRequest } from '../../../src/serving/types.ts';
import { DEFAULT_SERVING_CONFIG, tierConfig } from '../../../src/serving/types.ts';
import type { Visitor } from '../../../src/serving/visitor.ts';
import { typeBit } from '../../../src/serving/visitor.ts';
import { NOW, served } from '../../helpers/served-fixture.ts';

const s = served();
const user = (userId: string, over: Partial<Visitor> = {}): Visitor => ({
  userId,
  subject: { userId },
  personal: true,
  forgotten: false,
  history: [],
  consumed: new Map(),
  demoted: new Set(),
  ...over,
});
const personalized: RecommendRequest = { tier: 'personalized' };
const config = tierConfig(DEFAULT_SERVING_CONFIG, 'personalized');

describe('ListStages', () => {
  /** The item ids of `who`'s list of `limit` on the fixture. */
  const list = (stages: ListStages, who: Visitor, limit = 4, trace?: ListTrace) =>
    stages.list(s, personalized, who, config, limit, NOW, trace).map((x) => s.catalog.item(x.index)!.itemId);

  it("ranks the user's nearest items first, and leaves out what they consumed", () => {
    const stages = new ListStages({ factor: 0.3 });
    // u1's vector is (1, 0): a (1, 0) and b (0.9, 0.1) are its nearest items.
    expect(list(stages, user('u1')).slice(0, 2)).toEqual(['a', 'b']);
    const bought = new Map([['a', { types: typeBit('purchase'), at: NOW }]]);
    const without = list(stages, user('u1', { consumed: bought }));
    expect(without).not.toContain('a');
    expect(without[0]).toBe('b');
  });

  it('damps what rotation demotes for the visitor, by its factor', () => {
    const stages = new ListStages({ factor: 0.01 });
    const first = list(stages, user('u1'))[0]!;
    const damped = list(stages, user('u1', { demoted: new Set([first]) }));
    expect(damped[0]).not.toBe(first);
    // Without damping (factor 1) the demotion changes nothing.
    expect(list(new ListStages({ factor: 1 }), user('u1', { demoted: new Set([first]) }))[0]).toBe(first);
  });

  it('reuses its buffers without carrying one request into the next', () => {
    const stages = new ListStages({ factor: 0.3 });
    const u1 = list(stages, user('u1'));
    const u2 = list(stages, user('u2'));
    expect(u2).not.toEqual(u1);
    expect(list(stages, user('u1'))).toEqual(u1);
    expect(list(new ListStages({ factor: 0.3 }), user('u2'))).toEqual(u2);
  });

  it('fills the trace it is given: the context, the shortlist and the pins', () => {
    const trace: ListTrace = {};
    list(new ListStages({ factor: 0.3 }), user('u1'), 3, trace);
    expect(trace.ctx).toBeDefined();
    expect(trace.shortlist?.length).toBeGreaterThanOrEqual(3);
    expect(trace.pins).toBe(0);
  });
});
