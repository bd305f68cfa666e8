/**
 * The store's long reads — the metrics API's totals, an experiment's readout and its units'
 * pre-exposure purchases — on a connection of their own in a worker thread. On SQLite a read
 * runs synchronously on the thread that asks: over a week of 500,000 visitors a day (3.5M
 * visitor-day rows) the totals took 2.1–4.9 s, and on the serving thread no request is answered
 * meanwhile. PostgreSQL reads over the network and needs none of this (create-shelf.ts uses it
 * for SQLite only).
 */
import type { Worker } from 'node:worker_threads';
import { askWorker, startLoadedWorker } from '../../models/ts-worker.ts';
import type { DatabaseConfig } from './open-store.ts';
import type { FeedbackQuery, FeedbackTotals, PreExposure, Store, UnitTotals } from './types.ts';

/** The reads that may run long. */
export type LongReads = Pick<Store, 'feedbackTotals' | 'unitTotals' | 'preExposure'>;

export type ReadRequest =
  | { method: 'feedbackTotals'; query: FeedbackQuery }
  | { method: 'unitTotals'; configs: readonly string[] }
  | { method: 'preExposure'; by: 'user' | 'session'; ids: readonly string[]; from: number; to: number };

export class ReadThread implements LongReads {
  /** One read at a time: each reply answers the request before it. */
  private turn: Promise<unknown> = Promise.resolve();
  /** Why the thread is gone (closed, or crashed): later reads fail at once, not wait forever. */
  private gone: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.once(
      'exit',
      (code) => (this.gone ??= new Error(`the store read thread exited with code ${code}`)),
    );
  }

  /** Starts the thread; resolves once it has opened the store. */
  static async start(database: DatabaseConfig): Promise<ReadThread> {
    return new ReadThread(await startLoadedWorker(new URL('./read-worker.ts', import.meta.url), database));
  }

  feedbackTotals(query: FeedbackQuery): Promise<FeedbackTotals[]> {
    return this.ask({ method: 'feedbackTotals', query });
  }

  unitTotals(configs: readonly string[]): Promise<UnitTotals[]> {
    return this.ask({ method: 'unitTotals', configs });
  }

  preExposure(
    by: 'user' | 'session',
    ids: readonly string[],
    from: number,
    to: number,
  ): Promise<PreExposure[]> {
    return this.ask({ method: 'preExposure', by, ids, from, to });
  }

  async close(): Promise<void> {
    await this.turn.catch(() => undefined);
    await this.worker.terminate();
  }

  private ask<T>(request: ReadRequest): Promise<T> {
    const run = () =>
      this.gone
        ? Promise.reject(this.gone)
        : askWorker<T>(this.worker, request, `the store read ${request.method}`);
    const next = this.turn.then(run, run);
    this.turn = next.catch(() => undefined);
    return next;
  }
}
