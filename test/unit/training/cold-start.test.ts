import { describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import {
  coldStartTargets,
  dotScorer,
  evaluateColdStart,
  randomScorer,
} from '../../../training/cold-start.ts';
import type { ColdStartTargets } from '../../../training/cold-start.ts';
import type { InteractionLog } from '../../../training/datasets/interaction-dataset.ts';
import { temporalSplit } from '../../../training/split.ts';

/**
 * 5 users, 6 items, cutoff at t = 100. Items 0–2 are bought before the cutoff; items 3–5 only
 * after it (cold). User 0 buys cold item 3 (and old item 1); user 1 cold items 5 and 4 (5 twice);
 * user 2 has no train row and buys cold item 3; user 3 buys nothing cold; user 4 buys only old
 * items after the cutoff.
 */
function log(): InteractionLog {
  const rows: [user: number, item: number, t: number][] = [
    [0, 0, 10],
    [1, 1, 20],
    [3, 2, 30],
    [4, 0, 40],
    [0, 3, 100],
    [0, 1, 110],
    [1, 5, 120],
    [1, 4, 130],
    [1, 5, 140],
    [2, 3, 150],
    [3, 2, 160],
    [4, 1, 170],
  ];
  return {
    userCount: 5,
    itemCount: 6,
    users: Int32Array.from(rows, (r) => r[0]),
    items: Int32Array.from(rows, (r) => r[1]),
    timestamps: Float64Array.from(rows, (r) => r[2]),
    values: new Float32Array(rows.length).fill(1),
  };
}

describe('coldStartTargets', () => {
  it('finds the items first seen in test and the users with a train row who met them', () => {
    const l = log();
    const split = temporalSplit(l, 100);
    const t = coldStartTargets(l, split);
    expect(Array.from(t.items)).toEqual([3, 4, 5]);
    // Train rows: users 0, 1, 3, 4 → rows 0, 1, 2, 3. User 2 has none.
    expect(Array.from(t.testUsers)).toEqual([0, 1]);
    expect(Array.from(t.truthIndptr)).toEqual([0, 1, 3]);
    // Positions in `items`: user 0 → item 3 (0); user 1 → items 4, 5 (1, 2), 5 counted once.
    expect(Array.from(t.truthItems)).toEqual([0, 1, 2]);
    expect(t.usersWithoutTrainRow).toBe(1);
  });
});

describe('evaluateColdStart', () => {
  const targets: ColdStartTargets = {
    items: Int32Array.from([3, 4, 5]),
    testUsers: Int32Array.from([0, 1]),
    truthIndptr: Int32Array.from([0, 1, 3]),
    truthItems: Int32Array.from([0, 1, 2]),
    usersWithoutTrainRow: 1,
  };

  it('ranks only the cold items and averages Recall@K and NDCG@K', () => {
    // f = 2. Both users point along the first axis; cold positions score 0.5, 0.9, 0.1, so
    // the ranking is [1, 0, 2] for both.
    const users = Float32Array.from([1, 0, 1, 0, 0, 1, 0, 1]);
    const vectors = Float32Array.from([0.5, 3, 0.9, -3, 0.1, 0]);
    const r = evaluateColdStart(targets, dotScorer(users, vectors, 2), 2);
    // User 0: truth {0}, top-2 [1, 0] → hit at rank 2: recall 1, NDCG 1/log2(3).
    // User 1: truth {1, 2}, top-2 [1, 0] → hit at rank 1: recall 1/2, NDCG 1 / (1 + 1/log2(3)).
    const u0 = 1 / Math.log2(3);
    const u1 = 1 / (1 + 1 / Math.log2(3));
    expect(r.items).toBe(3);
    expect(r.users).toBe(2);
    expect(r.recall).toBeCloseTo(0.75, 12);
    expect(r.ndcg).toBeCloseTo((u0 + u1) / 2, 6);
    expect(r.ndcgSe).toBeCloseTo(Math.abs(u0 - u1) / 2, 6);
  });

  it('scores 1 when every user’s cold items come first', () => {
    const perfect = (row: number, out: Float32Array) => {
      out.fill(0);
      if (row === 0) out[0] = 1;
      else out[1] = out[2] = 1;
    };
    const r = evaluateColdStart(targets, perfect, 2);
    expect(r.recall).toBe(1);
    expect(r.ndcg).toBeCloseTo(1, 12);
  });

  it('gives chance-level recall with a seeded random order', () => {
    // One user, 4 cold items, truth {2}, K = 1: recall is 1/4 in expectation.
    const many = 4000;
    const one: ColdStartTargets = {
      items: Int32Array.from([10, 11, 12, 13]),
      testUsers: new Int32Array(many),
      truthIndptr: Int32Array.from({ length: many + 1 }, (_, t) => t),
      truthItems: new Int32Array(many).fill(2),
      usersWithoutTrainRow: 0,
    };
    const r = evaluateColdStart(one, randomScorer(createRng(5)), 1);
    expect(r.recall).toBeGreaterThan(0.22);
    expect(r.recall).toBeLessThan(0.28);
    const again = evaluateColdStart(one, randomScorer(createRng(5)), 1);
    expect(again).toEqual(r);
  });

  it('writes a permutation of n … 1 from the random scorer', () => {
    const score = randomScorer(createRng(2));
    const out = new Float32Array(7);
    score(0, out);
    expect(Array.from(out).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
