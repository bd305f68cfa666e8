import { describe, it, expect } from 'vitest';
import { csrFromCoo, rowIndices, rowValues, transpose } from '../../../models/sparse.ts';
import type { Csr } from '../../../models/sparse.ts';

const i32 = (xs: number[]) => Int32Array.from(xs);
const f32 = (xs: number[]) => Float32Array.from(xs);

function dense(m: Csr): number[][] {
  const out = Array.from({ length: m.rows }, () => new Array<number>(m.cols).fill(0));
  for (let r = 0; r < m.rows; r++)
    for (let p = m.indptr[r]!; p < m.indptr[r + 1]!; p++) out[r]![m.indices[p]!]! += m.values[p]!;
  return out;
}

describe('csrFromCoo', () => {
  it('builds rows with columns ascending', () => {
    const m = csrFromCoo(3, 4, i32([2, 0, 0, 2]), i32([1, 3, 0, 0]), f32([5, 2, 1, 4]));
    expect(Array.from(m.indptr)).toEqual([0, 2, 2, 4]);
    expect(Array.from(m.indices)).toEqual([0, 3, 0, 1]);
    expect(Array.from(m.values)).toEqual([1, 2, 4, 5]);
    expect(Array.from(rowIndices(m, 2))).toEqual([0, 1]);
    expect(Array.from(rowValues(m, 2))).toEqual([4, 5]);
    expect(rowIndices(m, 1).length).toBe(0);
  });

  it('sums duplicate (row, col) pairs into one entry', () => {
    const m = csrFromCoo(2, 3, i32([0, 1, 0, 0, 1]), i32([2, 0, 2, 1, 0]), f32([1, 2, 3, 4, 5]));
    expect(Array.from(m.indptr)).toEqual([0, 2, 3]);
    expect(Array.from(m.indices)).toEqual([1, 2, 0]);
    expect(Array.from(m.values)).toEqual([4, 4, 7]);
  });

  // Regression (fixed in 169a6d2): after an earlier row's duplicates, compaction wrote over
  // entries of the current row not yet read in sorted order: row 1 came out [0, 1] (4, 10).
  it('keeps a later row intact when an earlier row had duplicates', () => {
    const m = csrFromCoo(2, 5, i32([0, 0, 1, 1, 1]), i32([4, 4, 2, 0, 1]), f32([1, 1, 3, 4, 5]));
    expect(Array.from(m.indptr)).toEqual([0, 1, 4]);
    expect(Array.from(m.indices)).toEqual([4, 0, 1, 2]);
    expect(Array.from(m.values)).toEqual([2, 4, 5, 3]);
  });

  it('throws RangeError for out-of-range or mismatched input', () => {
    expect(() => csrFromCoo(2, 2, i32([2]), i32([0]), f32([1]))).toThrow(RangeError);
    expect(() => csrFromCoo(2, 2, i32([0]), i32([-1]), f32([1]))).toThrow(RangeError);
    expect(() => csrFromCoo(2, 2, i32([0, 1]), i32([0]), f32([1]))).toThrow(RangeError);
  });
});

describe('transpose', () => {
  it('swaps rows and columns, keeps values, sorts columns', () => {
    const m = csrFromCoo(3, 4, i32([0, 0, 1, 2, 2]), i32([1, 3, 1, 0, 3]), f32([1, 2, 3, 4, 5]));
    const t = transpose(m);
    expect([t.rows, t.cols]).toEqual([4, 3]);
    expect(Array.from(t.indptr)).toEqual([0, 1, 3, 3, 5]);
    expect(Array.from(t.indices)).toEqual([2, 0, 1, 0, 2]);
    expect(Array.from(t.values)).toEqual([4, 1, 3, 2, 5]);
    const d = dense(m);
    expect(dense(t)).toEqual(d[0]!.map((_, c) => d.map((row) => row[c]!)));
  });

  it('is its own inverse', () => {
    const m = csrFromCoo(5, 6, i32([4, 0, 2, 2, 1, 4]), i32([5, 5, 0, 3, 2, 1]), f32([1, 2, 3, 4, 5, 6]));
    const tt = transpose(transpose(m));
    expect(Array.from(tt.indptr)).toEqual(Array.from(m.indptr));
    expect(Array.from(tt.indices)).toEqual(Array.from(m.indices));
    expect(Array.from(tt.values)).toEqual(Array.from(m.values));
  });
});
