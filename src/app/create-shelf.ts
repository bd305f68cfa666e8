/**
 * The composition root: the one place that picks implementations and wires them together
 * (store, registry, real-time state, engine, jobs and their processors, segments, the HTTP app).
 * `shelf start` (start-server.ts), the tests and the benchmarks all build Shelf here; libraries
 * take what they need as arguments. Pieces given in `overrides` belong to the caller, who closes
 * them; the rest are opened here and closed by `close()`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { buildApp } from '../api/app.ts';
import type { ShelfApp } from '../api/app.ts';
import { Drain } from '../api/drain.ts';
import { AuditLog, JOB_ACTOR } from '../changes/audit-log.ts';
import { ChangeFeed } from '../changes/change-feed.ts';
import { RedisSignal } from '../changes/redis-signal.ts';
import { jobChild, redisNames } from '../config.ts';
import type { ApiKey, ShelfConfig } from '../config.ts';
import { AdaptiveRouter } from '../experiments/adaptive-router.ts';
import { MemoryAllocationState, RedisAllocationState } from '../experiments/allocation-state.ts';
import { ExperimentRouter, versionsServed } from '../experiments/experiment-router.ts';
import type { ScheduleSpec } from '../jobs/schedule-spec.ts';
import { ExperimentService } from '../experiments/experiment-service.ts';
import { aggregateFeedback } from '../feedback/aggregate-feedback.ts';
import { aggregateInThread } from '../feedback/aggregate-thread.ts';
import { Attributor } from '../feedback/attributor.ts';
import { FeedbackCounters } from '../feedback/feedback-counters.ts';
import { ImpressionRecorder } from '../feedback/impression-recorder.ts';
import type { ImpressionLog } from '../feedback/impression-recorder.ts';
import { checkpointsFor, ImpressionThread } from '../feedback/impression-thread.ts';
import { BullmqJobs } from '../jobs/bullmq-jobs.ts';
import { childImportProcessor } from '../jobs/child-import.ts';
import type { JobChildSpec } from '../jobs/child-job.ts';
import { childTrainProcessor } from '../jobs/child-train.ts';
import { InlineJobs } from '../jobs/inline-jobs.ts';
import { JobSpawner } from '../jobs/job-spawner.ts';
import type { JobQueue, ScheduledJobName, ShelfJobName } from '../jobs/job-types.ts';
import { TimerSchedules } from '../jobs/schedules.ts';
import type { Schedules } from '../jobs/schedules.ts';
import { childSegmentsProcessor, segmentsProcessor } from '../jobs/segments-processor.ts';
import { promoteThroughGate, trainProcessor } from '../jobs/train-processor.ts';
import type { TrainProcessorOptions } from '../jobs/train-processor.ts';
import { MemoryRealtime } from '../realtime/memory-realtime.ts';
import { RedisRealtime } from '../realtime/redis-realtime.ts';
import type { RealtimeState } from '../realtime/types.ts';
import { connectRedis } from './redis-connection.ts';
import { eraseFromVersions } from '../registry/erase-users.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { SegmentCache } from '../segments/segment-cache.ts';
import { SegmentReports } from '../segments/segment-reports.ts';
import { SharedSegmentReport } from '../segments/shared-segment-report.ts';
import { Engine } from '../serving/engine.ts';
import type { EngineOptions } from '../serving/engine.ts';
import { SEGMENT_TRENDING } from '../serving/trending-state.ts';
import { openStore } from '../store/open-store.ts';
import { ReadThread } from '../store/read-thread.ts';
import type { LongReads } from '../store/read-thread.ts';
import type { Store } from '../store/types.ts';
import { storeKeys } from './generated-keys.ts';

export type { ShelfJobName };

/** How long a version that failed to load waits before the version check tries it again. */
const VERSION_RETRY_MS = 60_000;
/** How often a deletion of real-time state that Redis did not answer is tried again, ms. */
const REALTIME_RETRY_MS = 5000;

