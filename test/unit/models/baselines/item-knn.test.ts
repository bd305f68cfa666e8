import { describe, expect, it } from 'vitest';
import { ItemKnnModel } from '../../../../models/baselines/item-knn.ts';
import { describeModel } from '../describe-model.ts';
import { csrFromCoo } from '../../../../models/sparse.ts';

describe('ItemKnnModel', () => {
  // users: u0 {0, 1}, u1 {0, 1, 2}, u2 {2}, u3 {3}. Columns: item0 {u0, u1}, item1 {u0, u1},
  // item2 {u1, u2}, item3 {u3} → cos(0,1) = 2/√(2·2) = 1, cos(0,2) = cos(1,2) = 1/2, item3 alone.
  // Values other than 1 must not matter: the matrix is read as binary.
  const train = csrFromCoo(
    4,
    4,
    Int32Array.from([0, 0, 1, 1, 1, 2, 3]),
    Int32Array.from([0, 1, 0, 1, 2, 2, 3]),
    Float32Array.from([1, 3, 1, 1, 2, 1, 7]),
  );

  it('computes cosine similarities of binary item columns with a zero diagonal', async () => {
    const model = new ItemKnnModel();
    await model.fit(train);
    const s = Array.from(model.similarity);
    expect(s.slice(0, 4)).toEqual([0, 1, 0.5, 0]);
    expect(s.slice(4, 8)).toEqual([1, 0, 0.5, 0]);
    expect(s.slice(8, 12)).toEqual([0.5, 0.5, 0, 0]);
    expect(s.slice(12, 16)).toEqual([0, 0, 0, 0]);
  });

  it('scores an item by the sum of its similarities to the user’s items, ignoring weights', async () => {
    const model = new ItemKnnModel();
    await model.fit(train);
    const out = new Float32Array(4);
    model.scoreInto(0, Int32Array.from([0, 1]), Float32Array.from([1, 3]), out);
    expect(Array.from(out)).toEqual([1, 1, 1, 0]);
    // A user seen only through items (-1) scores the same way.
    model.scoreInto(-1, Int32Array.from([2]), Float32Array.from([1]), out);
    expect(Array.from(out)).toEqual([0.5, 0.5, 0, 0]);
  });
});

describeModel('ItemKnnModel', () => new ItemKnnModel());
