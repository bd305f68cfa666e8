/** The router's configurations: a running experiment's variants stand on the tier's shipped default. */
import { describe, expect, it } from 'vitest';
import { BUCKETS } from '../../../src/experiments/assignment.ts';
import { draftOf } from '../../../src/experiments/experiment-definition.ts';
import { ExperimentRouter } from '../../../src/experiments/experiment-router.ts';
import type { RecommendRequest } from '../../../src/serving/types.ts';
import { DEFAULT_SERVING_CONFIG, tierConfig } from '../../../src/serving/types.ts';
import type { Experiment } from '../../../src/store/types.ts';

const base = tierConfig(DEFAULT_SERVING_CONFIG, 'homepage');

function experiment(id: string, variants: Experiment['variants'], state: 'running' | 'shipped'): Experiment {
  const e = draftOf({ id, name: id, tiers: ['homepage'], unit: 'user', variants }, 0, `salt-${id}`);
  return state === 'running'
    ? { ...e, state, range: [0, BUCKETS], startedAt: 0 }
    : { ...e, state, shipped: { variant: variants[1]!.name, at: 1 } };
}

describe('ExperimentRouter', () => {
  // Seen with two replicas: blend-1's b shipped (trending 0.1), then y9 started with control {}
  // and b {}: its users were served the engine's default (trending 0.4), undoing the ship for
  // everyone in y9, and y9's control was not what the others saw.
  it('builds a running experiment’s variants on the shipped default of the tier', () => {
    const router = new ExperimentRouter();
    const shipped = experiment(
      'blend-1',
      [
        { name: 'control', share: 0.5, config: {} },
        { name: 'b', share: 0.5, config: { weights: { trending: 0.1 } } },
      ],
      'shipped',
    );
    router.load([
      shipped,
      experiment(
        'y9',
        [
          { name: 'control', share: 0.5, config: {} },
          { name: 'capped', share: 0.5, config: { rules: { maxPerCategory: 2 } } },
        ],
        'running',
      ),
    ]);
    const seen = new Set<string>();
    for (let u = 0; u < 40; u++) {
      const r: RecommendRequest = { tier: 'homepage', userId: `u${u}`, limit: 10 };
      void router.route(r, base);
      seen.add(r.variant!);
      expect(r).toMatchObject({ experiment: 'y9', config: { name: `y9:${r.variant}` } });
      expect(r.config!.weights).toEqual({ ...base.weights, trending: 0.1 });
      expect(r.config!.maxPerCategory).toBe(r.variant === 'capped' ? 2 : base.maxPerCategory);
    }
    expect(seen).toEqual(new Set(['control', 'capped']));
    // y9 over: the shipped default serves everyone.
    router.load([shipped]);
    const r: RecommendRequest = { tier: 'homepage', userId: 'u0', limit: 10 };
    void router.route(r, base);
    expect(r.experiment).toBeUndefined();
    expect(r.config).toMatchObject({ name: 'shipped:blend-1:b', weights: { trending: 0.1 } });
  });
});
