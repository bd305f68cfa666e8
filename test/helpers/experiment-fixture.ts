/**
 * A stored experiment for tests that put one in the store directly: a draft of two variants,
 * `control` and `b`, over the homepage, all of its layer's traffic; `over` changes any field.
 */
import type { Experiment } from '../../src/store/types.ts';

export function experimentOf(over: Partial<Experiment> = {}): Experiment {
  return {
    id: 'x1',
    name: 'blend',
    tiers: ['homepage'],
    unit: 'user',
    layer: 'homepage',
    traffic: 1,
    variants: [
      { name: 'control', share: 0.5, config: {} },
      { name: 'b', share: 0.5, config: { weights: { trending: 0 }, rules: { mmrLambda: 0.5 } } },
    ],
    state: 'draft',
    salt: 'abc',
    range: null,
    createdAt: 0,
    startedAt: null,
    stoppedAt: null,
    shipped: null,
    ...over,
  };
}
