/**
 * A BullMQ worker on the ALS shard queue (als-shard-flow.ts): runs each `als-shard` job on one
 * of its worker threads (`ThreadShardTransport.runOne`, the code the one-machine fit runs), so
 * its event loop stays free to renew the job's lock however long the shard takes; runs each
 * `als-half-step` parent by checking that its children solved every row. A worker killed
 * outright stops renewing its lock; after `lockMs` another worker's stalled-job check puts the
 * shard back and it runs again.
 */
import { UnrecoverableError, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import { checkShardSpec } from '../../training/als-shard-job.ts';
import type { AlsShardSpec } from '../../training/als-shard-job.ts';
import { ThreadShardTransport } from '../../training/als-shard-threads.ts';
import { SparseWarning } from '../sparse-warning.ts';
import { settlesWithin } from '../time-bound.ts';
import { ALS_HALF_STEP_JOB, ALS_SHARD_JOB, ALS_SHARD_QUEUE } from './als-shard-flow.ts';
import type { AlsHalfStepData } from './als-shard-flow.ts';
import { workerLock } from './worker-lock.ts';

export interface AlsShardWorkerOptions {
  url: string;
  prefix: string;
  /** The shard store's root: a directory every worker and the coordinator mount. */
  root: string;
  /** Shards run at once (one thread each). @defaultValue 1 */
  threads?: number;
  /** Lock duration and stalled-job check interval, ms. @defaultValue 30000 */
  lockMs?: number;
  log: Logger;
  /** Called as a shard starts, before it is solved (progress reports, tests). */
  onShardStart?: (spec: AlsShardSpec, job: Job) => Promise<void> | void;
}

export class AlsShardWorker {
  readonly worker: Worker;
  private readonly threads: ThreadShardTransport;

  constructor(private readonly o: AlsShardWorkerOptions) {
    const threads = o.threads ?? 1;
    this.threads = new ThreadShardTransport({ root: o.root, threads, attempts: 1 });
    const lockMs = o.lockMs ?? 30_000;
    this.worker = new Worker(ALS_SHARD_QUEUE, (job) => this.process(job), {
      connection: { url: o.url, maxRetriesPerRequest: null },
      prefix: o.prefix,
      concurrency: threads,
      ...workerLock(lockMs),
      name: `als-shard-worker-${process.pid}`,
    });
    this.worker.on('failed', (job, err) =>
      o.log.warn({ job: job?.id, attempt: job?.attemptsMade, err: err.message }, 'ALS shard attempt failed'),
    );
    const down = new SparseWarning(
      o.log,
      'the ALS shard queue does not answer (Redis): shards wait until it does',
    );
    this.worker.on('error', (err) => down.say(err));
  }

  waitUntilReady(): Promise<unknown> {
    return this.worker.waitUntilReady();
  }

  private async process(job: Job): Promise<number> {
    if (job.name === ALS_SHARD_JOB) {
      let spec: AlsShardSpec;
      try {
        spec = checkShardSpec(job.data);
      } catch (err) {
        throw new UnrecoverableError((err as Error).message);
      }
      await this.o.onShardStart?.(spec, job);
      const t0 = performance.now();
      const rows = await this.threads.runOne(spec);
      this.o.log.debug({ job: job.id, rows, seconds: (performance.now() - t0) / 1000 }, 'ALS shard solved');
      return rows;
    }
    if (job.name === ALS_HALF_STEP_JOB) {
      const data = job.data as AlsHalfStepData;
      const values = Object.values(await job.getChildrenValues<number>());
      const rows = values.reduce((n, v) => n + v, 0);
      if (values.length !== data.shards || rows !== data.rows)
        throw new UnrecoverableError(
          `half-step ${String(job.id)}: ${values.length} of ${data.shards} shards, ${rows} of ${data.rows} rows`,
        );
      return rows;
    }
    throw new UnrecoverableError(`no processor for job ${job.name} on ${ALS_SHARD_QUEUE}`);
  }

  /**
   * Stops taking shards; those in hand get `boundMs` to finish, then their threads end and
   * they fail this attempt (another worker retries them).
   */
  async close(boundMs = Number.POSITIVE_INFINITY): Promise<void> {
    const closing = this.worker.close();
    if (Number.isFinite(boundMs) && !(await settlesWithin(closing, boundMs))) await this.threads.close();
    await closing;
    await this.threads.close();
  }
}
