import { describe, expect, it } from 'vitest';
import type { AlsOptions } from '../../../../models/als.ts';
import { ContentEncoder } from '../../../../models/content-encoder.ts';
import type { ItemContent } from '../../../../models/content-encoder.ts';
import { assignFolds, ContentOnlyModel } from '../../../../models/baselines/content-only.ts';
import { createRng } from '../../../../models/random.ts';
import { csrFromCoo, rowIndices, rowValues } from '../../../../models/sparse.ts';
import type { Csr } from '../../../../models/sparse.ts';
import { topK } from '../../../../models/top-k.ts';
import { BLOCK_ITEMS, describeModel } from '../describe-model.ts';

const ALS: AlsOptions = { factors: 8, regularization: 1, iterations: 10, workers: 1 };
const ENCODER = { dims: 1 << 12 };

/** Checkerboard content: block 0 items are red kitchen things, block 1 blue garden things. */
function checkerboardItems(): ItemContent[] {
  return Array.from({ length: 2 * BLOCK_ITEMS }, (_, i) =>
    i < BLOCK_ITEMS
      ? { title: `red kitchen thing${i}`, categories: ['Home > Kitchen'] }
      : { title: `blue garden thing${i}`, categories: ['Outdoor > Garden'] },
  );
}

describeModel(
  'ContentOnlyModel',
  (seed) =>
    new ContentOnlyModel({ items: checkerboardItems(), als: { ...ALS, seed }, encoder: ENCODER, seed }),
);

const GROUPS = ['kitchen', 'garden', 'toys'];
const PER_GROUP = 10;
/** Items PER_GROUP − 2 and PER_GROUP − 1 of each group have no interaction at all. */
const SILENT = 2;
const USERS_PER_GROUP = 15;

/**
 * Taste follows content: each user buys only items of one group (5 of the group's first 8),
 * and each item's title names its group (plus a word of its own). The last two items of every
 * group have no interactions, so only their content can place them.
 */
