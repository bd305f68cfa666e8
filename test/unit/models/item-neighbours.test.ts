import { describe, expect, it } from 'vitest';
import { capRowLength, itemNeighbours, neighboursOf, TopKSelector } from '../../../models/item-neighbours.ts';
import type { NeighbourLists } from '../../../models/item-neighbours.ts';
import { createRng } from '../../../models/random.ts';
import { csrFromCoo, rowIndices, rowValues } from '../../../models/sparse.ts';
import type { Csr } from '../../../models/sparse.ts';

/**
 * Users × items matrix from per-user item lists (value 1, or the given weights). Rows go to
 * csrFromCoo sorted by column: its in-row merge is only exact on sorted input.
 */
function matrix(items: number, rows: number[][], weights?: number[][]): Csr {
  const r: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  rows.forEach((row, u) => {
    const entries = row.map((i, p) => [i, weights ? weights[u]![p]! : 1] as const);
    entries.sort((a, b) => a[0] - b[0]);
    for (const [i, w] of entries) {
      r.push(u);
      c.push(i);
      v.push(w);
    }
  });
  return csrFromCoo(rows.length, items, Int32Array.from(r), Int32Array.from(c), Float32Array.from(v));
}

/** Dense reference: the same formula over all pairs, sorted by fround(score) desc then index asc. */
function bruteForce(
  x: Csr,
  k: number,
  alpha: number,
  shrink: number,
): { indices: number[]; scores: number[] }[] {
  const n = x.cols;
  const co = new Float64Array(n * n);
  for (let u = 0; u < x.rows; u++) {
    const idx = rowIndices(x, u);
    const val = rowValues(x, u);
    for (let p = 0; p < idx.length; p++)
      for (let q = 0; q < idx.length; q++) co[idx[p]! * n + idx[q]!]! += val[p]! * val[q]!;
  }
  const lists = [];
  for (let i = 0; i < n; i++) {
    const cand: { j: number; s: number }[] = [];
    for (let j = 0; j < n; j++) {
      if (j === i || co[i * n + j] === 0) continue;
      const s = co[i * n + j]! / (co[i * n + i]! ** alpha * co[j * n + j]! ** (1 - alpha) + shrink);
      cand.push({ j, s: Math.fround(s) });
    }
    cand.sort((a, b) => b.s - a.s || a.j - b.j);
    const top = cand.slice(0, k);
    lists.push({ indices: top.map((c) => c.j), scores: top.map((c) => c.s) });
  }
  return lists;
}

function listOf(lists: NeighbourLists, i: number): number[] {
  return Array.from(neighboursOf(lists, i).indices);
}

