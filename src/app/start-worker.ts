/**
 * `shelf worker`: runs the jobs API replicas queue on BullMQ (with `REDIS_URL`), and registers the
 * config's schedules as BullMQ job schedulers (one firing per schedule for the whole cluster,
 * however many workers run). The train and segments jobs run in child processes (child-job.ts),
 * so this process's event loop stays free to renew its job locks; a version the train job
 * promotes, and a segment report, reach every replica through the change feed. Each worker also
 * takes the shards of sharded ALS fits (`SHELF_ALS_SHARDS`; src/jobs/als-shard-worker.ts) on
 * `SHELF_ALS_SHARD_THREADS` threads of its own.
 */
import type { Logger } from 'pino';
import { ChangeFeed } from '../changes/change-feed.ts';
import { RedisSignal } from '../changes/redis-signal.ts';
import { jobChild, redisNames } from '../config.ts';
import type { ShelfConfig } from '../config.ts';
import { aggregateFeedback } from '../feedback/aggregate-feedback.ts';
import { AlsShardWorker } from '../jobs/als-shard-worker.ts';
import { alsShardRoot } from '../jobs/als-sharding.ts';
import { BullmqJobs } from '../jobs/bullmq-jobs.ts';
import { ShelfWorker } from '../jobs/bullmq-worker.ts';
import { childImportProcessor } from '../jobs/child-import.ts';
import { childTrainProcessor } from '../jobs/child-train.ts';
import { childSegmentsProcessor } from '../jobs/segments-processor.ts';
import { SharedSegmentReport } from '../segments/shared-segment-report.ts';
import { openStore } from '../store/open-store.ts';
import { scheduleSpecs } from './create-shelf.ts';
import { connectRedis } from './redis-connection.ts';

export interface RunningWorker {
  worker: ShelfWorker;
  shards: AlsShardWorker;
  queue: BullmqJobs;
  /** Stops taking jobs; those in hand get `boundMs`, then go back to the queue; closes all. */
  close(boundMs: number): Promise<void>;
}

/** Tries, 2 s apart, to check the job schedules after Redis came back. */
const RESTORE_ATTEMPTS = 5;

export async function startWorker(config: Readonly<ShelfConfig>, log: Logger): Promise<RunningWorker> {
  if (!config.redis) throw new Error('shelf worker needs REDIS_URL: embedded mode runs jobs in the server');
  const url = config.redis.url;
  const store = await openStore(config.database);
  const redis = await connectRedis(url, log).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const names = redisNames(config.jobs.prefix);
  const changes = new ChangeFeed({
    store,
    signal: new RedisSignal(redis, names.changes),
    pollMs: 0,
    log,
  });
  const shared = new SharedSegmentReport(redis, names.segmentReport);
  const retry = { attempts: config.jobs.attempts, backoffMs: config.jobs.backoffMs };
  const queue = new BullmqJobs({ url, prefix: config.jobs.prefix, retry, log });
  const child = jobChild(config);
  const worker = new ShelfWorker({
    url,
    prefix: config.jobs.prefix,
    concurrency: config.jobs.concurrency,
    lockMs: config.jobs.lockMs,
    log,
    processors: {
      // The child publishes, audits and announces the version itself.
      train: childTrainProcessor(child),
      segments: childSegmentsProcessor(
        {
          accept: async (report) => {
            await shared.save(report);
            await changes.publish([{ kind: 'segments', computedAt: report.computedAt }]);
          },
        },
        child,
      ),
      // Incremental and idempotent: a retried run finds only what no run counted yet.
      'aggregate-feedback': () => aggregateFeedback(store),
      // The file must be where this worker can read it (a shared filesystem).
      import: childImportProcessor(child),
    },
  });
  const shards = new AlsShardWorker({
    url,
    prefix: config.jobs.prefix,
    root: alsShardRoot(config),
    threads: config.alsShards.threads,
    lockMs: config.jobs.lockMs,
    log,
  });
  try {
    await worker.waitUntilReady();
    await shards.waitUntilReady();
    await queue.syncSchedules(scheduleSpecs(config));
  } catch (err) {
    await worker.close(0);
    await shards.close();
    await queue.close();
    await store.close();
    redis.disconnect();
    throw err;
  }
  // Redis back after it restarted empty (ioredis says `ready` at every reconnection): the job
  // schedulers it held are gone, and nothing would run on schedule again until a worker restarts.
  const restore = async (attempt = 1): Promise<void> => {
    try {
      const restored = await queue.restoreSchedules(scheduleSpecs(config));
      if (restored.length) log.warn({ restored }, 'Redis had lost the job schedules: added again');
    } catch (err) {
      // The queue's own connection may still be reconnecting.
      if (attempt >= RESTORE_ATTEMPTS) log.error({ err }, 'the job schedules could not be checked');
      else setTimeout(() => void restore(attempt + 1), 2000).unref();
    }
  };
  const onReady = () => void restore();
  redis.on('ready', onReady);
  log.info({ concurrency: config.jobs.concurrency, prefix: config.jobs.prefix }, 'worker ready');
  return {
    worker,
    shards,
    queue,
    async close(boundMs) {
      redis.off('ready', onReady);
      await Promise.all([worker.close(boundMs), shards.close(boundMs)]);
      await queue.close();
      await changes.close();
      await store.close();
      await redis.quit();
    },
  };
}
