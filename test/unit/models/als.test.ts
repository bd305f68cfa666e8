import { describe, it, expect } from 'vitest';
import { AlsModel } from '../../../models/als.ts';
import type { AlsOptions } from '../../../models/als.ts';
import type { Csr } from '../../../models/sparse.ts';
import { csrFromCoo, rowIndices, rowValues } from '../../../models/sparse.ts';
import { createRng } from '../../../models/random.ts';
import { cgChunkEntries } from '../../../models/als-simd.ts';
import { describeModel } from './describe-model.ts';

// λ = 1: with λ = 0.1 exact solves over-fit the 48 × 24 checkerboard (a held-out item drops).
describeModel(
  'AlsModel cg',
  (seed) => new AlsModel({ factors: 8, regularization: 1, iterations: 10, seed, workers: 1 }),
);
describeModel(
  'AlsModel cholesky',
  (seed) => new AlsModel({ factors: 8, regularization: 1, iterations: 10, seed, solver: 'cholesky' }),
);
// f = 6 is not a multiple of 4: the plain JS kernels run (float64 accumulators).
describeModel(
  'AlsModel cg, JS kernels',
  (seed) => new AlsModel({ factors: 6, regularization: 1, iterations: 10, seed, workers: 1 }),
);

/** Seeded power-law interactions: enough rows of every length for all three row solvers. */
function randomCsr(users: number, items: number, nnz: number, seed: number): Csr {
  const rng = createRng(seed);
  const r = new Int32Array(nnz);
  const c = new Int32Array(nnz);
  const v = new Float32Array(nnz);
  for (let k = 0; k < nnz; k++) {
    r[k] = Math.floor(rng.next() ** 3 * users);
    c[k] = Math.floor(rng.next() ** 1.5 * items);
    v[k] = 1 + rng.int(3);
  }
  return csrFromCoo(users, items, r, c, v);
}

