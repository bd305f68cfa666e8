import { describe, expect, it } from 'vitest';
import { AlsModel } from '../../../models/als.ts';
import { factorTopK } from '../../../models/factor-top-k.ts';
import { createRng } from '../../../models/random.ts';
import { topK } from '../../../models/top-k.ts';

interface Case {
  users: number;
  items: number;
  f: number;
  seed: number;
}

/** Seeded factors with planted exact ties: some items copy another item's row. */
function factorsOf(c: Case): { x: Float32Array; y: Float32Array } {
  const rng = createRng(c.seed);
  const x = Float32Array.from({ length: c.users * c.f }, () => rng.normal());
  const y = Float32Array.from({ length: c.items * c.f }, () => rng.normal() * 0.5);
  for (let i = 1; i < c.items; i += 7) {
    const from = rng.int(i);
    y.copyWithin(i * c.f, from * c.f, (from + 1) * c.f);
  }
  return { x, y };
}

/** Random exclusions per user row, as a CSR. */
function exclusionsOf(c: Case, rng = createRng(c.seed + 1)): { indptr: Int32Array; indices: Int32Array } {
  const indptr = new Int32Array(c.users + 1);
  const indices: number[] = [];
  for (let u = 0; u < c.users; u++) {
    const count = rng.int(Math.min(12, c.items));
    for (let j = 0; j < count; j++) indices.push(rng.int(c.items));
    indptr[u + 1] = indices.length;
  }
  return { indptr, indices: Int32Array.from(indices) };
}

/** The one-user-at-a-time reference: AlsModel.scoreInto, then topK with the user's exclusions. */
function naive(
  c: Case,
  x: Float32Array,
  y: Float32Array,
  users: Int32Array,
  k: number,
  ex?: ReturnType<typeof exclusionsOf>,
) {
  const model = AlsModel.fromFactors(x, y, c.f);
  const scores = new Float32Array(c.items);
  const empty = new Int32Array(0);
  return Array.from(users, (u) => {
    model.scoreInto(u, empty, new Float32Array(0), scores);
    const top = topK(scores, k, ex ? ex.indices.subarray(ex.indptr[u]!, ex.indptr[u + 1]!) : undefined);
    return { indices: Array.from(top.indices), scores: Array.from(top.scores) };
  });
}

describe('factorTopK', () => {
  const cases: Case[] = [
    { users: 70, items: 1037, f: 64, seed: 1 },
    { users: 9, items: 2050, f: 12, seed: 2 },
    { users: 33, items: 13, f: 5, seed: 3 },
  ];
  for (const c of cases) {
    for (const noSimd of [false, true]) {
      it(`equals the naive top-k, ties by index (${c.users}×${c.items}, f=${c.f}, ${noSimd ? 'JS' : 'SIMD'})`, () => {
        const { x, y } = factorsOf(c);
        const ex = exclusionsOf(c);
        const users = Int32Array.from({ length: c.users }, (_, t) => (t * 5) % c.users);
        for (const k of [1, 20, c.items + 3]) {
          const got = factorTopK({
            userFactors: x,
            itemFactors: y,
            factors: c.f,
            users,
            k,
            exclude: ex,
            noSimd,
          });
          const want = naive(c, x, y, users, k, ex);
          want.forEach((w, t) => {
            const len = got.lengths[t]!;
            expect(Array.from(got.indices.subarray(t * got.k, t * got.k + len))).toEqual(w.indices);
            expect(Array.from(got.scores.subarray(t * got.k, t * got.k + len))).toEqual(w.scores);
          });
        }
      });
    }
  }

  it('breaks exact ties by the lower index, also at the cut', () => {
    // Items 0..5 all score the same for the user: the lowest indices are kept, in order.
    const f = 4;
    const y = new Float32Array(6 * f).fill(0.25);
    const x = Float32Array.from([1, 2, 3, 4]);
    const got = factorTopK({ userFactors: x, itemFactors: y, factors: f, users: Int32Array.of(0), k: 3 });
    expect(Array.from(got.indices)).toEqual([0, 1, 2]);
    const excl = factorTopK({
      userFactors: x,
      itemFactors: y,
      factors: f,
      users: Int32Array.of(0),
      k: 3,
      exclude: { indptr: Int32Array.of(0, 2), indices: Int32Array.of(1, 0) },
    });
    expect(Array.from(excl.indices)).toEqual([2, 3, 4]);
  });

  it('returns shorter lists when exclusions leave fewer than k items', () => {
    const f = 4;
    const rng = createRng(9);
    const y = Float32Array.from({ length: 3 * f }, () => rng.normal());
    const got = factorTopK({
      userFactors: Float32Array.from([1, 0, 0, 0]),
      itemFactors: y,
      factors: f,
      users: Int32Array.of(0),
      k: 5,
      exclude: { indptr: Int32Array.of(0, 2), indices: Int32Array.of(0, 2) },
    });
    expect(got.k).toBe(3);
    expect(got.lengths[0]).toBe(1);
    expect(Array.from(got.indices)).toEqual([1, -1, -1]);
  });

  it('rejects a user row out of range', () => {
    expect(() =>
      factorTopK({
        userFactors: new Float32Array(4),
        itemFactors: new Float32Array(8),
        factors: 4,
        users: Int32Array.of(1),
        k: 1,
      }),
    ).toThrow(RangeError);
  });
});
