import { describe, expect, it } from 'vitest';
import { dotF32 } from '../../../models/dot.ts';
import { createRng } from '../../../models/random.ts';
import { applyRules, RULES_POOL_PER_SLOT, shortlist, unboostedTop } from '../../../src/serving/rules.ts';
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

describe('applyRules: the category cap', () => {
  const scored = (n: number): Scored[] =>
    Array.from({ length: n }, (_, index) => ({ index, score: 1 - index / 100, reason: 'r' }));
  const input = (categoryOf: RuleInput['categoryOf']): RuleInput => ({
    limit: 10,
    rules: { ...DEFAULT_SERVING_CONFIG.tiers.personalized, maxPerCategory: 2, mmrLambda: 1, newItemSlot: -1 },
    pins: [],
    newArrivals: [],
    categoryOf,
    vectorOf: () => null,
  });

  it('caps each category, but uncategorised items are not one category', () => {
    const mixed = applyRules(
      scored(30),
      input((i) => (i < 10 ? `c${i % 5}` : null)),
    );
    expect(mixed.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const capped = applyRules(
      scored(30),
      input((i) => (i % 3 === 0 ? 'a' : null)),
    );
    expect(capped.filter((s) => s.index % 3 === 0).map((s) => s.index)).toEqual([0, 3]);
    expect(capped).toHaveLength(10);
  });

  it('yields rather than leave a list short: held-back items fill the empty slots, best first', () => {
    const one = applyRules(
      scored(12),
      input(() => 'only'),
    );
    expect(one.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const two = applyRules(
      scored(12),
      input((i) => (i < 3 ? 'x' : 'y')),
    );
    expect(two.slice(0, 4).map((s) => s.index)).toEqual([0, 1, 3, 4]);
    expect(two).toHaveLength(10);
  });
});

describe('applyRules: MMR', () => {
  const dims = 6;
  const unit = (v: Float32Array) => {
    const norm = Math.sqrt(dotF32(v, 0, v, 0, dims));
    return Float32Array.from(v, (x) => x / norm);
  };
  /** The textbook MMR over the whole pool: every candidate's similarity to every chosen item. */
  const fullMmr = (pool: Scored[], o: RuleInput, placed: (Scored | undefined)[]): number[] => {
    const top = Math.max(...pool.map((c) => c.score));
    const slots = [...placed];
    const chosen = slots.flatMap((s) => (s ? [unit(o.vectorOf(s.index)!)] : []));
    const perCategory = new Map<string, number>();
    for (const s of slots)
      if (s) perCategory.set(o.categoryOf(s.index)!, (perCategory.get(o.categoryOf(s.index)!) ?? 0) + 1);
    const taken = new Set<number>();
    for (let slot = 0; slot < o.limit; slot++) {
      if (slots[slot]) continue;
      let best = -1;
      let bestValue = -Infinity;
      pool.forEach((c, j) => {
        if (taken.has(j) || (perCategory.get(o.categoryOf(c.index)!) ?? 0) >= o.rules.maxPerCategory) return;
        const u = unit(o.vectorOf(c.index)!);
        const sim = Math.max(-1, ...chosen.map((w) => dotF32(u, 0, w, 0, dims)));
        const lambda = o.rules.mmrLambda;
        const value = lambda * (c.score / top) - (1 - lambda) * Math.max(0, sim);
        if (value > bestValue) [best, bestValue] = [j, value];
      });
      if (best < 0) break;
      taken.add(best);
      slots[slot] = pool[best];
      chosen.push(unit(o.vectorOf(pool[best]!.index)!));
      const cat = o.categoryOf(pool[best]!.index)!;
      perCategory.set(cat, (perCategory.get(cat) ?? 0) + 1);
    }
    return slots.flatMap((s) => (s ? [s.index] : []));
  };

  it('picks what the full MMR picks, at every λ, under the cap and around pins', () => {
    const rng = createRng(11);
    const vectors = Array.from({ length: 300 }, () =>
      Float32Array.from({ length: dims }, () => rng.next() - 0.3),
    );
    for (let round = 0; round < 300; round++) {
      const limit = 1 + rng.int(20);
      const n = 1 + rng.int(limit * RULES_POOL_PER_SLOT);
      const picked = new Set<number>();
      while (picked.size < n) picked.add(rng.int(300));
      // Distinct scores, best first: the pool is the candidates in this order.
      const candidates = [...picked].map((index, j) => ({ index, score: 1 - j / (n + 1), reason: 'r' }));
      const pin = round % 4 === 0 ? { index: rng.int(300), slot: rng.int(limit) } : null;
      const lambda = [1, 0.95, 0.8, 0.5, 0.2, 0][round % 6]!;
      const input: RuleInput = {
        limit,
        rules: {
          ...DEFAULT_SERVING_CONFIG.tiers.personalized,
          mmrLambda: lambda,
          maxPerCategory: 20,
          newItemSlot: -1,
        },
        pins: pin && !picked.has(pin.index) ? [pin] : [],
        newArrivals: [],
        categoryOf: (i) => `c${i % 9}`,
        vectorOf: (i) => vectors[i]!,
      };
      const placed: (Scored | undefined)[] = new Array(limit);
      for (const p of input.pins) placed[p.slot] = { index: p.index, score: 1, reason: 'promoted' };
      expect(applyRules(candidates, input).map((s) => s.index)).toEqual(fullMmr(candidates, input, placed));
    }
  });

  it('lists a boosted item first and the rest as with it pinned there, at every boost', () => {
    const rng = createRng(5);
    const vectors = Array.from({ length: 200 }, () =>
      Float32Array.from({ length: dims }, () => rng.next() - 0.3),
    );
    for (let round = 0; round < 100; round++) {
      const limit = 2 + rng.int(15);
      const picked = new Set<number>();
      while (picked.size < limit * RULES_POOL_PER_SLOT) picked.add(rng.int(200));
      const plain = [...picked].map((index) => ({ index, score: 0.1 + rng.next(), reason: 'r' }));
      const lifted = plain[rng.int(plain.length)]!.index;
      const factor = [2, 10, 50, 1000][round % 4]!;
      const boost = (i: number) => (i === lifted ? factor : 1);
      const boosted = plain.map((c) => ({ ...c, score: c.score * boost(c.index) }));
      const input: RuleInput = {
        limit,
        rules: {
          ...DEFAULT_SERVING_CONFIG.tiers.personalized,
          mmrLambda: 0.8,
          maxPerCategory: 20,
          newItemSlot: -1,
        },
        pins: [],
        newArrivals: [],
        categoryOf: (i) => `c${i % 9}`,
        vectorOf: (i) => vectors[i]!,
      };
      // Boosted far above the rest: first, whatever its own relevance.
      if (
        boosted.every((c) => c.index === lifted || c.score < boosted.find((b) => b.index === lifted)!.score)
      ) {
        const got = applyRules(boosted, { ...input, relevanceTop: unboostedTop(boosted, boost) });
        const asPinned = applyRules(plain, { ...input, pins: [{ index: lifted, slot: 0 }] });
        expect(got.map((s) => s.index)).toEqual(asPinned.map((s) => s.index));
      }
    }
  });

  it('reads no vector at λ = 1, where similarity weighs nothing', () => {
    let reads = 0;
    const input: RuleInput = {
      limit: 5,
      rules: {
        ...DEFAULT_SERVING_CONFIG.tiers.personalized,
        mmrLambda: 1,
        maxPerCategory: 20,
        newItemSlot: -1,
      },
      pins: [],
      newArrivals: [],
      categoryOf: () => null,
      vectorOf: () => {
        reads++;
        return Float32Array.of(1, 0, 0, 0, 0, 0);
      },
    };
    const list = applyRules(
      Array.from({ length: 12 }, (_, index) => ({ index, score: 1 - index / 20, reason: 'r' })),
      input,
    );
    expect(list.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
    expect(reads).toBe(0);
    applyRules(
      Array.from({ length: 12 }, (_, index) => ({ index, score: 1 - index / 20, reason: 'r' })),
      { ...input, rules: { ...input.rules, mmrLambda: 0.9 } },
    );
    expect(reads).toBeGreaterThan(0);
  });
});

describe('applyRules: order', () => {
  it('lists by score, ties by lower item index, from short pools and long ones, call after call', () => {
    const rng = createRng(11);
    const input = (limit: number): RuleInput => ({
      limit,
      rules: {
        ...DEFAULT_SERVING_CONFIG.tiers.personalized,
        mmrLambda: 1,
        maxPerCategory: 10_000,
        newItemSlot: -1,
      },
      pins: [],
      newArrivals: [],
      categoryOf: () => null,
      vectorOf: () => null,
    });
    // Pools of 80 and 120 are sorted by insertion, one of 400 by the comparator; the scratch
    // arrays of a long pool are reused by the short ones after it.
    for (const [limit, n] of [
      [20, 90],
      [100, 600],
      [5, 3],
      [30, 2000],
      [20, 90],
    ] as const) {
      const levels = 1 + rng.int(6);
      const indices = Array.from({ length: 3 * n }, (_, i) => i).sort(() => rng.next() - 0.5);
      const candidates: Scored[] = indices
        .slice(0, n)
        .map((index) => ({ index, score: rng.int(levels) / levels, reason: 'r' }));
      const best = [...candidates].sort((a, b) => b.score - a.score || a.index - b.index).slice(0, limit);
      expect(applyRules(candidates, input(limit))).toEqual(best);
    }
  });
});
