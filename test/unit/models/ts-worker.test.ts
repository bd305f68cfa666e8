import { describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import { ridgeColumns } from '../../../models/ridge-columns.ts';
import type { RidgeColumnsResult, RidgeTask } from '../../../models/ridge-columns.ts';
import { csrFromCoo } from '../../../models/sparse.ts';
import { startWorkerOn } from '../../../models/ts-worker.ts';

describe('startWorkerOn', () => {
  const rng = createRng(5);
  const [n, p, g] = [200, 60, 4];
  const rows = Int32Array.from({ length: n * 4 }, (_, k) => Math.floor(k / 4));
  const cols = Int32Array.from(rows, () => rng.int(p));
  const x = csrFromCoo(
    n,
    p,
    rows,
    cols,
    Float32Array.from(rows, () => 0.5 + rng.next()),
  );
  const task: RidgeTask = {
    x,
    centred: Float64Array.from({ length: n * g }, () => rng.normal()),
    g,
    options: { l2: 0.5, tolerance: 1e-6, maxIterations: 200 },
  };
  const entry = new URL('../../../models/ridge-worker.ts', import.meta.url);

  it('answers the task given at start, though this thread was busy while it loaded and replied', async () => {
    const { worker, reply } = startWorkerOn<RidgeColumnsResult>(entry, task, 'ridge worker');
    try {
      // Busy past the worker's loading and its answer: both reach this thread in one turn.
      const until = Date.now() + 2000;
      while (Date.now() < until);
      const answer = await reply;
      const here = ridgeColumns(task);
      expect(answer.w).toEqual(here.w);
      expect(answer.iterations).toBe(here.iterations);
    } finally {
      await worker.terminate();
    }
  });

  it('rejects with the worker’s failure', async () => {
    // Not a task: the worker fails on it and answers the failure.
    const bad = { ...task, x: null } as unknown as RidgeTask;
    const { worker, reply } = startWorkerOn<RidgeColumnsResult>(entry, bad, 'ridge worker');
    try {
      await expect(reply).rejects.toThrow(/ridge worker/);
    } finally {
      await worker.terminate();
    }
  });
});
