import { describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import { applyRules, RULES_POOL_PER_SLOT, shortlist } from '../../../src/serving/rules.ts';
import type { RuleInput, Scored } from '../../../src/serving/rules.ts';
import { DEFAULT_SERVING_CONFIG } from '../../../src/serving/types.ts';

describe('shortlist', () => {
  it('keeps the best m (lower item index first among ties) and the items asked for', () => {
    const scores = Float64Array.from([0.5, 0.9, 0.5, 0.1, 0.5, 0.7]);
    const items = Int32Array.from([40, 10, 30, 99, 20, 50]);
    // Best 3: 0.9 (10), 0.7 (50), then the tie at 0.5 goes to item 20 (position 4).
    expect(shortlist(scores, items, 6, 3, [])).toEqual([1, 4, 5]);
    expect(shortlist(scores, items, 6, 3, [99, 40])).toEqual([0, 1, 3, 4, 5]);
    expect(shortlist(scores, items, 6, 10, [])).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('gives applyRules the answer it gives for every candidate, ties, pins and new arrivals included', () => {
    const rng = createRng(3);
    const dims = 8;
    const vectors = Array.from({ length: 600 }, () =>
      Float32Array.from({ length: dims }, () => rng.next() - 0.5),
    );
    for (let round = 0; round < 400; round++) {
      const limit = 1 + rng.int(30);
      const n = 50 + rng.int(400);
      // Few distinct scores, so the cut falls inside a run of ties.
      const levels = 1 + rng.int(12);
      const seen = new Set<number>();
      const candidates: Scored[] = [];
      while (candidates.length < n) {
        const index = rng.int(600);
        if (seen.has(index)) continue;
        seen.add(index);
        candidates.push({ index, score: rng.int(levels) / levels, reason: `r${index}` });
      }
      const pins = round % 3 === 0 ? [{ index: candidates[rng.int(n)]!.index, slot: rng.int(limit) }] : [];
      const newArrivals = Array.from({ length: rng.int(4) }, () => ({
        index: candidates[rng.int(n)]!.index,
        score: rng.next(),
      }));
      const input: RuleInput = {
        limit,
        rules: { ...DEFAULT_SERVING_CONFIG.tiers.personalized, maxPerCategory: 1 + rng.int(4) },
        pins,
        newArrivals,
        categoryOf: (i) => `c${i % 7}`,
        vectorOf: (i) => vectors[i]!,
      };
      const scores = Float64Array.from(candidates, (c) => c.score);
      const items = Int32Array.from(candidates, (c) => c.index);
      const m = limit * RULES_POOL_PER_SLOT + pins.length + 1;
      const kept = shortlist(
        scores,
        items,
        n,
        m,
        newArrivals.map((a) => a.index),
      ).map((j) => candidates[j]!);
      expect(kept.length).toBeLessThanOrEqual(Math.min(n, m + newArrivals.length));
      expect(applyRules(kept, input)).toEqual(applyRules(candidates, input));
    }
  });
});