function tasteByContent(seed: number): { train: Csr; items: ItemContent[]; groupOfUser: number[] } {
  const rng = createRng(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  const groupOfUser: number[] = [];
  for (let g = 0; g < GROUPS.length; g++) {
    for (let u = 0; u < USERS_PER_GROUP; u++) {
      const user = groupOfUser.push(g) - 1;
      const pool = Array.from({ length: PER_GROUP - SILENT }, (_, j) => g * PER_GROUP + j);
      for (let pick = 0; pick < 5; pick++) {
        const [item] = pool.splice(rng.int(pool.length), 1);
        rows.push(user);
        cols.push(item!);
      }
    }
  }
  const items = Array.from({ length: GROUPS.length * PER_GROUP }, (_, i) => ({
    title: `${GROUPS[Math.floor(i / PER_GROUP)]} item word${i}`,
    categories: [`Shop > ${GROUPS[Math.floor(i / PER_GROUP)]}`],
  }));
  const train = csrFromCoo(
    groupOfUser.length,
    items.length,
    Int32Array.from(rows),
    Int32Array.from(cols),
    new Float32Array(rows.length).fill(1),
  );
  return { train, items, groupOfUser };
}

describe('ContentOnlyModel', () => {
  for (const user of ['fold-in', 'mean'] as const) {
    it(`ranks the never-bought items of the user's own group above every other group's items (${user})`, async () => {
      const { train, items, groupOfUser } = tasteByContent(3);
      const model = new ContentOnlyModel({ items, als: { ...ALS, seed: 2 }, encoder: ENCODER, user });
      await model.fit(train);
      const scores = new Float32Array(train.cols);
      for (let u = 0; u < train.rows; u++) {
        model.scoreInto(u, rowIndices(train, u), rowValues(train, u), scores);
        const g = groupOfUser[u]!;
        let bestOther = -Infinity;
        for (let i = 0; i < train.cols; i++)
          if (Math.floor(i / PER_GROUP) !== g) bestOther = Math.max(bestOther, scores[i]!);
        for (let s = 1; s <= SILENT; s++) {
          const silent = (g + 1) * PER_GROUP - s;
          expect({ user: u, item: silent, above: scores[silent]! > bestOther }).toEqual({
            user: u,
            item: silent,
            above: true,
          });
        }
        // The first unseen item is one of the user's own group.
        const top = topK(scores, 1, rowIndices(train, u)).indices[0]!;
        expect(Math.floor(top / PER_GROUP)).toBe(g);
      }
    });
  }

  it("makes out-of-fold vectors with an encoder that never saw the item's own factors", async () => {
    const { train, items } = tasteByContent(5);
    const options = { items, als: { ...ALS, seed: 4 }, encoder: ENCODER, folds: 3, seed: 9 };
    const base = await ContentOnlyModel.fitBase(train, options);
    const f = base.als.factors;
    expect(Array.from(base.folds)).toEqual(Array.from(assignFolds(items.length, 3, 9)));
    for (let fold = 0; fold < 3; fold++) {
      const inFold = items.flatMap((_, i) => (base.folds[i] === fold ? [i] : []));
      const rest = items.flatMap((_, i) => (base.folds[i] === fold ? [] : [i]));
      expect(inFold.length).toBe(PER_GROUP);
      const targets = Float32Array.from(
        rest.flatMap((i) => Array.from(base.als.itemFactors.subarray(i * f, (i + 1) * f))),
      );
      const encoder = await ContentEncoder.fit(
        rest.map((i) => items[i]!),
        targets,
        f,
        ENCODER,
      );
      const expected = new Float32Array(inFold.length * f);
      encoder.encodeInto(
        inFold.map((i) => items[i]!),
        expected,
      );
      const got = Float32Array.from(
        inFold.flatMap((i) => Array.from(base.itemVectors.subarray(i * f, (i + 1) * f))),
      );
      expect(got).toEqual(expected);
    }
  });

  it('makes in-sample vectors with one encoder fitted on every item', async () => {
    const { train, items } = tasteByContent(6);
    const base = await ContentOnlyModel.fitBase(train, {
      items,
      als: { ...ALS, seed: 4 },
      encoder: ENCODER,
      itemVectors: 'in-sample',
    });
    const f = base.als.factors;
    const encoder = await ContentEncoder.fit(items, base.als.itemFactors, f, ENCODER);
    const expected = new Float32Array(items.length * f);
    encoder.encodeInto(items, expected);
    expect(base.itemVectors).toEqual(expected);
    expect(base.folds.length).toBe(0);
  });

  it('uses a supplied base instead of fitting one, and checks its size', async () => {
    const { train, items } = tasteByContent(7);
    const base = await ContentOnlyModel.fitBase(train, { items, als: { ...ALS, seed: 1 }, encoder: ENCODER });
    let calls = 0;
    const shared = async () => {
      calls++;
      return base;
    };
    const a = new ContentOnlyModel({ items, fitBase: shared });
    const b = new ContentOnlyModel({ items, fitBase: shared });
    await a.fit(train);
    await b.fit(train);
    expect(calls).toBe(2);
    expect(a.fitted.itemVectors).toBe(base.itemVectors);
    const wider: Csr = { ...train, cols: train.cols + 1 };
    await expect(new ContentOnlyModel({ items, fitBase: shared }).fit(wider)).rejects.toThrow(RangeError);
  });

  it('rejects bad options and a content list of the wrong length', async () => {
    const { train, items } = tasteByContent(8);
    expect(() => new ContentOnlyModel({ items, folds: 1 })).toThrow(RangeError);
    expect(() => new ContentOnlyModel({ items, user: 'max' as 'mean' })).toThrow(RangeError);
    await expect(
      new ContentOnlyModel({ items: items.slice(1), als: { ...ALS, seed: 1 } }).fit(train),
    ).rejects.toThrow(RangeError);
    expect(() =>
      new ContentOnlyModel({ items }).scoreInto(
        0,
        new Int32Array(0),
        new Float32Array(0),
        new Float32Array(1),
      ),
    ).toThrow('not fitted');
  });
});
