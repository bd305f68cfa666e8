import { describe, expect, it } from 'vitest';
import type { InteractionLog } from '../../../training/datasets/interaction-dataset.ts';
import {
  ONLINE_RETAIL_CUTOFF,
  ONLINE_RETAIL_VALIDATION_CUTOFF,
  temporalSplit,
  trainMatrix,
  userTailSplit,
  validationSplit,
} from '../../../training/split.ts';
import type { EvalSplit } from '../../../training/split.ts';

/** [user, item, timestamp, value] rows, in the given (file) order. */
function logOf(
  rows: [number, number, number, number][],
  userCount: number,
  itemCount: number,
): InteractionLog {
  return {
    userCount,
    itemCount,
    users: Int32Array.from(rows.map((r) => r[0])),
    items: Int32Array.from(rows.map((r) => r[1])),
    timestamps: Float64Array.from(rows.map((r) => r[2])),
    values: Float32Array.from(rows.map((r) => r[3])),
  };
}

function truthOf(split: EvalSplit): Record<number, number[]> {
  const out: Record<number, number[]> = {};
  split.testUsers.forEach((row, t) => {
    out[row] = Array.from(split.truthItems.subarray(split.truthIndptr[t]!, split.truthIndptr[t + 1]!));
  });
  return out;
}

// Users A=0, B=1, C=2, D=3; items 0..4; cutoff 100.
const TEMPORAL = logOf(
  [
    [0, 1, 20, 1], // A item1 before item0 in file order (rows arrive unsorted)
    [0, 0, 10, 2],
    [0, 0, 15, 3], // A buys item0 on two lines: 2 + 3 units
    [0, 1, 110, 1], // A re-buys item1: not a discovery
    [0, 2, 120, 1], // A discovers item2 …
    [0, 2, 130, 4], // … twice: counted once
    [0, 4, 150, 1], // item4 is seen only in test: out of scope
    [0, 3, 80, 1],
    [1, 0, 50, 1],
    [1, 3, 100, 1], // exactly at the cutoff: test
    [2, 3, 30, 1],
    [2, 2, 70, 1], // C has no test interaction: not a test user
    [3, 1, 105, 1], // D has no train interaction: not a test user
  ],
  4,
  5,
);