/** Pieces to use instead of the configured ones (tests: an in-memory store, a clock, a trained registry). */
export interface ShelfOverrides {
  /** Instead of opening `config.database`. */
  store?: Store;
  /** Instead of `<config.dataDir>/models`. */
  registry?: ModelRegistry;
  /** Instead of Redis (with `config.redis` or `redis`) or memory. */
  realtime?: RealtimeState;
  /** Instead of connecting to `config.redis.url`: rate-limit counters and real-time state. */
  redis?: Redis;
  /** The clock of the engine and the segments job. @defaultValue Date.now */
  now?: () => number;
  /** The train job's recipe and seed (training/publish.ts defaults). */
  train?: Pick<TrainProcessorOptions, 'recipe' | 'seed'>;
}

export interface Shelf {
  app: ShelfApp;
  engine: Engine;
  store: Store;
  registry: ModelRegistry;
  /** What every replica applies (items, users, versions); the engine listens. */
  changes: ChangeFeed;
  audit: AuditLog;
  /** Experiments: definitions, lifecycle, results; and the assignment serving reads. */
  experiments: ExperimentService;
  experimentRouter: ExperimentRouter;
  /** Bandit and exploration arms of the adaptive tiers (`config.adaptive`); `refresh` on a timer. */
  adaptive: AdaptiveRouter;
  /**
   * This process's own runner: the API's jobs in embedded mode; with Redis only the work of
   * start-up (the first version, this replica's first segment report).
   */
  jobs: InlineJobs<ShelfJobName>;
  /** Where the API queues jobs: `jobs` embedded, the BullMQ queue (run by `shelf worker`) with Redis. */
  queue: JobQueue<ShelfJobName>;
  /** The BullMQ queue with Redis (null embedded). */
  bullmq: BullmqJobs | null;
  /** The jobs' schedules: BullMQ job schedulers with Redis, else timers (`start()` arms them). */
  schedules: Schedules & { start?(): unknown; stop?(): void };
  segments: SegmentReports;
  /** Every list served goes here, then to the store in batches. */
  impressions: ImpressionLog;
  /** Credits stored events to the lists that showed their items. */
  attributor: Attributor;
  /** The keys the app accepts: the configured ones, or two generated for this run. */
  apiKeys: readonly ApiKey[];
  /** True when the keys were generated for this run (none configured). */
  generatedKeys: boolean;
  /** Closes the app, waits for queued jobs, and closes what was opened here. */
  close(): Promise<void>;
  /**
   * Graceful shutdown within `boundMs`: not ready at once, new requests answered 503, requests in
   * flight and a running job given the bound (a job still running then is left, to be run again),
   * then `close()`.
   */
  drain(boundMs: number): Promise<void>;
}

/** The serving engine: the one `new Engine` of the code base (benchmarks make theirs here too). */
export function createEngine(o: EngineOptions): Engine {
  return new Engine(o);
}

/**
 * Builds every piece of Shelf from `config` and loads the registry's current version (none yet:
 * trending only). Nothing listens and no job runs until asked.
 */
