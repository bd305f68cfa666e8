/**
 * The store's long reads — the metrics API's totals, an experiment's readout and its units'
 * pre-exposure purchases — on a connection of their own in a worker thread. On SQLite a read
 * runs synchronously on the thread that asks: over a week of 500,000 visitors a day (3.5M
 * visitor-day rows) the totals took 2.1–4.9 s, and on the serving thread no request is answered
 * meanwhile. PostgreSQL reads over the network and needs none of this (create-shelf.ts uses it
 * for SQLite only). The thread starts at the first read: a replica nobody asks for metrics
 * never pays its start (~0.2 s) or its memory (~30 MB).
 */
import type { Worker } from 'node:worker_threads';
import { askWorker, startLoadedWorker } from '../../models/ts-worker.ts';
import { Turns } from '../turns.ts';
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
  private readonly turns = new Turns();
  /** The thread, once a read has started it (it has opened the store when this resolves). */
  private worker: Promise<Worker> | null = null;
  private closed = false;
  /** Why the thread is gone (closed, or crashed): later reads fail at once, not wait forever. */
  private gone: Error | null = null;

  constructor(private readonly database: DatabaseConfig) {}

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
    this.closed = true;
    await this.turns.idle();
    const worker = await this.worker?.catch(() => null);
    await worker?.terminate();
  }

  /** The thread, started when there is none (again, should the last start have failed). */
  private started(): Promise<Worker> {
    this.worker ??= startLoadedWorker(new URL('./read-worker.ts', import.meta.url), this.database).then(
      (worker) => {
        worker.once(
          'exit',
          (code) => (this.gone ??= new Error(`the store read thread exited with code ${code}`)),
        );
        return worker;
      },
      (err: unknown) => {
        this.worker = null;
        throw err;
      },
    );
    return this.worker;
  }

  private ask<T>(request: ReadRequest): Promise<T> {
    const run = async () => {
      if (this.gone) throw this.gone;
      if (this.closed) throw new Error('the store read thread is closed');
      return askWorker<T>(await this.started(), request, `the store read ${request.method}`);
    };
    return this.turns.run(run);
  }
}
