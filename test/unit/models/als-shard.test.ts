import { describe, expect, it } from 'vitest';
import { AlsModel } from '../../../models/als.ts';
import type { AlsOptions } from '../../../models/als.ts';
import { InProcessSideSolver, shardBounds } from '../../../models/als-shard.ts';
import type { AlsSideProblem, AlsSideSolver } from '../../../models/als-shard.ts';
import { powerLawInteractions } from '../../../training/datasets/synthetic-interactions.ts';
import { bitDifferences, sameBits } from '../../helpers/same-bits.ts';

// Most users have < 10 entries (Woodbury rows at f = 16), a few have 100+ (CG rows).
const train = powerLawInteractions({ users: 500, items: 100, interactions: 6000, seed: 11 });

async function fit(options: AlsOptions): Promise<AlsModel> {
  const model = new AlsModel({ factors: 16, iterations: 5, seed: 3, workers: 1, ...options });
  await model.fit(train);
  return model;
}

describe('sharded ALS half-steps (models/als-shard.ts)', () => {
  const cases: [string, AlsOptions][] = [
    ['CG and Woodbury, SIMD', {}],
    ['CG and Woodbury, JS kernels', { simd: false }],
    ['CG only, f = 6 (JS kernels)', { factors: 6, woodbury: false }],
    ['Cholesky and Woodbury, SIMD', { solver: 'cholesky' }],
  ];
  for (const [name, options] of cases) {
    it(`gives bit-identical factors in 1, 3 and 7 shards as the fit's own solve: ${name}`, async () => {
      const plain = await fit(options);
      for (const shards of [1, 3, 7]) {
        const sharded = await fit({ ...options, sideSolver: new InProcessSideSolver(shards) });
        expect(bitDifferences(sharded.userFactors, plain.userFactors)).toEqual(
          sameBits(plain.userFactors.length),
        );
        expect(bitDifferences(sharded.itemFactors, plain.itemFactors)).toEqual(
          sameBits(plain.itemFactors.length),
        );
      }
    });
  }

  it('hands the solver every half-step in order, with the Woodbury Z only when planned', async () => {
    const seen: string[] = [];
    const inner = new InProcessSideSolver(2);
    const spy: AlsSideSolver = {
      begin: ({ users, items }) => {
        seen.push(`begin ${users.rows}×${items.rows}`);
        return Promise.resolve();
      },
      solveSide: (p: AlsSideProblem) => {
        seen.push(`${p.iteration} ${p.side} ${p.projected ? 'Z' : '-'}`);
        expect(p.solved.length).toBe(p.matrix.rows * p.kernel.factors);
        expect(p.other.length).toBe(p.matrix.cols * p.kernel.factors);
        return inner.solveSide(p);
      },
      end: () => {
        seen.push('end');
        return Promise.resolve();
      },
    };
    await fit({ iterations: 2, sideSolver: spy, woodbury: false });
    expect(seen).toEqual(['begin 500×100', '1 users -', '1 items -', '2 users -', '2 items -', 'end']);
    // With Woodbury on, the short user rows (most of them) take Z = Y B⁻¹ from the fit.
    seen.length = 0;
    await fit({ iterations: 1, sideSolver: spy });
    expect(seen).toContain('1 users Z');
  });

  it('splits rows into contiguous shards of about equal cost, long rows first', () => {
    // Row lengths 100, 1, 1, …: the first shard holds the long row alone.
    const lengths = [100, ...Array.from({ length: 99 }, () => 1)];
    const indptr = new Int32Array(lengths.length + 1);
    lengths.forEach((l, r) => (indptr[r + 1] = indptr[r]! + l));
    const bounds = shardBounds(indptr, 4, 1);
    expect(bounds[0]).toBe(0);
    expect(bounds[bounds.length - 1]).toBe(100);
    expect(bounds[1]).toBe(1);
    for (let s = 1; s < bounds.length; s++) expect(bounds[s]!).toBeGreaterThan(bounds[s - 1]!);
    expect(shardBounds(new Int32Array([0, 2]), 8, 4)).toEqual([0, 1]);
    expect(shardBounds(new Int32Array([0]), 3, 4)).toEqual([0]);
    expect(() => shardBounds(indptr, 0, 1)).toThrow(RangeError);
  });
});
