import { describe, expect, it } from 'vitest';
import { EVENT_WEIGHTS, engagementWeights, eventWeightsFrom } from '../../../src/store/event-weights.ts';
import { TRENDING_WEIGHTS } from '../../../src/serving/trending-state.ts';
import { DEFAULT_WEIGHTS } from '../../../training/interaction-weights.ts';

describe('the one event-weight table', () => {
  it('is what training fits with and what trending counts (its positive part)', () => {
    expect(DEFAULT_WEIGHTS.weights).toBe(EVENT_WEIGHTS);
    expect(engagementWeights()).toEqual({ view: 1, click: 2, add_to_cart: 4, purchase: 8, rating: 5 });
    expect(TRENDING_WEIGHTS).toEqual(engagementWeights());
  });

  it("reads a manifest's table back (types it lacks take today's weight), and nothing malformed", () => {
    expect(eventWeightsFrom(JSON.parse(JSON.stringify(EVENT_WEIGHTS)))).toEqual(EVENT_WEIGHTS);
    expect(eventWeightsFrom({ ...EVENT_WEIGHTS, view: 'heavy' })).toBeNull();
    const { hide: _, ...older } = { ...EVENT_WEIGHTS, view: 3 };
    expect(eventWeightsFrom(older)).toEqual({ ...EVENT_WEIGHTS, view: 3 });
    expect(eventWeightsFrom({ ...EVENT_WEIGHTS, click: Infinity })).toBeNull();
    expect(eventWeightsFrom(null)).toBeNull();
  });
});
