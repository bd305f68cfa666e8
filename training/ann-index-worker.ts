/**
 * Worker thread of ann-index-files.ts: answers once loaded, then builds one index (an
 * {@link AnnIndexTask} message) and answers with its files.
 */
import { parentPort } from 'node:worker_threads';
import { replyError } from '../models/ts-worker.ts';
import { annIndexFiles } from './ann-index-files.ts';
import type { AnnIndexTask } from './ann-index-files.ts';

const port = parentPort;
if (!port) throw new Error('ann-index-worker.ts must run in a worker thread');
port.once('message', (task: AnnIndexTask) => {
  annIndexFiles(task).then(
    (files) => port.postMessage({ ok: true, value: files }),
    (err: unknown) => port.postMessage(replyError(err)),
  );
});
port.postMessage({ ok: true, value: null });