async function fitted(train: Csr, options: AlsOptions): Promise<AlsModel> {
  const model = new AlsModel({ factors: 16, iterations: 8, seed: 3, workers: 1, ...options });
  await model.fit(train);
  return model;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('AlsModel', () => {
  // Most users have < 10 entries (Woodbury rows at f = 16), a few have 100+ (CG rows).
  const train = randomCsr(500, 100, 6000, 11);

  it('gives bit-identical factors with 2 worker threads and in-process', async () => {
    const one = await fitted(train, { workers: 1 });
    const two = await fitted(train, { workers: 2, parallelMinInteractions: 0 });
    expect(two.userFactors).toEqual(one.userFactors);
    expect(two.itemFactors).toEqual(one.itemFactors);
  });

  it('fits off the calling thread on one worker, whatever its size, to the same factors', async () => {
    const one = await fitted(train, { workers: 1 });
    // The calling thread's event loop runs meanwhile (an in-process fit never yields to it).
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const model = await fitted(train, { offThread: true });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    expect(model.userFactors).toEqual(one.userFactors);
    expect(model.itemFactors).toEqual(one.itemFactors);
  });

  it('solves short rows by Woodbury exactly as by an f × f Cholesky (JS and SIMD kernels)', async () => {
    // Reference: the plain JS f × f Cholesky, float64 throughout.
    const chol = await fitted(train, { solver: 'cholesky', woodbury: false, simd: false });
    const js = await fitted(train, { solver: 'cholesky', woodbury: true, simd: false });
    expect(maxAbsDiff(js.userFactors, chol.userFactors)).toBeLessThan(1e-5);
    expect(maxAbsDiff(js.itemFactors, chol.itemFactors)).toBeLessThan(1e-5);
    // SIMD: float32 dot products and Gram sums, compounded over 8 sweeps.
    const simd = await fitted(train, { solver: 'cholesky', woodbury: true, simd: true });
    expect(maxAbsDiff(simd.userFactors, chol.userFactors)).toBeLessThan(1e-3);
    expect(maxAbsDiff(simd.itemFactors, chol.itemFactors)).toBeLessThan(1e-3);
  });

  it('converges to the Cholesky solution with enough CG steps', async () => {
    const cg = await fitted(train, { cgSteps: 40, woodbury: false });
    const chol = await fitted(train, { solver: 'cholesky', woodbury: false });
    expect(cosine(cg.userFactors, chol.userFactors)).toBeGreaterThan(0.999);
    expect(cosine(cg.itemFactors, chol.itemFactors)).toBeGreaterThan(0.999);
  });

  it('runs the same CG in WebAssembly SIMD (float32) as in JS (float64), long rows included', async () => {
    // f = 32: CG passes run in chunks of 128 entries; some item rows are longer than that.
    const f = 32;
    const longest = Math.max(...Array.from({ length: train.cols }, (_, c) => countColumn(train, c)));
    expect(longest).toBeGreaterThan(cgChunkEntries(f));
    const simd = await fitted(train, { factors: f, simd: true, woodbury: false });
    const js = await fitted(train, { factors: f, simd: false, woodbury: false });
    expect(cosine(simd.userFactors, js.userFactors)).toBeGreaterThan(0.999);
    expect(cosine(simd.itemFactors, js.itemFactors)).toBeGreaterThan(0.999);
  });

  it('never increases the training loss with exact solves', async () => {
    const losses: number[] = [];
    await fitted(train, {
      solver: 'cholesky',
      iterations: 6,
      computeLoss: true,
      onIteration: ({ iteration, loss, seconds }) => {
        expect(iteration).toBe(losses.length + 1);
        expect(seconds).toBeGreaterThanOrEqual(0);
        losses.push(loss!);
      },
    });
    expect(losses).toHaveLength(6);
    for (let i = 1; i < losses.length; i++)
      expect(losses[i]!).toBeLessThanOrEqual(losses[i - 1]! * (1 + 1e-6));
    expect(losses[5]!).toBeLessThan(losses[0]!);
  });

  it('keeps lowering the loss with CG at 64 factors and large values (no float32 blow-up)', async () => {
    const heavy: Csr = { ...train, values: train.values.map((v) => v * 20) };
    const losses: number[] = [];
    await fitted(heavy, {
      factors: 64,
      iterations: 6,
      computeLoss: true,
      onIteration: (i) => losses.push(i.loss!),
    });
    expect(losses.every((l) => Number.isFinite(l))).toBe(true);
    for (let i = 1; i < losses.length; i++) expect(losses[i]!).toBeLessThan(losses[i - 1]! * 1.01);
  });

  it("folds a training user's own row into (nearly) that user's trained factor: cosine > 0.95", async () => {
    for (const solver of ['cg', 'cholesky'] as const) {
      const model = await fitted(train, { solver, iterations: 15 });
      const out = new Float32Array(model.factors);
      let checked = 0;
      for (let u = 0; u < train.rows; u += 7) {
        const items = rowIndices(train, u);
        if (items.length === 0) continue;
        model.foldIn(items, rowValues(train, u), out);
        const trained = model.userFactors.subarray(u * model.factors, (u + 1) * model.factors);
        expect(cosine(out, trained)).toBeGreaterThan(0.95);
        checked++;
      }
      expect(checked).toBeGreaterThan(20);
    }
  });

  it('gives an empty row a zero factor and zero scores', async () => {
    const m = csrFromCoo(
      3,
      4,
      Int32Array.from([0, 0, 2]),
      Int32Array.from([0, 1, 3]),
      Float32Array.from([1, 1, 1]),
    );
    const model = await fitted(m, { factors: 4 });
    expect(Array.from(model.userFactors.subarray(4, 8))).toEqual([0, 0, 0, 0]);
    const out = new Float32Array(4).fill(Number.NaN);
    model.scoreInto(1, new Int32Array(0), new Float32Array(0), out);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
    model.foldIn(new Int32Array(0), new Float32Array(0), out);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
  });

  it('reads a negative value as a confident "not this item": below no event at all', async () => {
    const model = await fitted(train, { solver: 'cholesky' });
    const items = Int32Array.from(rowIndices(train, 0));
    const weights = Float32Array.from(rowValues(train, 0));
    const target = items[0]!;
    const scoreOf = (its: Int32Array, ws: Float32Array) => {
      const out = new Float32Array(train.cols);
      model.scoreInto(-1, its, ws, out);
      return out[target]!;
    };
    const liked = scoreOf(items, weights);
    const absent = scoreOf(items.subarray(1), weights.subarray(1));
    weights[0] = -weights[0]!;
    const disliked = scoreOf(items, weights);
    // A positive event pulls the score towards 1, a negative one towards 0, harder than absence.
    expect(Math.abs(liked - 1)).toBeLessThan(0.1);
    expect(disliked).toBeLessThan(Math.min(liked, absent) - 0.2);
  });

  it('rebuilds from its factors for fold-in (AlsModel.fromFactors)', async () => {
    const model = await fitted(train, { alpha: 5, regularization: 0.2 });
    const copy = AlsModel.fromFactors(model.userFactors, model.itemFactors, 16, {
      alpha: 5,
      regularization: 0.2,
    });
    const a = new Float32Array(train.cols);
    const b = new Float32Array(train.cols);
    model.scoreInto(-1, rowIndices(train, 4), rowValues(train, 4), a);
    copy.scoreInto(-1, rowIndices(train, 4), rowValues(train, 4), b);
    expect(b).toEqual(a);
  });

  it('rejects bad input with RangeError', async () => {
    expect(() => new AlsModel({ factors: 0 })).toThrow(RangeError);
    expect(() => new AlsModel({ regularization: 0 })).toThrow(RangeError);
    expect(() => new AlsModel({ cgSteps: 0 })).toThrow(RangeError);
    const bad: Csr = { ...train, indices: train.indices.slice() };
    bad.indices[5] = train.cols;
    await expect(new AlsModel({ workers: 1 }).fit(bad)).rejects.toThrow(RangeError);
    const model = await fitted(train, {});
    expect(() => model.scoreInto(0, new Int32Array(0), new Float32Array(0), new Float32Array(3))).toThrow(
      RangeError,
    );
    expect(() =>
      model.scoreInto(train.rows, new Int32Array(0), new Float32Array(0), new Float32Array(train.cols)),
    ).toThrow(RangeError);
    expect(() =>
      model.foldIn(Int32Array.from([train.cols]), Float32Array.from([1]), new Float32Array(16)),
    ).toThrow(RangeError);
    expect(() => new AlsModel().foldIn(new Int32Array(0), new Float32Array(0), new Float32Array(64))).toThrow(
      /not fitted/,
    );
  });
});

function countColumn(m: Csr, c: number): number {
  let n = 0;
  for (let j = 0; j < m.indptr[m.rows]!; j++) if (m.indices[j] === c) n++;
  return n;
}
