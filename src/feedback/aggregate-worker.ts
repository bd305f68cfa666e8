/** The aggregation thread (aggregate-thread.ts): opens the store, aggregates, answers, closes. */
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../store/open-store.ts';
import type { DatabaseConfig } from '../store/open-store.ts';
import { aggregateFeedback } from './aggregate-feedback.ts';
import type { AggregateReply } from './aggregate-thread.ts';

if (!parentPort) throw new Error('aggregate-worker.ts must run in a worker thread');
const port = parentPort;

/** Every failure, opening the store included, becomes the reply (a rejection here would go unseen). */
async function run(): Promise<AggregateReply> {
  try {
    const store = await openStore(workerData as DatabaseConfig);
    try {
      return { ok: true, result: await aggregateFeedback(store) };
    } finally {
      await store.close();
    }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

port.postMessage(await run());