describe('temporalSplit', () => {
  const split = temporalSplit(TEMPORAL, 100);

  it('puts interactions before the cutoff in train and at/after it in test', () => {
    expect(Array.from(split.trainRows)).toEqual([0, 1, 2, 7, 8, 10, 11]);
    expect(Array.from(split.testRows)).toEqual([3, 4, 5, 6, 9, 12]);
  });

  it('re-indexes train to users and items with a train interaction', () => {
    expect(Array.from(split.userOf)).toEqual([0, 1, 2]);
    expect(Array.from(split.rowOfUser)).toEqual([0, 1, 2, -1]);
    expect(Array.from(split.itemOf)).toEqual([0, 1, 2, 3]);
    expect(Array.from(split.colOfItem)).toEqual([0, 1, 2, 3, -1]);
  });

  it('keeps as truth only discoveries that exist in train, and only users with one', () => {
    expect(truthOf(split)).toEqual({ 0: [2], 1: [3] });
  });

  it('builds the train matrix with each weighting', () => {
    const binary = trainMatrix(TEMPORAL, split, 'binary');
    expect(Array.from(binary.indptr)).toEqual([0, 3, 4, 6]);
    expect(Array.from(binary.indices)).toEqual([0, 1, 3, 0, 2, 3]);
    expect(Array.from(binary.values)).toEqual([1, 1, 1, 1, 1, 1]);
    const lines = trainMatrix(TEMPORAL, split, 'lines');
    expect(Array.from(lines.values)).toEqual([2, 1, 1, 1, 1, 1]);
    const logq = trainMatrix(TEMPORAL, split, 'log-quantity');
    expect(logq.values[0]).toBeCloseTo(Math.log(6), 6);
    expect(logq.values[1]).toBeCloseTo(Math.log(2), 6);
  });

  it('weights by recency from the last train timestamp, per latest line', () => {
    // Train ends at t = 80; a half-life of 10 s: A item0 (latest 15) → 0.5^6.5, A item1 (20)
    // → 0.5^6, A item3 (80) → 1, B item0 (50) → 0.5^3, C item2 (70) → 0.5, C item3 (30) → 0.5^5.
    const m = trainMatrix(TEMPORAL, split, 'recency', { halfLifeDays: 10 / 86400 });
    const expected = [0.5 ** 6.5, 0.5 ** 6, 1, 0.5 ** 3, 0.5, 0.5 ** 5];
    expect(m.values.length).toBe(expected.length);
    expected.forEach((v, p) => expect(m.values[p]).toBeCloseTo(v, 6));
    expect(() => trainMatrix(TEMPORAL, split, 'recency', { halfLifeDays: 0 })).toThrow(RangeError);
    // Counted from each user's own last train time: A 80, B 50, C 70.
    const own = trainMatrix(TEMPORAL, split, 'recency', {
      halfLifeDays: 10 / 86400,
      recencyFrom: 'user-last',
    });
    [0.5 ** 6.5, 0.5 ** 6, 1, 1, 1, 0.5 ** 4].forEach((v, p) => expect(own.values[p]).toBeCloseTo(v, 6));
  });

  it('carves the validation split out of train only', () => {
    const val = validationSplit(TEMPORAL, split, { kind: 'temporal', cutoff: 100, validationCutoff: 40 });
    expect(val.log.users.length).toBe(split.trainRows.length);
    expect(Math.max(...val.log.timestamps)).toBeLessThan(100);
    // Validation train: A item1, item0 ×2; C item3 → items {0, 1, 3}. A discovers item3 at 80.
    expect(Array.from(val.split.itemOf)).toEqual([0, 1, 3]);
    expect(Array.from(val.split.userOf)).toEqual([0, 2]);
    expect(truthOf(val.split)).toEqual({ 0: [2] });
  });

  it('uses the protocol dates for online-retail', () => {
    expect(new Date(ONLINE_RETAIL_CUTOFF * 1000).toISOString()).toBe('2011-11-09T00:00:00.000Z');
    expect(new Date(ONLINE_RETAIL_VALIDATION_CUTOFF * 1000).toISOString()).toBe('2011-10-09T00:00:00.000Z');
  });
});

describe('userTailSplit', () => {
  const rows: [number, number, number, number][] = [
    // user 0: five interactions, the last by (time, item) is item 7 at t = 3
    [0, 0, 1, 1],
    [0, 7, 3, 1],
    [0, 1, 2, 1],
    [0, 2, 3, 1],
    [0, 5, 3, 1],
    // user 1: one interaction, all of it test → no train → not a test user
    [1, 4, 9, 1],
  ];
  // user 2: items 0..9 at t = item → last ceil(0.2 · 10) = 2 (items 8, 9) are test
  for (let i = 9; i >= 0; i--) rows.push([2, i, i, 1]);
  // user 3: items 8, 9, 4, 6, 1 at t = 0..4 → item 1 is test
  [8, 9, 4, 6, 1].forEach((item, t) => rows.push([3, item, t, 1]));
  const log = logOf(rows, 4, 10);
  const split = userTailSplit(log, 0.2);

  it('takes the last 20% (rounded up, at least 1) per user, ties broken by item', () => {
    const testPairs = Array.from(split.testRows).map((k) => [log.users[k], log.items[k]]);
    expect(testPairs).toEqual([
      [0, 7],
      [1, 4],
      [2, 9],
      [2, 8],
      [3, 1],
    ]);
  });

  it('keeps test items that exist in train as truth', () => {
    expect(Array.from(split.userOf)).toEqual([0, 2, 3]);
    expect(truthOf(split)).toEqual({ 0: [7], 1: [8, 9], 2: [1] });
  });

  it('applies the same rule again inside train for validation', () => {
    const val = validationSplit(log, split, { kind: 'user-tail', fraction: 0.2 });
    // user 0 train (0,1,2,5) → item 5 held out; user 2 train 0..7 → 6, 7 held out (only in
    // user 2's history, so not in validation train); user 3 train 8, 9, 4, 6 → 6 held out.
    expect(Array.from(val.split.itemOf)).toEqual([0, 1, 2, 3, 4, 5, 8, 9]);
    expect(truthOf(val.split)).toEqual({ 0: [5] });
  });

  it('rejects a fraction outside (0, 1)', () => {
    expect(() => userTailSplit(log, 1)).toThrow(RangeError);
  });
});
