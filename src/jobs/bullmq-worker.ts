/**
 * A BullMQ worker over the Shelf queue (what `shelf worker` runs): checks each job's payload (a
 * bad one fails at once: `UnrecoverableError`), runs its processor with progress reported to
 * the job, and lets BullMQ retry a failed attempt with backoff. A worker killed outright stops
 * renewing its jobs' locks; the stalled-job check of another worker puts them back after
 * `lockMs`. `close(boundMs)` lets the jobs in hand finish within the bound, then aborts them
 * (their child processes end) and hands them back to the queue, unfailed.
 */
import { SparseWarning } from '../sparse-warning.ts';
import { UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { settlesWithin } from '../time-bound.ts';
import { PermanentJobError } from './inline-jobs.ts';
import { checkPayload, PayloadError } from './job-payloads.ts';
import type { JobProcessor, ShelfJobName } from './job-types.ts';
import { QUEUE_NAME } from './bullmq-jobs.ts';
import { workerLock } from './worker-lock.ts';

export interface ShelfWorkerOptions {
  url: string;
  prefix: string;
  /** Jobs run at once. */
  concurrency: number;
  /** Lock duration and stalled-job check interval, ms. */
  lockMs: number;
  /** A job without one fails at once. */
  processors: Readonly<Partial<Record<ShelfJobName, JobProcessor<never>>>>;
  log: Logger;
  /** Told of every finished attempt (metrics). */
  onFinished?: (name: string, seconds: number, outcome: 'completed' | 'failed') => void;
}

export class ShelfWorker {
  readonly worker: Worker;
  private handingBack = false;

  constructor(private readonly o: ShelfWorkerOptions) {
    this.worker = new Worker(QUEUE_NAME, (job, token, signal) => this.process(job, token, signal), {
      connection: { url: o.url, maxRetriesPerRequest: null },
      prefix: o.prefix,
      concurrency: o.concurrency,
      ...workerLock(o.lockMs),
    });
    this.worker.on('failed', (job, err) =>
      o.log.warn(
        { job: job?.id, name: job?.name, attempt: job?.attemptsMade, err: err.message },
        'job attempt failed',
      ),
    );
    this.worker.on('completed', (job) => o.log.info({ job: job.id, name: job.name }, 'job completed'));
    // Redis down, BullMQ says so at every reconnection attempt: once every 30 s is enough.
    const down = new SparseWarning(o.log, 'the job queue does not answer (Redis): jobs wait until it does');
    this.worker.on('error', (err) => down.say(err));
  }

  waitUntilReady(): Promise<unknown> {
    return this.worker.waitUntilReady();
  }

  private async process(
    job: Job,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    let data: unknown;
    try {
      data = checkPayload(job.name, job.data);
    } catch (err) {
      throw new UnrecoverableError((err as Error).message);
    }
    const processor = (this.o.processors as Readonly<Record<string, JobProcessor<never>>>)[job.name];
    if (!processor) throw new UnrecoverableError(`no processor for job ${job.name}`);
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    try {
      const result = await (processor as JobProcessor<unknown>)({
        id: String(job.id),
        data,
        attempt: job.attemptsStarted,
        signal: signal ?? new AbortController().signal,
        progress: (stage, percent) => {
          job
            .updateProgress({ stage, percent })
            .catch((err: unknown) => this.o.log.warn({ err }, 'progress not saved'));
        },
      });
      this.o.onFinished?.(job.name, seconds(), 'completed');
      return result;
    } catch (err) {
      if (this.handingBack && token) {
        // Shutting down: the job goes back to the queue as it was, for another worker.
        await job.moveToWait(token);
        this.o.log.warn({ job: job.id, name: job.name }, 'job handed back');
        throw new WaitingError();
      }
      this.o.onFinished?.(job.name, seconds(), 'failed');
      if (err instanceof PayloadError || err instanceof PermanentJobError)
        throw new UnrecoverableError(err.message);
      throw err;
    }
  }

  /** Stops taking jobs; those in hand get `boundMs` to finish, then go back to the queue. */
  async close(boundMs: number): Promise<void> {
    const closing = this.worker.close();
    if (!(await settlesWithin(closing, boundMs))) {
      this.handingBack = true;
      this.worker.cancelAllJobs('the worker is shutting down');
      await closing;
    }
  }
}
