/**
 * The suite every `Recommender` must pass (after implicit's `RecommenderBaseTestMixin`):
 * a checkerboard fixture with known answers, determinism by seed, and fold-in for an unseen
 * user. Call `describeModel(name, make)` from a test file; `make(seed)` returns an unfitted
 * model.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import type { Recommender } from '../../../models/recommender.ts';
import type { Csr } from '../../../models/sparse.ts';
import { csrFromCoo, rowIndices, rowValues } from '../../../models/sparse.ts';
import { topK } from '../../../models/top-k.ts';

/** Users and items per block of the checkerboard. */
export const BLOCK_USERS = 24;
export const BLOCK_ITEMS = 12;

/**
 * Two blocks: users [0, 24) interact with items [0, 12), users [24, 48) with items [12, 24),
 * never across. Each user misses exactly one item of its own block (`heldOut(u)`), so the
 * known answer is: with the user's own items excluded, that item ranks first and every item
 * of the other block ranks below it. Values vary (1–3) so that confidence weighting is used.
 */
export function checkerboard(): Csr {
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let u = 0; u < 2 * BLOCK_USERS; u++) {
    const block = u < BLOCK_USERS ? 0 : 1;
    for (let j = 0; j < BLOCK_ITEMS; j++) {
      const item = block * BLOCK_ITEMS + j;
      if (item === heldOut(u)) continue;
      rows.push(u);
      cols.push(item);
      vals.push(1 + ((u + j) % 3));
    }
  }
  return csrFromCoo(
    2 * BLOCK_USERS,
    2 * BLOCK_ITEMS,
    Int32Array.from(rows),
    Int32Array.from(cols),
    Float32Array.from(vals),
  );
}

/** The one item of its own block that user u has not interacted with. */
export function heldOut(u: number): number {
  const block = u < BLOCK_USERS ? 0 : 1;
  return block * BLOCK_ITEMS + (u % BLOCK_ITEMS);
}

function scores(model: Recommender, train: Csr, u: number, asUnseen = false): Float32Array {
  const out = new Float32Array(train.cols).fill(Number.NaN);
  model.scoreInto(asUnseen ? -1 : u, rowIndices(train, u), rowValues(train, u), out);
  return out;
}

function pearson(a: Float32Array, b: Float32Array): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= a.length;
  mb /= b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

export function describeModel(name: string, make: (seed: number) => Recommender): void {
  describe(`${name} (shared Recommender suite)`, () => {
    const train = checkerboard();
    let model: Recommender;
    beforeAll(async () => {
      model = make(7);
      await model.fit(train);
    });

    it('writes a finite score for every item', () => {
      for (const u of [0, BLOCK_USERS, 2 * BLOCK_USERS - 1]) {
        const s = scores(model, train, u);
        expect(s.length).toBe(train.cols);
        expect(s.every((v) => Number.isFinite(v))).toBe(true);
      }
    });

    it("ranks each user's held-out item first among items the user has not seen", () => {
      for (let u = 0; u < train.rows; u++) {
        const top = topK(scores(model, train, u), 1, rowIndices(train, u));
        expect({ user: u, top: top.indices[0] }).toEqual({ user: u, top: heldOut(u) });
      }
    });

    it('scores every item of the other block below the held-out item', () => {
      for (let u = 0; u < train.rows; u++) {
        const s = scores(model, train, u);
        const other = u < BLOCK_USERS ? BLOCK_ITEMS : 0;
        let bestOther = -Infinity;
        for (let j = 0; j < BLOCK_ITEMS; j++) bestOther = Math.max(bestOther, s[other + j]!);
        expect(s[heldOut(u)]!).toBeGreaterThan(bestOther);
      }
    });

    it('gives the same scores for the same seed', async () => {
      const again = make(7);
      await again.fit(train);
      for (const u of [0, 5, BLOCK_USERS + 3])
        expect(scores(again, train, u)).toEqual(scores(model, train, u));
    });

    it('scores an unseen user (-1) like the known user with the same items', () => {
      for (const u of [1, BLOCK_USERS + 2, 2 * BLOCK_USERS - 1]) {
        const known = scores(model, train, u);
        const unseen = scores(model, train, u, true);
        expect(unseen.every((v) => Number.isFinite(v))).toBe(true);
        expect(pearson(known, unseen)).toBeGreaterThan(0.95);
        const exclude = rowIndices(train, u);
        expect(topK(unseen, 1, exclude).indices[0]).toBe(heldOut(u));
      }
    });
  });
}
