/**
 * The aggregate-feedback job in a worker thread with a store connection of its own: on SQLite
 * the database sums each chunk synchronously (0.6–0.7 s per 250,000 lists), which on the
 * serving thread would stop it answering for that long (issue #15: nothing heavy there).
 */
import type { DatabaseConfig } from '../store/open-store.ts';
import { askWorker, startTsWorker } from '../../models/ts-worker.ts';
import type { AggregateResult } from './aggregate-feedback.ts';

/** Runs one aggregation over `database` in a new thread (it answers, then ends). */
export function aggregateInThread(database: DatabaseConfig): Promise<AggregateResult> {
  const worker = startTsWorker(new URL('./aggregate-worker.ts', import.meta.url), database);
  return askWorker<AggregateResult>(worker, undefined, 'the aggregation');
}
