import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVING_CONFIG } from '../../../src/serving/types.ts';
import type { ServingConfig, Tier } from '../../../src/serving/types.ts';
import { tuneServedTiers } from '../../../training/served-evaluation.ts';
import type { ServedResult } from '../../../training/served-evaluation.ts';

/** A scorer that records what it is asked and rewards a lower MMR λ and more trending. */
function recordingScorer() {
  const asked: { tier: Tier; config: ServingConfig | undefined }[] = [];
  const score = (tier: Tier, config?: ServingConfig): Promise<ServedResult> => {
    asked.push({ tier, config });
    const r = (config ?? DEFAULT_SERVING_CONFIG).tiers[tier];
    const ndcg = 0.1 + (1 - r.mmrLambda) + r.weights.trending;
    return Promise.resolve({
      users: 10,
      'ndcg@20': ndcg,
      'recall@20': ndcg,
      'coverage@20': 0.5,
      meanLength: 20,
      shortShare: 0,
    });
  };
  return { asked, score };
}

describe('tuneServedTiers', () => {
  it('never tries the weight of a source the version lacks, nor scores that source alone', async () => {
    const all = recordingScorer();
    const full = await tuneServedTiers(all.score, ['personalized'], DEFAULT_SERVING_CONFIG);
    const lacking = recordingScorer();
    const some = await tuneServedTiers(
      lacking.score,
      ['personalized'],
      DEFAULT_SERVING_CONFIG,
      new Set(['ease'] as const),
    );
    // The trials, without the model-only references (no category cap).
    const easeWeights = (r: ReturnType<typeof recordingScorer>) =>
      new Set(
        r.asked
          .map((a) => (a.config ?? DEFAULT_SERVING_CONFIG).tiers.personalized)
          .filter((t) => t.maxPerCategory !== Number.MAX_SAFE_INTEGER)
          .map((t) => t.weights.ease),
      );
    const easeAlone = (r: ReturnType<typeof recordingScorer>) =>
      r.asked.filter((a) => {
        const t = a.config?.tiers.personalized;
        return t?.maxPerCategory === Number.MAX_SAFE_INTEGER && t.weights.ease === 1;
      });
    expect(easeAlone(all)).toHaveLength(1);
    expect(easeAlone(lacking)).toHaveLength(0);
    expect(easeWeights(all).size).toBeGreaterThan(1);
    expect(easeWeights(lacking)).toEqual(new Set([DEFAULT_SERVING_CONFIG.tiers.personalized.weights.ease]));
    // The same rules, fewer settings scored.
    expect(some.config).toEqual(full.config);
    expect(some.tiers.personalized!.scored).toBeLessThan(full.tiers.personalized!.scored);
    expect(lacking.asked.length).toBeLessThan(all.asked.length);
  });
});
