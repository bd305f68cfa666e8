/**
 * The aggregate-feedback job in a worker thread with a store connection of its own: on SQLite
 * the database sums each chunk synchronously (about a second per 250,000 lists), which on the
 * serving thread would stop it answering for that long (issue #15: nothing heavy there).
 */
import type { DatabaseConfig } from '../store/open-store.ts';
import { startTsWorker } from '../../models/ts-worker.ts';
import type { AggregateResult } from './aggregate-feedback.ts';

export type AggregateReply = { ok: true; result: AggregateResult } | { ok: false; error: string };

/** Runs one aggregation over `database` in a new thread; resolves with its result. */
export function aggregateInThread(database: DatabaseConfig): Promise<AggregateResult> {
  const worker = startTsWorker(new URL('./aggregate-worker.ts', import.meta.url), database);
  return new Promise<AggregateResult>((resolve, reject) => {
    let reply: AggregateReply | null = null;
    worker.once('message', (m: AggregateReply) => (reply = m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (reply?.ok) resolve(reply.result);
      else reject(new Error(reply ? reply.error : `the aggregation thread exited with code ${code}`));
    });
  });
}
