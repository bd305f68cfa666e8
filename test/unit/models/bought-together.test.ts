import { describe, expect, it } from 'vitest';
import { basketsFromPairs, boughtTogether } from '../../../models/bought-together.ts';
import { capRowLength, neighboursOf } from '../../../models/item-neighbours.ts';
import type { NeighbourLists } from '../../../models/item-neighbours.ts';
import { createRng } from '../../../models/random.ts';
import { rowIndices } from '../../../models/sparse.ts';

const MILK = 0;
const PASTA = 1;
const SAUCE = 2;
const BREAD = 3;
const CHEESE = 4;
const RARE = 5;
const LONELY = 6;

/** Half-open basket ranges per item over 100 baskets. */
const HOLDINGS: [number, [number, number][]][] = [
  [MILK, [[0, 100]]], // every basket
  [PASTA, [[0, 40]]],
  [
    SAUCE,
    [
      [0, 36],
      [40, 44],
    ],
  ], // 36 of pasta's 40 baskets: lift 36·100 / (40·40) = 2.25
  [BREAD, [[20, 70]]], // lift with pasta 20·100 / (40·50) = 1
  [
    CHEESE,
    [
      [30, 40],
      [80, 90],
    ],
  ], // lift with pasta 10·100 / (40·20) = 1.25
  [RARE, [[0, 2]]], // bought twice, both times with pasta: lift 2.5
  [LONELY, [[99, 100]]], // once, with milk only
];

function fixture() {
  const b: number[] = [];
  const i: number[] = [];
  for (const [item, ranges] of HOLDINGS)
    for (const [from, to] of ranges)
      for (let basket = from; basket < to; basket++) {
        b.push(basket);
        i.push(item);
      }
  return { basketIndex: Int32Array.from(b), itemIndex: Int32Array.from(i) };
}

const { basketIndex, itemIndex } = fixture();
const baskets = basketsFromPairs(basketIndex, itemIndex, 7);

function listOf(lists: NeighbourLists, i: number): number[] {
  return Array.from(neighboursOf(lists, i).indices);
}

function scoreOf(lists: NeighbourLists, i: number, j: number): number | undefined {
  const { indices, scores } = neighboursOf(lists, i);
  const p = indices.indexOf(j);
  return p < 0 ? undefined : scores[p];
}

