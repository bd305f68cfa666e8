/**
 * Worker thread of {@link AlsModel}: receives the shared buffers once (workerData), then runs
 * one range task per message and answers `{ ok, value }`. Spawned once per fit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AlsKernel } from './als-kernel.ts';
import type { AlsTask, AlsTaskReply, AlsWorkerData } from './als-tasks.ts';
import { runAlsTask } from './als-tasks.ts';
import { replyError } from './ts-worker.ts';

if (!parentPort) throw new Error('als-worker.ts must run in a worker thread');
const port = parentPort;
const data = workerData as AlsWorkerData;
const kernel = new AlsKernel(data.buffers, data.slot);

port.on('message', (task: AlsTask) => {
  let reply: AlsTaskReply;
  try {
    reply = { ok: true, value: runAlsTask(kernel, task) };
  } catch (err) {
    reply = replyError(err);
  }
  port.postMessage(reply);
});