describe('itemNeighbours', () => {
  it('matches a brute-force asymmetric cosine on random weighted data', () => {
    const rng = createRng(7);
    const rows: number[][] = [];
    const weights: number[][] = [];
    for (let u = 0; u < 60; u++) {
      const set = new Set<number>();
      const len = 1 + rng.int(8);
      while (set.size < len) set.add(rng.int(25));
      rows.push([...set]);
      weights.push([...set].map(() => 1 + rng.int(4)));
    }
    const x = matrix(25, rows, weights);
    for (const [alpha, shrink] of [
      [0.5, 0],
      [0.3, 2],
      [1, 5],
    ] as const) {
      const got = itemNeighbours(x, { k: 6, alpha, shrink });
      const want = bruteForce(x, 6, alpha, shrink);
      expect(got.rows).toBe(25);
      expect(got.k).toBe(6);
      expect(got.indices.length).toBe(25 * 6);
      for (let i = 0; i < 25; i++) {
        const mine = neighboursOf(got, i);
        expect(Array.from(mine.indices)).toEqual(want[i]!.indices);
        expect(Array.from(mine.scores)).toEqual(want[i]!.scores);
      }
    }
  });

  it('alpha 0.5 without shrink is the cosine of the item columns', () => {
    // Items 0 and 1 share users 0 and 1; item 0 also has user 2: cos = 2 / sqrt(3 · 2).
    const x = matrix(3, [
      [0, 1],
      [0, 1],
      [0, 2],
    ]);
    const lists = itemNeighbours(x, { k: 2, shrink: 0 });
    expect(listOf(lists, 0)).toEqual([1, 2]);
    expect(lists.scores[0]).toBeCloseTo(2 / Math.sqrt(6), 6);
    expect(lists.scores[1]).toBeCloseTo(1 / Math.sqrt(3), 6);
    expect(listOf(lists, 2)).toEqual([0]);
    expect(lists.indices[2 * 2 + 1]).toBe(-1);
    expect(lists.scores[2 * 2 + 1]).toBe(0);
  });

  it('does not let a blockbuster that co-occurs with everything top the list of an item with a strong partner', () => {
    // 200 users all hold the blockbuster (item 0). Item 1 (20 users) has a specific partner,
    // item 2, in 16 of its users. Items 3..22 are filler: each of the other users holds two
    // consecutive ones (mod 20), so every filler item also has partners besides item 0.
    const rows: number[][] = [];
    for (let u = 0; u < 200; u++) {
      const row = [0];
      if (u < 20) row.push(1);
      if (u < 16 || (u >= 20 && u < 24)) row.push(2);
      if (u >= 24) row.push(3 + ((u - 24) % 20), 3 + ((u - 23) % 20));
      rows.push(row);
    }
    const x = matrix(23, rows);
    const damped = itemNeighbours(x, { k: 5 });
    expect(listOf(damped, 1)[0]).toBe(2);
    expect(listOf(damped, 2)[0]).toBe(1);
    // The blockbuster is nobody's top neighbour here, though it co-occurs with every item.
    for (let i = 1; i < 23; i++) expect(listOf(damped, i)[0]).not.toBe(0);
    // Without damping (α = 1 is the confidence co/n_i) it tops item 1's list: the test can fail.
    const undamped = itemNeighbours(x, { k: 5, alpha: 1, shrink: 0 });
    expect(listOf(undamped, 1)[0]).toBe(0);
  });

  it('orders by score descending, then index ascending (tie rule pinned)', () => {
    // Item 0 co-occurs once with each of 4, 2, 3 (identical columns: tied) and twice with 1.
    const x = matrix(5, [[0, 4], [0, 2], [0, 3], [0, 1], [0, 1], [1], [2], [3], [4]]);
    const lists = itemNeighbours(x, { k: 4, shrink: 0 });
    expect(listOf(lists, 0)).toEqual([1, 2, 3, 4]);
    const s = neighboursOf(lists, 0).scores;
    expect(s[0]).toBeGreaterThan(s[1]!);
    expect(s[1]).toBe(s[2]);
    expect(s[2]).toBe(s[3]);
  });

  it('never lists an item as its own neighbour, pads with -1 and clamps k to items - 1', () => {
    const x = matrix(4, [[0, 1, 2], [0, 1], []]);
    const lists = itemNeighbours(x, { k: 10 });
    expect(lists.k).toBe(3);
    for (let i = 0; i < 4; i++) expect(listOf(lists, i)).not.toContain(i);
    expect(listOf(lists, 3)).toEqual([]);
    expect(Array.from(lists.indices.subarray(9, 12))).toEqual([-1, -1, -1]);
    expect(listOf(lists, 2)).toEqual([0, 1]);
    expect(() => neighboursOf(lists, 4)).toThrow(RangeError);
  });

  it('binary ignores values; minScore drops weak pairs', () => {
    // Weighted: n0 = 10, n1 = 1, n2 = 18, co(0,1) = 1, co(0,2) = 9 → 0.32 vs 0.67.
    // Binary: n0 = 2, n1 = 1, n2 = 2, co = 1 each → 0.71 vs 0.5.
    const x = matrix(3, [[0, 1], [0, 2], [2]], [[1, 1], [3, 3], [3]]);
    const weighted = itemNeighbours(x, { k: 2, shrink: 0 });
    expect(listOf(weighted, 0)).toEqual([2, 1]);
    expect(neighboursOf(weighted, 0).scores[0]).toBeCloseTo(9 / Math.sqrt(180), 6);
    const bin = itemNeighbours(x, { k: 2, shrink: 0, binary: true });
    expect(listOf(bin, 0)).toEqual([1, 2]);
    expect(neighboursOf(bin, 0).scores[1]).toBeCloseTo(0.5, 6);
    expect(listOf(itemNeighbours(x, { k: 2, shrink: 0, binary: true, minScore: 0.6 }), 0)).toEqual([1]);
  });

  it('ignores zero-valued entries and rejects negative ones', () => {
    const x = matrix(
      3,
      [
        [0, 1, 2],
        [0, 1],
      ],
      [
        [1, 1, 0],
        [1, 1],
      ],
    );
    const lists = itemNeighbours(x, { k: 2, shrink: 0 });
    expect(listOf(lists, 0)).toEqual([1]);
    expect(listOf(lists, 2)).toEqual([]);
    expect(() => itemNeighbours(matrix(2, [[0, 1]], [[1, -1]]))).toThrow(RangeError);
  });

  it('rejects bad options', () => {
    const x = matrix(2, [[0, 1]]);
    expect(() => itemNeighbours(x, { alpha: 1.5 })).toThrow(RangeError);
    expect(() => itemNeighbours(x, { shrink: -1 })).toThrow(RangeError);
    expect(() => itemNeighbours(x, { maxUserItems: 1 })).toThrow(RangeError);
  });
});