describe('boughtTogether', () => {
  it('ranks by plain lift with shrink 0, ties by index, and milk in every basket has lift 1', () => {
    const lists = boughtTogether(baskets, { k: 6, shrink: 0 });
    expect(lists.rows).toBe(7);
    expect(lists.k).toBe(6);
    // The rare item wins on raw lift: the reason for shrink (next test).
    expect(listOf(lists, PASTA)).toEqual([RARE, SAUCE, CHEESE, MILK, BREAD]);
    expect(Array.from(neighboursOf(lists, PASTA).scores)).toEqual([2.5, 2.25, 1.25, 1, 1]);
  });

  it('with the default shrink, pasta and sauce are each other’s top complement and milk scores exactly 1', () => {
    const lists = boughtTogether(baskets);
    expect(listOf(lists, PASTA)[0]).toBe(SAUCE);
    expect(listOf(lists, SAUCE)[0]).toBe(PASTA);
    expect(listOf(lists, CHEESE)[0]).toBe(PASTA);
    // (36 + 10) / (40 · 40/100 + 10)
    expect(scoreOf(lists, PASTA, SAUCE)).toBeCloseTo(46 / 26, 5);
    // Milk is in every basket: co = expected, so exactly 1 with any shrink.
    expect(scoreOf(lists, PASTA, MILK)).toBe(1);
    expect(scoreOf(lists, SAUCE, MILK)).toBe(1);
    // The rare item drops from 2.5 to (2 + 10) / (0.8 + 10), far below sauce.
    expect(scoreOf(lists, PASTA, RARE)).toBeCloseTo(12 / 10.8, 5);
    // Scores are ordered descending, then by index.
    for (let i = 0; i < 7; i++) {
      const { indices, scores } = neighboursOf(lists, i);
      for (let p = 1; p < indices.length; p++)
        expect(
          scores[p - 1]! > scores[p]! || (scores[p - 1] === scores[p] && indices[p - 1]! < indices[p]!),
        ).toBe(true);
    }
    // minScore 1 keeps only positive associations.
    const positive = listOf(boughtTogether(baskets, { minScore: 1 }), PASTA);
    expect(positive).toContain(SAUCE);
    expect(positive).not.toContain(MILK);
    expect(positive).not.toContain(BREAD);
  });

  it('confidence (popularityExponent 0) puts the item in every basket first', () => {
    const lists = boughtTogether(baskets, { shrink: 0, popularityExponent: 0 });
    expect(listOf(lists, PASTA).slice(0, 2)).toEqual([MILK, SAUCE]);
    expect(Array.from(neighboursOf(lists, PASTA).scores.subarray(0, 2))).toEqual([1, Math.fround(0.9)]);
  });

  it('drops pairs below the minimum support', () => {
    expect(listOf(boughtTogether(baskets, { shrink: 0 }), MILK)).not.toContain(LONELY);
    expect(listOf(boughtTogether(baskets, { shrink: 0, minSupport: 1 }), MILK)).toContain(LONELY);
    expect(listOf(boughtTogether(baskets, { shrink: 0, minSupport: 21 }), PASTA)).toEqual([SAUCE, MILK]);
    expect(listOf(boughtTogether(baskets), LONELY)).toEqual([]);
  });

  it('is deterministic and caps long baskets with the shared seeded sampler', () => {
    const rng = createRng(11);
    const b: number[] = [];
    const i: number[] = [];
    for (let basket = 0; basket < 300; basket++) {
      const size = basket === 7 ? 700 : 2 + rng.int(6);
      for (let p = 0; p < size; p++) {
        b.push(basket);
        i.push(rng.int(800));
      }
    }
    const m = basketsFromPairs(Int32Array.from(b), Int32Array.from(i), 800);
    const opts = { k: 5, minSupport: 1, maxBasketSize: 50, seed: 3 };
    expect(boughtTogether(m, opts)).toEqual(boughtTogether(m, opts));
    expect(boughtTogether(m, opts)).toEqual(
      boughtTogether(capRowLength(m, 50, 3), { ...opts, maxBasketSize: 100_000 }),
    );
  });

  it('rejects bad options', () => {
    expect(() => boughtTogether(baskets, { minSupport: 0 })).toThrow(RangeError);
    expect(() => boughtTogether(baskets, { popularityExponent: 2 })).toThrow(RangeError);
    expect(() => boughtTogether(baskets, { shrink: -1 })).toThrow(RangeError);
  });
});

describe('basketsFromPairs', () => {
  it('sorts, merges repeated lines, keeps empty baskets and is independent of line order', () => {
    const m = basketsFromPairs(
      Int32Array.from([2, 0, 2, 0, 2, 0]),
      Int32Array.from([1, 3, 0, 1, 1, 3]),
      4,
      4,
    );
    expect(Array.from(m.indptr)).toEqual([0, 2, 2, 4, 4]);
    expect(Array.from(m.indices)).toEqual([1, 3, 0, 1]);
    expect(Array.from(m.values)).toEqual([1, 1, 1, 1]);
    expect(basketsFromPairs(Int32Array.from([1]), Int32Array.from([0]), 2).rows).toBe(2);
    expect(() => basketsFromPairs(Int32Array.from([0]), Int32Array.from([5]), 2)).toThrow(RangeError);

    // The fixture in a shuffled order builds the same matrix.
    const rng = createRng(5);
    const order = Array.from(basketIndex.keys());
    for (let p = order.length - 1; p > 0; p--) {
      const q = rng.int(p + 1);
      [order[p], order[q]] = [order[q]!, order[p]!];
    }
    const shuffled = basketsFromPairs(
      Int32Array.from(order, (p) => basketIndex[p]!),
      Int32Array.from(order, (p) => itemIndex[p]!),
      7,
    );
    expect(shuffled).toEqual(baskets);
    expect(Array.from(rowIndices(baskets, 0))).toEqual([MILK, PASTA, SAUCE, RARE]);
  });
});