export async function createShelf(
  config: Readonly<ShelfConfig>,
  log: Logger,
  overrides: ShelfOverrides = {},
): Promise<Shelf> {
  // Training runs in a child process when it can open the same store and data dir (they came
  // from the config), so the API keeps answering; in this process otherwise (tests' in-memory
  // stores, a recipe given in code).
  const inProcess = overrides.store || overrides.registry || overrides.train;
  // The writer thread opens the configured store itself: not for a store handed in (tests).
  const threaded = config.impressionWriter === 'thread' && !overrides.store;
  const store =
    overrides.store ??
    (await openStore(threaded ? checkpointsFor(config.database, 'serving') : config.database));
  const ownRedis =
    !overrides.redis && config.redis
      ? await connectRedis(config.redis.url, log).catch(async (err: unknown) => {
          if (!overrides.store) await store.close();
          throw err;
        })
      : null;
  const redis = overrides.redis ?? ownRedis;
  const names = redisNames(config.jobs.prefix);
  let feed: ChangeFeed | null = null;
  let bullmqRef: BullmqJobs | null = null;
  let inlineRef: InlineJobs<ShelfJobName> | null = null;
  const counters = new FeedbackCounters();
  let impressionsRef: ImpressionLog | null = null;
  let attributorRef: Attributor | null = null;
  let readThread: ReadThread | null = null;
  let versionCheck: NodeJS.Timeout | null = null;
  let realtimeBack: (() => void) | null = null;
  let deletesRetry: NodeJS.Timeout | null = null;
  const closeOwned = async () => {
    if (versionCheck) clearInterval(versionCheck);
    if (deletesRetry) clearInterval(deletesRetry);
    if (realtimeBack) redis?.off('ready', realtimeBack);
    // The impressions held are written before the store closes (drain and close alike).
    await impressionsRef?.close();
    await attributorRef?.close();
    await feed?.close();
    await bullmqRef?.close();
    await readThread?.close();
    if (!overrides.store) await store.close();
    await ownRedis?.quit();
    await spawner?.close();
  };
  // Embedded, the job children are this process's: a helper started now, while this process is
  // small, starts them (job-spawner.ts). With Redis, workers run the jobs.
  const spawner = !inProcess && !config.redis ? JobSpawner.start() : null;
  const child: JobChildSpec = { ...jobChild(config), ...(spawner ? { spawner } : {}) };
  try {
    const capacity = config.impressionBuffer;
    const impressions: ImpressionLog = threaded
      ? await ImpressionThread.start({ database: config.database, log, counters, capacity })
      : new ImpressionRecorder({ store, log, counters, capacity }).start();
    impressionsRef = impressions;
    // SQLite's long reads (metrics, experiment readouts) on a connection in a thread of their own,
    // started by the first of them.
    readThread =
      !overrides.store && config.database.kind === 'sqlite' ? new ReadThread(config.database) : null;
    const reads: LongReads = readThread ?? store;
    const registry = overrides.registry ?? new ModelRegistry(config.modelsDir);
    const realtime =
      overrides.realtime ??
      (redis
        ? new RedisRealtime(redis, { rotation: config.rotation, prefix: names.realtime })
        : new MemoryRealtime({ rotation: config.rotation }));
    const engine = createEngine({
      store,
      realtime,
      registry,
      log,
      answerCache: config.answerCache,
      ...(config.impressionWriter !== 'off' ? { onImpression: impressions.record } : {}),
      ...(overrides.now ? { now: overrides.now } : {}),
    });
    const changes = new ChangeFeed({
      store,
      signal: redis ? new RedisSignal(redis, names.changes) : null,
      pollMs: config.feedPollMs,
      retainMs: config.changeLogRetainMs,
      log,
      ...(overrides.now ? { now: overrides.now } : {}),
    });
    changes.on((c) => engine.applyChanges(c));
    // Segments: counts for reports, the threshold the profile route classifies with, and the
    // lists visitors without history get.
    const segments = new SegmentReports({
      store,
      trending: SEGMENT_TRENDING,
      ...(overrides.now ? { now: overrides.now } : {}),
      onReport: (report) => engine.setSegmentTrending(report.trending),
    });
    // Experiment audiences: a visitor's segment, remembered a while.
    const segmentCache = new SegmentCache({
      reports: segments,
      store,
      ...(overrides.now ? { now: overrides.now } : {}),
    });
    // Every replica serves the experiments the store holds, reloaded on each experiment change,
    // with the model versions their variants name loaded first.
    const experimentRouter = new ExperimentRouter({
      segmentOf: (u) => segmentCache.of(u),
      defaultsOf: (tier, version) => engine.defaultConfig(tier, version),
    });
    const loadExperiments = async () => {
      const all = await store.experiments();
      await engine.serveBeside(versionsServed(all));
      experimentRouter.load(all);
    };
    changes.on(async (c) => {
      for (const x of c) {
        if (x.kind === 'users') for (const u of x.userIds) segmentCache.forget(u);
        else if (x.kind === 'erased') segmentCache.forget(x.userId);
      }
      if (!c.some((x) => x.kind === 'experiment')) return;
      try {
        await loadExperiments();
      } catch (err) {
        log.error({ err }, 'reloading experiments failed');
      }
    });
    // The merchandising rules (pins, boosts) every replica serves: the stored ones, read at start
    // and again whenever a replica replaces them (PUT /v1/admin/rules).
    const loadRules = async () => {
      const stored = await store.merchantRules();
      if (stored) engine.setMerchantRules(stored.rules);
    };
    changes.on(async (c) => {
      if (!c.some((x) => x.kind === 'rules')) return;
      try {
        await loadRules();
      } catch (err) {
        log.error({ err }, 'reloading the merchandising rules failed');
      }
    });
    feed = changes;
    const adaptive = new AdaptiveRouter({
      config: config.adaptive,
      state: redis ? new RedisAllocationState(redis, names.allocation) : new MemoryAllocationState(),
      store: reads,
      log,
      ...(overrides.now ? { now: overrides.now } : {}),
    });
    const audit = new AuditLog(store, overrides.now);
    const experiments = new ExperimentService({
      store,
      reads,
      changes,
      audit,
      versions: () => registry.versions(),
      currentVersion: () => registry.current(),
      ...(overrides.now ? { now: overrides.now } : {}),
    });
    const train = inProcess
      ? trainProcessor({
          store,
          registry,
          log,
          makeEngine: createEngine,
          keepVersions: config.modelVersionsKept,
          ...overrides.train,
        })
      : childTrainProcessor(child);
    const jobs = new InlineJobs<ShelfJobName>(
      {
        // A version the job promotes reaches every replica through the feed (the child publishes
        // and audits its own).
        train: async (ctx) => {
          const verdict = await train(ctx);
          if (verdict.promoted && inProcess) {
            const version = await registry.current();
            await audit.record(JOB_ACTOR, 'model.promote', version, { candidate: verdict.candidate });
            await changes.publish([{ kind: 'version', version }]);
          }
          return verdict;
        },
        // The store's reads and the classification of every user in a child process, too.
        segments:
          inProcess || overrides.now ? segmentsProcessor(segments) : childSegmentsProcessor(segments, child),
        // The database's summing in a thread of its own, off the event loop that answers requests.
        'aggregate-feedback': () =>
          inProcess ? aggregateFeedback(store) : aggregateInThread(config.database),
        import: childImportProcessor(child),
      },
      { retry: { attempts: config.jobs.attempts, backoffMs: config.jobs.backoffMs } },
    );
    inlineRef = jobs;
    // With Redis the API queues on BullMQ; `shelf worker` processes run the jobs and schedules.
    const bullmq = config.redis
      ? new BullmqJobs({
          url: config.redis.url,
          prefix: config.jobs.prefix,
          retry: { attempts: config.jobs.attempts, backoffMs: config.jobs.backoffMs },
          log,
        })
      : null;
    bullmqRef = bullmq;
    const queue: JobQueue<ShelfJobName> = bullmq ?? jobs;
    const schedules: Shelf['schedules'] = bullmq ?? new TimerSchedules(scheduleSpecs(config), jobs, log);
    // A report a worker computed reaches this replica through the feed; the report is in Redis.
    const shared = redis && bullmq ? new SharedSegmentReport(redis, names.segmentReport) : null;
    if (shared)
      changes.on(async (c) => {
        if (!c.some((x) => x.kind === 'segments')) return;
        try {
          const report = await shared.load();
          if (report) segments.accept(report);
        } catch (err) {
          log.error({ err }, 'loading the shared segment report failed');
        }
      });
    const attributor = new Attributor({
      store,
      windows: config.attributionWindowMs,
      clockSkewMs: config.attributionSkewMs,
      settle: () => impressions.flush(),
      counters,
      // Replicas share a PostgreSQL store: the newest list of an item may be another's, unwritten.
      awaitReplicas: config.database.kind === 'postgres',
    });
    attributorRef = attributor;
    const generatedKeys = config.apiKeys.length === 0;
    const kept = generatedKeys ? await storeKeys(store) : null;
    const apiKeys: readonly ApiKey[] = kept
      ? [
          { role: 'storefront', key: kept.storefront },
          { role: 'admin', key: kept.admin },
        ]
      : config.apiKeys;
    // The feed starts before the version and catalogue are read, so a change made meanwhile is
    // applied after them rather than lost.
    await changes.start();
    await loadRules();
    await engine.swap();
    if (redis) {
      // Redis back after a blip (ioredis says `ready` at every reconnection): see Visitors.realtimeBack.
      realtimeBack = () =>
        void engine
          .realtimeBack()
          .catch((err: unknown) => log.warn({ err }, 'catching up with the real-time state failed'));
      redis.on('ready', realtimeBack);
      deletesRetry = setInterval(() => void engine.retryRealtimeDeletes(), REALTIME_RETRY_MS).unref();
    }
    if (config.versionCheckMs > 0) {
      const check = () =>
        engine
          .followCurrent(VERSION_RETRY_MS)
          .catch((err: unknown) =>
            log.error({ err }, 'swapping in the current version failed: tried again in a minute'),
          );
      versionCheck = setInterval(() => void check(), config.versionCheckMs).unref();
    }
    // An erasure whose rewrite of the stored versions did not finish (its process died) is
    // finished here; nothing to do reads each version's user ids once.
    await eraseFromVersions(registry, new Set(await store.erasedUsers())).catch((err: unknown) =>
      log.error({ err }, 'removing erased users from the stored versions failed'),
    );
    await loadExperiments();
    await adaptive.refresh();
    const drain = new Drain();
    const app = await buildApp({
      config: {
        apiKeys,
        corsOrigins: config.corsOrigins,
        rateLimitPerMinute: config.rateLimitPerMinute,
        authFailuresPerMinute: config.authFailuresPerMinute,
        trustProxy: config.trustProxy,
        maxEventSkewMs: config.maxEventSkewMs,
      },
      engine,
      store,
      reads,
      registry,
      jobs: queue,
      schedules,
      segments,
      attributor,
      feedbackCounters: counters,
      promote: promoteThroughGate({ store, registry, log }),
      changes,
      audit,
      experiments,
      experimentRouter,
      adaptive,
      adaptiveSplit: adaptive,
      drain,
      log,
      ...(redis ? { redis: { client: redis, names } } : {}),
      ...(overrides.now ? { now: overrides.now } : {}),
    });
    let closing: Promise<void> | null = null;
    const close = (jobsDone: Promise<void> = jobs.idle()) =>
      (closing ??= (async () => {
        schedules.stop?.();
        await app.close();
        await jobsDone;
        await closeOwned();
      })());
    const shutdown = async (boundMs: number) => {
      const t0 = Date.now();
      const deadline = t0 + boundMs;
      log.info({ boundMs }, 'draining: not ready, new requests answered 503');
      await drain.start(deadline);
      log.info({ ms: Date.now() - t0 }, 'drained: no request in flight');
      const left = new Promise<void>((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref());
      await Promise.race([jobs.idle(), left]);
      // A job still running is ended (its child process too); embedded, nothing runs it again.
      const cut = jobs.stop();
      if (cut.length)
        log.warn(
          { jobs: cut.map((j) => ({ id: j.id, name: j.name, state: j.state, stage: j.progress?.stage })) },
          'jobs not finished before closing: queue them again after the restart (embedded jobs live in this process)',
        );
      await close(Promise.resolve());
      log.info({ ms: Date.now() - t0 }, 'closed');
    };
    return {
      app,
      engine,
      store,
      registry,
      changes,
      audit,
      experiments,
      experimentRouter,
      adaptive,
      jobs,
      queue,
      bullmq,
      schedules,
      segments,
      impressions,
      attributor,
      apiKeys,
      generatedKeys,
      close: () => close(),
      drain: shutdown,
    };
  } catch (err) {
    inlineRef?.stop();
    await closeOwned();
    throw err;
  }
}

/** The config's schedules by job name. */
export function scheduleSpecs(config: Readonly<ShelfConfig>): Record<ScheduledJobName, ScheduleSpec | null> {
  return {
    train: config.schedules.train,
    segments: config.schedules.segments,
    'aggregate-feedback': config.schedules.aggregate,
  };
}
