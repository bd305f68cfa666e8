import { describe, expect, it } from 'vitest';
import { AlsModel } from '../../../../models/als.ts';
import type { AlsOptions } from '../../../../models/als.ts';
import type { ItemContent } from '../../../../models/content-encoder.ts';
import { HybridModel } from '../../../../models/baselines/hybrid.ts';
import { rowIndices, rowValues } from '../../../../models/sparse.ts';
import { BLOCK_ITEMS, checkerboard, describeModel } from '../describe-model.ts';

const ALS: AlsOptions = { factors: 8, regularization: 1, iterations: 10, workers: 1 };
const ENCODER = { dims: 1 << 12 };

function items(): ItemContent[] {
  return Array.from({ length: 2 * BLOCK_ITEMS }, (_, i) =>
    i < BLOCK_ITEMS
      ? { title: `red kitchen thing${i}`, categories: ['Home > Kitchen'] }
      : { title: `blue garden thing${i}`, categories: ['Outdoor > Garden'] },
  );
}

describeModel(
  'HybridModel',
  (seed) => new HybridModel({ items: items(), als: { ...ALS, seed }, encoder: ENCODER, seed, beta: 0.5 }),
);

describe('HybridModel', () => {
  const train = checkerboard();

  it('gives exactly the ALS scores at β = 0, for known and folded-in users', async () => {
    const hybrid = new HybridModel({ items: items(), als: { ...ALS, seed: 3 }, encoder: ENCODER, beta: 0 });
    await hybrid.fit(train);
    const als = new AlsModel({ ...ALS, seed: 3 });
    await als.fit(train);
    const got = new Float32Array(train.cols);
    const want = new Float32Array(train.cols);
    for (let u = 0; u < train.rows; u++) {
      for (const index of [u, -1]) {
        hybrid.scoreInto(index, rowIndices(train, u), rowValues(train, u), got);
        als.scoreInto(index, rowIndices(train, u), rowValues(train, u), want);
        expect(got).toEqual(want);
      }
    }
  });

  it('adds β times the content-only score to the ALS score', async () => {
    const beta = 0.7;
    const hybrid = new HybridModel({ items: items(), als: { ...ALS, seed: 3 }, encoder: ENCODER, beta });
    await hybrid.fit(train);
    const got = new Float32Array(train.cols);
    const als = new Float32Array(train.cols);
    const content = new Float32Array(train.cols);
    let contentMoves = false;
    for (const u of [0, 7, 30]) {
      const row = rowIndices(train, u);
      const values = rowValues(train, u);
      hybrid.scoreInto(u, row, values, got);
      hybrid.fitted.als.scoreInto(u, row, values, als);
      hybrid.content.scoreInto(u, row, values, content);
      for (let i = 0; i < train.cols; i++) {
        expect(got[i]!).toBeCloseTo(als[i]! + beta * content[i]!, 5);
        if (Math.abs(content[i]!) > 1e-3) contentMoves = true;
      }
    }
    expect(contentMoves).toBe(true);
  });

  it('rejects a non-finite β', () => {
    expect(() => new HybridModel({ items: items(), beta: Number.NaN })).toThrow(RangeError);
  });
});