describe('capRowLength', () => {
  const rng = createRng(3);
  const rows: number[][] = [];
  for (let u = 0; u < 5; u++) {
    const len = u === 2 ? 900 : u === 4 ? 600 : 20;
    const set = new Set<number>();
    while (set.size < len) set.add(rng.int(1000));
    rows.push([...set]);
  }
  const x = matrix(1000, rows);

  it('samples long rows down to max entries of the original, columns ascending, short rows untouched', () => {
    const capped = capRowLength(x, 500, 1);
    for (let u = 0; u < 5; u++) {
      const got = Array.from(rowIndices(capped, u));
      const orig = new Set(rowIndices(x, u));
      expect(got.length).toBe(Math.min(500, orig.size));
      for (let p = 1; p < got.length; p++) expect(got[p]).toBeGreaterThan(got[p - 1]!);
      for (const c of got) expect(orig.has(c)).toBe(true);
      if (orig.size <= 500) expect(got).toEqual(Array.from(rowIndices(x, u)));
    }
    expect(capRowLength(x, 1000, 1)).toBe(x);
  });

  it('is deterministic for a seed and changes with it', () => {
    const a = capRowLength(x, 500, 1);
    const b = capRowLength(x, 500, 1);
    const c = capRowLength(x, 500, 2);
    expect(a.indices).toEqual(b.indices);
    expect(Array.from(rowIndices(c, 2))).not.toEqual(Array.from(rowIndices(a, 2)));
    // itemNeighbours caps with the same sample.
    expect(itemNeighbours(x, { k: 5, maxUserItems: 500, seed: 1 })).toEqual(
      itemNeighbours(capRowLength(x, 500, 1), { k: 5, maxUserItems: 10_000 }),
    );
  });
});

describe('TopKSelector', () => {
  it('keeps the best k by float32 score then index, padding the rest', () => {
    const sel = new TopKSelector(3);
    for (const [i, s] of [
      [5, 0.5],
      [2, 0.9],
      [7, 0.5],
      [1, 0.5],
      [3, Number.NaN],
      [4, 0.1],
    ] as const)
      sel.push(i, s);
    const idx = new Int32Array(5).fill(9);
    const sc = new Float32Array(5);
    expect(sel.writeInto(idx, sc, 1)).toBe(3);
    expect(Array.from(idx)).toEqual([9, 2, 1, 5, 9]);
    expect(Array.from(sc.subarray(1, 4))).toEqual([Math.fround(0.9), 0.5, 0.5]);
    sel.reset();
    sel.push(8, 1);
    expect(sel.writeInto(idx, sc, 0)).toBe(1);
    expect(Array.from(idx.subarray(0, 3))).toEqual([8, -1, -1]);
  });
});
