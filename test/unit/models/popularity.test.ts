import { describe, expect, it } from 'vitest';
import { PopularityModel } from '../../../models/popularity.ts';
import { csrFromCoo } from '../../../models/sparse.ts';
import { topK } from '../../../models/top-k.ts';

describe('PopularityModel', () => {
  // 4 users × 4 items; item 2 has 3 buyers, item 0 two (one with value 5: still one buyer),
  // item 3 one, item 1 none.
  const train = csrFromCoo(
    4,
    4,
    Int32Array.from([0, 0, 1, 2, 3, 1]),
    Int32Array.from([0, 2, 2, 2, 3, 0]),
    Float32Array.from([5, 1, 1, 1, 1, 1]),
  );

  it('scores items by distinct users, the same for everyone', async () => {
    const model = new PopularityModel();
    await model.fit(train);
    const a = new Float32Array(4);
    const b = new Float32Array(4);
    model.scoreInto(0, Int32Array.from([0, 2]), Float32Array.from([5, 1]), a);
    model.scoreInto(-1, new Int32Array(0), new Float32Array(0), b);
    expect(Array.from(a)).toEqual([2, 0, 3, 1]);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(topK(a, 4).indices)).toEqual([2, 0, 3, 1]);
  });

  it('rejects an output of the wrong length', async () => {
    const model = new PopularityModel();
    await model.fit(train);
    expect(() => model.scoreInto(0, new Int32Array(0), new Float32Array(0), new Float32Array(3))).toThrow(
      RangeError,
    );
  });
});
