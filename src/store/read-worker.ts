/** The store-read thread (read-thread.ts): opens the store, says so, then answers each read in turn. */
import { parentPort, workerData } from 'node:worker_threads';
import { replyError } from '../../models/ts-worker.ts';
import type { WorkerReply } from '../../models/ts-worker.ts';
import { openStore } from './open-store.ts';
import type { DatabaseConfig } from './open-store.ts';
import type { ReadRequest } from './read-thread.ts';
import type { Store } from './types.ts';

if (!parentPort) throw new Error('read-worker.ts must run in a worker thread');
const port = parentPort;

let store: Store;
try {
  store = await openStore(workerData as DatabaseConfig);
} catch (err) {
  port.postMessage(replyError(err));
  throw err;
}

async function answer(r: ReadRequest): Promise<WorkerReply<unknown>> {
  try {
    const value =
      r.method === 'feedbackTotals'
        ? await store.feedbackTotals(r.query)
        : r.method === 'unitTotals'
          ? await store.unitTotals(r.configs)
          : await store.preExposure(r.by, r.ids, r.from, r.to);
    return { ok: true, value };
  } catch (err) {
    return replyError(err);
  }
}

port.on('message', (r: ReadRequest) => void answer(r).then((reply) => port.postMessage(reply)));
port.postMessage({ ok: true, value: null } satisfies WorkerReply<null>);
