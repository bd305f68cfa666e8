/** The aggregation thread (aggregate-thread.ts): opens the store, aggregates, answers, closes. */
import { parentPort, workerData } from 'node:worker_threads';
import { replyError } from '../../models/ts-worker.ts';
import type { WorkerReply } from '../../models/ts-worker.ts';
import { openStore } from '../store/open-store.ts';
import type { DatabaseConfig } from '../store/open-store.ts';
import { aggregateFeedback } from './aggregate-feedback.ts';
import type { AggregateResult } from './aggregate-feedback.ts';

if (!parentPort) throw new Error('aggregate-worker.ts must run in a worker thread');
const port = parentPort;

/** Every failure, opening the store included, becomes the reply (a rejection here would go unseen). */
async function run(): Promise<WorkerReply<AggregateResult>> {
  try {
    const store = await openStore(workerData as DatabaseConfig);
    try {
      return { ok: true, value: await aggregateFeedback(store) };
    } finally {
      await store.close();
    }
  } catch (err) {
    return replyError(err);
  }
}

port.postMessage(await run());
