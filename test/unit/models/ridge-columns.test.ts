import { describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import { ridgeByColumns, ridgeColumns } from '../../../models/ridge-columns.ts';
import { csrFromCoo } from '../../../models/sparse.ts';

describe('ridgeByColumns', () => {
  // 400 rows × 150 feature columns, ~6 features a row; 12 target columns.
  const rng = createRng(21);
  const [n, p, f] = [400, 150, 12];
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let r = 0; r < n; r++)
    for (let k = 0; k < 6; k++) {
      rows.push(r);
      cols.push(rng.int(p));
      vals.push(0.2 + rng.next());
    }
  const x = csrFromCoo(n, p, Int32Array.from(rows), Int32Array.from(cols), Float32Array.from(vals));
  const targets = Float32Array.from({ length: n * f }, () => rng.normal());
  const o = { l2: 0.5, tolerance: 1e-6, maxIterations: 500 };

  it('gives bit-identical weights when the columns are split over worker threads', async () => {
    const one = await ridgeByColumns(x, targets, f, { ...o, workers: 1 });
    const split = await ridgeByColumns(x, targets, f, { ...o, workers: 3, parallelMinWork: 0 });
    expect(one.iterations).toBeGreaterThan(1);
    expect(split.w).toEqual(one.w);
    expect(split.mean).toEqual(one.mean);
    expect(split.iterations).toBe(one.iterations);
    expect(split.residual).toBe(one.residual);
  });

  it('solves off the calling thread when asked, to the same bits', async () => {
    const here = await ridgeByColumns(x, targets, f, { ...o, workers: 1 });
    // One group: on this thread it is solved before the call returns, so the promise settles
    // before the event loop turns; on a worker thread the loop turns first.
    const order: string[] = [];
    const solving = ridgeByColumns(x, targets, f, { ...o, workers: 1, offThread: true });
    setImmediate(() => order.push('loop'));
    const away = await solving.then((r) => (order.push('solved'), r));
    expect(order).toEqual(['loop', 'solved']);
    expect(away.w).toEqual(here.w);
    expect(away.iterations).toBe(here.iterations);
    const inThread: string[] = [];
    const solved = ridgeByColumns(x, targets, f, { ...o, workers: 1 });
    setImmediate(() => inThread.push('loop'));
    await solved.then(() => inThread.push('solved'));
    expect(inThread[0]).toBe('solved');
  });

  it('solves the normal equations (XᵀX + λI) w = Xᵀ(y − b)', async () => {
    const { w, mean } = await ridgeByColumns(x, targets, f, { ...o, workers: 1 });
    // Residual of column 0 of the normal equations, relative to its right-hand side.
    const xw = new Float64Array(n);
    for (let r = 0; r < n; r++)
      for (let q = x.indptr[r]!; q < x.indptr[r + 1]!; q++) xw[r]! += x.values[q]! * w[x.indices[q]! * f]!;
    const lhs = new Float64Array(p);
    const rhs = new Float64Array(p);
    for (let r = 0; r < n; r++)
      for (let q = x.indptr[r]!; q < x.indptr[r + 1]!; q++) {
        lhs[x.indices[q]!]! += x.values[q]! * xw[r]!;
        rhs[x.indices[q]!]! += x.values[q]! * (targets[r * f]! - mean[0]!);
      }
    let num = 0;
    let den = 0;
    for (let c = 0; c < p; c++) {
      num += (lhs[c]! + o.l2 * w[c * f]! - rhs[c]!) ** 2;
      den += rhs[c]! ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-4);
  });

  it('scales the steps by the diagonal: a diagonal system of unequal columns in one step', async () => {
    // One feature a row, column c in c + 1 rows with values of its own scale: XᵀX + λI is
    // diagonal with 60 distinct entries, which plain CG took 32 steps to solve.
    const cols = 60;
    const r: number[] = [];
    const c: number[] = [];
    const v: number[] = [];
    for (let col = 0; col < cols; col++)
      for (let k = 0; k <= col; k++) {
        r.push(r.length);
        c.push(col);
        v.push(0.05 * (1 + (col % 7)) + 0.01 * k);
      }
    const d = csrFromCoo(r.length, cols, Int32Array.from(r), Int32Array.from(c), Float32Array.from(v));
    const y = Float32Array.from({ length: r.length * 2 }, () => rng.normal());
    const solved = await ridgeByColumns(d, y, 2, { l2: 0.5, tolerance: 1e-5, maxIterations: 500 });
    expect(solved.iterations).toBeLessThanOrEqual(2);
    expect(solved.residual).toBeLessThan(1e-5);
  });

  it('gives bit-identical weights from the SIMD products and the JS ones', () => {
    const centred = Float64Array.from(targets, (v, k) => v - (k % f) * 0.01);
    const task = { x, centred, g: f, options: o };
    const js = ridgeColumns({ ...task, noSimd: true });
    const simd = ridgeColumns(task);
    expect(js.iterations).toBeGreaterThan(1);
    expect(simd.w).toEqual(js.w);
    expect(simd.iterations).toBe(js.iterations);
    expect(simd.residual).toBe(js.residual);
  });
});
