import { describe, expect, it } from 'vitest';
import { AlsModel } from '../../../models/als.ts';
import { createRng } from '../../../models/random.ts';
import type { Recommender } from '../../../models/recommender.ts';
import { csrFromCoo } from '../../../models/sparse.ts';
import type { Csr } from '../../../models/sparse.ts';
import { evaluateRecommender } from '../../../training/evaluate.ts';

/** Fixed scores for everybody: item i scores 10 − i, so lower indices rank first. */
class FixedScores implements Recommender {
  readonly name = 'fixed';
  seen: number[] = [];
  async fit(_train: Csr): Promise<void> {}
  scoreInto(userIndex: number, _items: Int32Array, _weights: Float32Array, out: Float32Array): void {
    this.seen.push(userIndex);
    for (let i = 0; i < out.length; i++) out[i] = 10 - i;
  }
}

describe('evaluateRecommender', () => {
  // 3 users × 6 items. User 0 owns items 0, 1; user 1 owns item 2; user 2 owns nothing.
  const train = csrFromCoo(
    3,
    6,
    Int32Array.from([0, 0, 1]),
    Int32Array.from([0, 1, 2]),
    Float32Array.from([1, 1, 1]),
  );

  it('ranks all items minus the user’s own, and averages over test users', () => {
    const model = new FixedScores();
    // User 0: top-2 after excluding 0, 1 is [2, 3]; truth {3, 5} → 1 hit at rank 2.
    // User 1: top-2 after excluding 2 is [0, 1]; truth {0} → hit at rank 1.
    const r = evaluateRecommender(
      model,
      train,
      {
        testUsers: Int32Array.from([0, 1]),
        truthIndptr: Int32Array.from([0, 2, 3]),
        truthItems: Int32Array.from([3, 5, 0]),
      },
      2,
    );
    expect(model.seen).toEqual([0, 1]);
    expect(r.users).toBe(2);
    expect(r.recall).toBeCloseTo((1 / 2 + 1) / 2, 12);
    const ndcgUser0 = 1 / Math.log2(3) / (1 + 1 / Math.log2(3));
    expect(r.ndcg).toBeCloseTo((ndcgUser0 + 1) / 2, 12);
    // Lists [2, 3] and [0, 1]: 4 distinct of 6 train items.
    expect(r.coverage).toBeCloseTo(4 / 6, 12);
  });

  it('reports zeros for no test users', () => {
    const r = evaluateRecommender(new FixedScores(), train, {
      testUsers: new Int32Array(0),
      truthIndptr: Int32Array.from([0]),
      truthItems: new Int32Array(0),
    });
    expect(r).toEqual({ k: 20, users: 0, recall: 0, ndcg: 0, coverage: 0 });
  });

  it('gives the same figures from a model ranking in blocks as from one user at a time', async () => {
    const rng = createRng(11);
    const [users, items] = [300, 400];
    const rows: number[] = [];
    const cols: number[] = [];
    for (let u = 0; u < users; u++)
      for (let j = 0; j < 8; j++) {
        rows.push(u);
        cols.push((u * 7 + rng.int(60) + (u % 5) * 70) % items);
      }
    const m = csrFromCoo(
      users,
      items,
      Int32Array.from(rows),
      Int32Array.from(cols),
      new Float32Array(rows.length).fill(1),
    );
    const model = new AlsModel({ factors: 16, iterations: 3, seed: 4, workers: 1 });
    await model.fit(m);
    const testUsers = Int32Array.from({ length: 120 }, (_, t) => t * 2);
    const truthIndptr = Int32Array.from({ length: 121 }, (_, t) => 3 * t);
    const truthItems = Int32Array.from({ length: 360 }, () => rng.int(items));
    const targets = { testUsers, truthIndptr, truthItems };
    // The same model seen through scoreInto only (no recommendBatch).
    const oneByOne: Recommender = {
      name: 'als',
      fit: (t) => model.fit(t),
      scoreInto: (...a) => model.scoreInto(...a),
    };
    expect(model.recommendBatch).toBeTypeOf('function');
    expect(evaluateRecommender(model, m, targets, 20)).toEqual(evaluateRecommender(oneByOne, m, targets, 20));
  });
});
