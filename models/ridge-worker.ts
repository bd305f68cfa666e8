/**
 * Worker thread of ridge-columns.ts: answers once loaded (ts-worker.ts `startLoadedWorker`),
 * then solves one group of target columns (a {@link RidgeTask} message) and answers with it.
 */
import { parentPort } from 'node:worker_threads';
import { ridgeColumns } from './ridge-columns.ts';
import type { RidgeTask } from './ridge-columns.ts';
import { replyError } from './ts-worker.ts';

const port = parentPort;
if (!port) throw new Error('ridge-worker.ts must run in a worker thread');
port.once('message', (task: RidgeTask) => {
  try {
    port.postMessage({ ok: true, value: ridgeColumns(task) });
  } catch (err) {
    port.postMessage(replyError(err));
  }
});
port.postMessage({ ok: true, value: null });
