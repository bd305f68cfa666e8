/**
 * Worker thread of ann-index-files.ts: answers once loaded, then builds one index (an
 * {@link AnnIndexTask} message) and answers with its files, or with a failure if a
 * {@link STOP} message ends the build first.
 */
import { parentPort } from 'node:worker_threads';
import { replyError } from '../models/ts-worker.ts';
import { annIndexFiles, STOP } from './ann-index-files.ts';
import type { AnnIndexTask } from './ann-index-files.ts';

const port = parentPort;
if (!port) throw new Error('ann-index-worker.ts must run in a worker thread');
const stop = new AbortController();
port.on('message', (message: AnnIndexTask | typeof STOP) => {
  if (message === STOP) return stop.abort(new Error('stopped'));
  annIndexFiles(message, stop.signal).then(
    (files) => port.postMessage({ ok: true, value: files }),
    (err: unknown) => port.postMessage(replyError(err)),
  );
});
port.postMessage({ ok: true, value: null });
