/**
 * Worker thread of ridge-columns.ts: solves one group of target columns (workerData, a
 * {@link RidgeTask}) and posts `{ ok, result }` once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ridgeColumns } from './ridge-columns.ts';
import type { RidgeTask } from './ridge-columns.ts';

if (!parentPort) throw new Error('ridge-worker.ts must run in a worker thread');
try {
  parentPort.postMessage({ ok: true, result: ridgeColumns(workerData as RidgeTask) });
} catch (err) {
  parentPort.postMessage({
    ok: false,
    error: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
}
