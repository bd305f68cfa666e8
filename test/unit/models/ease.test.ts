import { describe, expect, it } from 'vitest';
import { EaseModel, easeLists, gramMatrix, invertSpdInPlace } from '../../../models/ease.ts';
import { describeModel } from './describe-model.ts';
import { createRng } from '../../../models/random.ts';
import { csrFromCoo } from '../../../models/sparse.ts';

/** A · B for n × n row-major matrices. */
function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) out[i * n + j]! += a[i * n + k]! * b[k * n + j]!;
  return out;
}

/** X Xᵀ + shift·I for a random 0/1 matrix X (n × r): symmetric positive definite. */
function randomSpd(n: number, r: number, shift: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const x = new Float64Array(n * r);
  for (let i = 0; i < x.length; i++) x[i] = rng.next() < 0.3 ? 1 : 0;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += x[i * r + k]! * x[j * r + k]!;
      a[i * n + j] = s + (i === j ? shift : 0);
    }
  return a;
}

describe('invertSpdInPlace', () => {
  // Sizes around the 4-wide tiles (padding) and the 64-wide blocks.
  it.each([1, 2, 3, 4, 5, 7, 63, 64, 65, 130])('inverts an SPD matrix of size %i', (n) => {
    const a = randomSpd(n, 12, 0.5, n);
    const inv = a.slice();
    invertSpdInPlace(inv, n);
    const product = multiply(a, inv, n);
    let err = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) err = Math.max(err, Math.abs(product[i * n + j]! - (i === j ? 1 : 0)));
    expect(err).toBeLessThan(1e-9);
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(inv[i * n + j]).toBe(inv[j * n + i]);
  });

  it('throws on a matrix that is not positive definite', () => {
    expect(() => invertSpdInPlace(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
    expect(() => invertSpdInPlace(new Float64Array(3), 2)).toThrow(RangeError);
  });
});

describe('EaseModel', () => {
  // users: u0 {0, 1}, u1 {0, 1, 2}, u2 {2}. XᵀX = [[2,2,1],[2,2,1],[1,1,2]]; with λ = 1,
  // P = (XᵀX + I)⁻¹ = [[8,−5,−1],[−5,8,−1],[−1,−1,5]] / 13 and B = −P / diag(P), zero diagonal:
  // B = [[0, 5/8, 1/5], [5/8, 0, 1/5], [1/8, 1/8, 0]].
  const train = csrFromCoo(
    3,
    3,
    Int32Array.from([0, 0, 1, 1, 1, 2]),
    Int32Array.from([0, 1, 0, 1, 2, 2]),
    Float32Array.from([1, 1, 1, 1, 1, 1]),
  );

  it('builds the Gram matrix of the item columns', () => {
    expect(Array.from(gramMatrix(train))).toEqual([2, 2, 1, 2, 2, 1, 1, 1, 2]);
  });

  it('fits the closed form of Steck (2019)', async () => {
    const model = new EaseModel({ lambda: 1 });
    await model.fit(train);
    const expected = [0, 5 / 8, 1 / 5, 5 / 8, 0, 1 / 5, 1 / 8, 1 / 8, 0];
    Array.from(model.weights).forEach((w, k) => expect(w).toBeCloseTo(expected[k]!, 6));
  });

  it('scores x · B with the given weights', async () => {
    const model = new EaseModel({ lambda: 1 });
    await model.fit(train);
    const out = new Float32Array(3);
    model.scoreInto(0, Int32Array.from([0, 1]), Float32Array.from([1, 1]), out);
    expect(out[2]).toBeCloseTo(2 / 5, 6);
    model.scoreInto(-1, Int32Array.from([2]), Float32Array.from([2]), out);
    expect(Array.from(out).map((v) => +v.toFixed(6))).toEqual([0.25, 0.25, 0]);
  });

  it('rejects a non-positive lambda', () => {
    expect(() => new EaseModel({ lambda: 0 })).toThrow(RangeError);
  });
});

describeModel('EaseModel', () => new EaseModel({ lambda: 10 }));

describe('easeLists', () => {
  it("keeps each row's k largest positive weights, best first, padded with −1", () => {
    const model = new EaseModel({ lambda: 1 });
    // Rows of B (3 items): 0 → [0, 0.5, 0.2]; 1 → [−0.3, 0, 0.1]; 2 → [−1, −2, 0].
    model.weights = Float32Array.from([0, 0.5, 0.2, -0.3, 0, 0.1, -1, -2, 0]);
    const lists = easeLists(model, 2);
    expect(lists.k).toBe(2);
    expect(Array.from(lists.indices)).toEqual([1, 2, 2, -1, -1, -1]);
    expect(Array.from(lists.scores)).toEqual([0.5, Math.fround(0.2), Math.fround(0.1), 0, 0, 0]);
  });
});
