import { describe, expect, it } from 'vitest';
import { dotF32, dotF32F64, dotF64 } from '../../../models/dot.ts';
import { createRng } from '../../../models/random.ts';
import { scoreRowsInto } from '../../../src/index/vector-store.ts';

/** The dot product of two rows, added one term at a time in float64. */
function naive(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ao + i]! * b[bo + i]!;
  return s;
}

describe('dot products', () => {
  const rng = createRng(11);
  const values = (n: number) => Array.from({ length: n }, () => rng.next() * 2 - 1);

  it('agree with the sum term by term for every pair of element types, at any offsets and lengths', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 65]) {
      const a = values(n + 5);
      const b = values(n + 3);
      const [a32, b32, a64, b64] = [
        new Float32Array(a),
        new Float32Array(b),
        new Float64Array(a),
        new Float64Array(b),
      ];
      const tol = 1e-12 * Math.max(1, n);
      expect(dotF32(a32, 5, b32, 3, n)).toBeCloseTo(naive(a32, 5, b32, 3, n), 12);
      expect(Math.abs(dotF64(a64, 5, b64, 3, n) - naive(a64, 5, b64, 3, n))).toBeLessThanOrEqual(tol);
      expect(Math.abs(dotF32F64(a32, 5, b64, 3, n) - naive(a32, 5, b64, 3, n))).toBeLessThanOrEqual(tol);
    }
  });

  it('dotF32 gives the index scores bit for bit (scoreRowsInto adds in the same order)', () => {
    for (const d of [1, 7, 32, 33]) {
      const rows = 9;
      const data = new Float32Array(values(rows * d));
      const q = new Float32Array(values(d));
      const picked = Int32Array.from([8, 0, 3, 5, 1, 7, 2, 6, 4]);
      const out = new Float32Array(rows);
      scoreRowsInto(data, d, q, picked, rows, out);
      for (let j = 0; j < rows; j++) expect(out[j]).toBe(Math.fround(dotF32(data, picked[j]! * d, q, 0, d)));
    }
  });
});
