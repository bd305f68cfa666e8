/**
 * Sharded ALS over BullMQ: each half-step of a fit becomes one flow (FlowProducer), a parent
 * job `als-half-step` whose children are its `als-shard` jobs, on the queue
 * {@link ALS_SHARD_QUEUE}. Whichever shard workers (als-shard-worker.ts, in every `shelf worker`)
 * are free take the children; a shard whose worker dies is put back by BullMQ's stalled-job
 * check and run again (its result file is replaced whole, with the same bytes). When every child
 * has completed, a worker runs the parent, which checks the children's row counts; the
 * coordinator (the fit, in `training/sharded-als-solver.ts`) waits for the parent and reads
 * the solved rows from the shared store.
 *
 * One flow per half-step rather than per iteration: the item half-step needs the user factors
 * the user half-step solves, and a flow's children all run at once.
 */
import { FlowProducer, Queue, QueueEvents } from 'bullmq';
import type { AlsShardSpec } from '../../training/als-shard-job.ts';
import type { AlsShardTransport } from '../../training/sharded-als-solver.ts';

/** The queue of shard and half-step jobs (apart from the Shelf job queue: other processors). */
export const ALS_SHARD_QUEUE = 'shelf-als-shards';
export const ALS_SHARD_JOB = 'als-shard';
export const ALS_HALF_STEP_JOB = 'als-half-step';

/** The parent's data: what it checks its children against. */
export interface AlsHalfStepData {
  fitId: string;
  iteration: number;
  side: string;
  shards: number;
  rows: number;
}

export interface FlowShardTransportOptions {
  url: string;
  /** BullMQ's key prefix (`SHELF_QUEUE_PREFIX`), as the shard workers'. */
  prefix: string;
  /**
   * Shard workers expected to be free (only sets the default shard count). @defaultValue the
   * shard workers connected to the queue when the transport opens
   */
  parallelism?: number;
  /** Tries per shard (a failure, not a stall: stalls are BullMQ's `maxStalledCount`). @defaultValue 3 */
  attempts?: number;
  /** Longest wait for one half-step, ms. @defaultValue 1 hour */
  halfStepTimeoutMs?: number;
}

export class FlowShardTransport implements AlsShardTransport {
  readonly parallelism: number;
  private readonly flows: FlowProducer;
  private readonly events: QueueEvents;

  private constructor(
    private readonly o: FlowShardTransportOptions,
    workers: number,
  ) {
    this.parallelism = o.parallelism ?? workers;
    // The fit waits on these for as long as a half-step takes: no retry cap on requests.
    const connection = { url: o.url, maxRetriesPerRequest: null };
    this.flows = new FlowProducer({ connection, prefix: o.prefix });
    this.events = new QueueEvents(ALS_SHARD_QUEUE, { connection, prefix: o.prefix });
  }

  /**
   * Connected and listening for completions (so none is missed). Fails at once when no shard
   * worker is connected to the queue: the fit would wait for one until its timeout.
   */
  static async open(o: FlowShardTransportOptions): Promise<FlowShardTransport> {
    const queue = new Queue(ALS_SHARD_QUEUE, { connection: { url: o.url }, prefix: o.prefix });
    let workers: number;
    try {
      workers = await queue.getWorkersCount();
    } finally {
      await queue.close();
    }
    if (workers === 0)
      throw new Error(
        `no ALS shard worker is connected to ${o.prefix}:${ALS_SHARD_QUEUE} (run shelf worker with the same REDIS_URL and SHELF_QUEUE_PREFIX)`,
      );
    const t = new FlowShardTransport(o, workers);
    try {
      await Promise.all([t.flows.waitUntilReady(), t.events.waitUntilReady()]);
    } catch (err) {
      await t.close();
      throw err;
    }
    return t;
  }

  async run(specs: readonly AlsShardSpec[]): Promise<void> {
    if (specs.length === 0) return;
    const { fitId, iteration, side } = specs[0]!;
    const key = `${fitId}-${iteration}-${side}`;
    const data: AlsHalfStepData = {
      fitId,
      iteration,
      side,
      shards: specs.length,
      rows: specs.reduce((n, s) => n + s.end - s.start, 0),
    };
    const { job } = await this.flows.add({
      name: ALS_HALF_STEP_JOB,
      queueName: ALS_SHARD_QUEUE,
      data,
      opts: { jobId: key, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
      children: specs.map((spec) => ({
        name: ALS_SHARD_JOB,
        queueName: ALS_SHARD_QUEUE,
        data: spec,
        opts: {
          jobId: `${key}-${spec.start}-${spec.end}`,
          attempts: this.o.attempts ?? 3,
          backoff: { type: 'fixed', delay: 100 },
          failParentOnFailure: true,
          removeOnComplete: { count: 1000 },
          removeOnFail: { count: 1000 },
        },
      })),
    });
    await job.waitUntilFinished(this.events, this.o.halfStepTimeoutMs ?? 3_600_000);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.flows.close(), this.events.close()]);
  }
}
