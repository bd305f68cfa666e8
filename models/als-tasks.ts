/**
 * The unit of parallel work in {@link AlsModel}: one phase's share for one thread, run either
 * in-process or in a worker thread — a contiguous range for the Gram and projection phases,
 * chunks claimed from a shared cursor for the solve phase (row costs vary by orders of
 * magnitude in power-law data). Every phase writes disjoint rows (or Gram blocks) of shared
 * buffers, so the result does not depend on how the work is spread over threads.
 */
import type { Worker } from 'node:worker_threads';
import type { AlsBuffers, AlsKernel, AlsSide, SolvePlan } from './als-kernel.ts';
import { askWorker, startTsWorker } from './ts-worker.ts';
import type { WorkerReply } from './ts-worker.ts';

export type AlsTask =
  | { op: 'gram'; side: AlsSide; start: number; end: number }
  | { op: 'project'; side: AlsSide; start: number; end: number }
  | { op: 'solve'; side: AlsSide; end: number; chunk: number; plan: SolvePlan }
  | { op: 'loss'; start: number; end: number };

/** What each worker receives once: the shared buffers and its own scratch slot. */
export interface AlsWorkerData {
  buffers: AlsBuffers;
  slot: number;
}

export type AlsTaskReply = WorkerReply<number>;

export function runAlsTask(kernel: AlsKernel, task: AlsTask): number {
  switch (task.op) {
    case 'gram':
      kernel.gramRange(task.side, task.start, task.end);
      return 0;
    case 'project':
      kernel.projectRange(task.side, task.start, task.end);
      return 0;
    case 'solve':
      kernel.solveClaimed(task.side, task.end, task.chunk, task.plan);
      return 0;
    case 'loss':
      return kernel.lossRange(task.start, task.end);
  }
}

/** Runs a batch of tasks, at most one per worker, and resolves with their values in order. */
export interface AlsExecutor {
  readonly parallelism: number;
  run(tasks: AlsTask[]): Promise<number[]>;
  close(): Promise<void>;
}

export class InProcessExecutor implements AlsExecutor {
  readonly parallelism = 1;
  constructor(private readonly kernel: AlsKernel) {}
  run(tasks: AlsTask[]): Promise<number[]> {
    return Promise.resolve(tasks.map((t) => runAlsTask(this.kernel, t)));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Worker threads over shared buffers (als-worker.ts, started through ts-worker.ts). */
export class WorkerExecutor implements AlsExecutor {
  private constructor(private readonly workers: Worker[]) {}

  get parallelism(): number {
    return this.workers.length;
  }

  static async start(count: number, buffers: AlsBuffers): Promise<WorkerExecutor> {
    const entry = new URL('./als-worker.ts', import.meta.url);
    const workers: Worker[] = [];
    for (let slot = 0; slot < count; slot++)
      workers.push(startTsWorker(entry, { buffers, slot } satisfies AlsWorkerData));
    const pool = new WorkerExecutor(workers);
    try {
      // A no-op round trip: fails fast if a worker cannot start.
      await pool.run(workers.map(() => ({ op: 'gram', side: 'users', start: 0, end: 0 }) as AlsTask));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  run(tasks: AlsTask[]): Promise<number[]> {
    if (tasks.length > this.workers.length) throw new RangeError('more tasks than workers');
    return Promise.all(tasks.map((task, w) => this.send(this.workers[w]!, task)));
  }

  private send(worker: Worker, task: AlsTask): Promise<number> {
    return askWorker<number>(worker, task, 'ALS worker');
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
