/**
 * The composition root: the one place that picks implementations and wires them together
 * (store, registry, real-time state, engine, jobs and their processors, segments, the HTTP app).
 * `shelf start` (start-server.ts), the tests and the benchmarks all build Shelf here; libraries
 * take what they need as arguments. Pieces given in `overrides` belong to the caller, who closes
 * them; the rest are opened here and closed by `close()`.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { buildApp } from '../api/app.ts';
import type { ShelfApp } from '../api/app.ts';
import type { ApiKey, ShelfConfig } from '../config.ts';
import { InlineJobs } from '../jobs/inline-jobs.ts';
import { segmentsProcessor } from '../jobs/segments-processor.ts';
import { promoteThroughGate, trainProcessor } from '../jobs/train-processor.ts';
import type { TrainProcessorOptions } from '../jobs/train-processor.ts';
import { MemoryRealtime } from '../realtime/memory-realtime.ts';
import { RedisRealtime } from '../realtime/redis-realtime.ts';
import type { RealtimeState } from '../realtime/types.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { SegmentReports } from '../segments/segment-reports.ts';
import { Engine } from '../serving/engine.ts';
import type { EngineOptions } from '../serving/engine.ts';
import { TRENDING_HALF_LIFE_MS, TRENDING_WEIGHTS, TRENDING_WINDOW_MS } from '../serving/trending-state.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';

/** The jobs Shelf runs, by name. */
export type ShelfJobName = 'train' | 'segments';

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
  jobs: InlineJobs<ShelfJobName>;
  segments: SegmentReports;
  /** The keys the app accepts: the configured ones, or two generated for this run. */
  apiKeys: readonly ApiKey[];
  /** True when the keys were generated for this run (none configured). */
  generatedKeys: boolean;
  /** Closes the app, waits for queued jobs, and closes what was opened here. */
  close(): Promise<void>;
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
  const store = overrides.store ?? (await openStore(config.database));
  const ownRedis =
    !overrides.redis && config.redis
      ? new Redis(config.redis.url, { maxRetriesPerRequest: 1, lazyConnect: false })
      : null;
  const redis = overrides.redis ?? ownRedis;
  const closeOwned = async () => {
    if (!overrides.store) await store.close();
    await ownRedis?.quit();
  };
  try {
    const registry = overrides.registry ?? new ModelRegistry(join(config.dataDir, 'models'));
    const realtime = overrides.realtime ?? (redis ? new RedisRealtime(redis) : new MemoryRealtime());
    const engine = createEngine({
      store,
      realtime,
      registry,
      log,
      answerCache: config.answerCache,
      ...(overrides.now ? { now: overrides.now } : {}),
    });
    // Segments: counts for reports, the threshold the profile route classifies with, and the
    // lists visitors without history get.
    const segments = new SegmentReports({
      store,
      trending: {
        weights: TRENDING_WEIGHTS,
        halfLifeMs: TRENDING_HALF_LIFE_MS,
        windowMs: TRENDING_WINDOW_MS,
      },
      ...(overrides.now ? { now: overrides.now } : {}),
      onReport: (report) => engine.setSegmentTrending(report.trending),
    });
    const jobs = new InlineJobs<ShelfJobName>({
      train: trainProcessor({ store, registry, log, makeEngine: createEngine, ...overrides.train }),
      segments: segmentsProcessor(segments),
    });
    const generatedKeys = config.apiKeys.length === 0;
    const apiKeys: readonly ApiKey[] = generatedKeys
      ? [
          { role: 'storefront', key: `sk_${randomBytes(18).toString('base64url')}` },
          { role: 'admin', key: `ak_${randomBytes(18).toString('base64url')}` },
        ]
      : config.apiKeys;
    await engine.swap();
    const app = await buildApp({
      config: { apiKeys, corsOrigins: config.corsOrigins, rateLimitPerMinute: config.rateLimitPerMinute },
      engine,
      store,
      registry,
      jobs,
      segments,
      promote: promoteThroughGate({ store, registry, log }),
      log,
      ...(redis ? { redis } : {}),
    });
    let closing: Promise<void> | null = null;
    const close = () =>
      (closing ??= (async () => {
        await app.close();
        await jobs.idle();
        await closeOwned();
      })());
    return { app, engine, store, registry, jobs, segments, apiKeys, generatedKeys, close };
  } catch (err) {
    await closeOwned();
    throw err;
  }
}
