/**
 * The composition root of `shelf start` (`npm start`): opens the configured store, seeds a demo
 * storefront when it is empty, trains a first version when there is none, loads it, and serves
 * the API until SIGINT/SIGTERM, then closes with grace. Watches the registry so a version
 * promoted or rolled back from the CLI is swapped in.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ApiKey, ShelfConfig } from '../config.ts';
import { exportStorefront } from '../demo/export-storefront.ts';
import type { ExportProgress } from '../demo/export-storefront.ts';
import { generateStorefront } from '../demo/generate-storefront.ts';
import type { StorefrontOptions } from '../demo/generate-storefront.ts';
import { InlineJobs } from '../jobs/inline-jobs.ts';
import { MemoryRealtime } from '../realtime/memory-realtime.ts';
import { RedisRealtime } from '../realtime/redis-realtime.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { runSegmentsJob, SegmentReports } from '../segments/segment-reports.ts';
import { Engine } from '../serving/engine.ts';
import { TRENDING_HALF_LIFE_MS, TRENDING_WEIGHTS, TRENDING_WINDOW_MS } from '../serving/trending-state.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { promoteWithGate, trainVersion } from '../../training/publish.ts';
import type { Recipe } from '../../training/publish.ts';
import { buildApp } from './app.ts';
import type { ShelfApp } from './app.ts';

export interface StartOptions {
  config: Readonly<ShelfConfig>;
  log: Logger;
  /** Size of the demo storefront seeded into an empty store. */
  demo?: StorefrontOptions;
  recipe?: Partial<Recipe>;
  /** How often to look for a new current version, ms. @defaultValue 5000 */
  watchMs?: number;
  onProgress?: (message: string, progress?: ExportProgress) => void;
}

export interface RunningServer {
  app: ShelfApp;
  url: string;
  apiKeys: readonly ApiKey[];
  /** True when the keys were generated for this run (none configured). */
  generatedKeys: boolean;
  /** Ids to put in example requests. */
  example: ReturnType<Engine['example']>;
  close(): Promise<void>;
}

export async function startServer(o: StartOptions): Promise<RunningServer> {
  const { config, log } = o;
  const say = o.onProgress ?? ((message: string) => log.info(message));
  const store: Store = await openStore(config.database);
  const redis = config.redis
    ? new Redis(config.redis.url, { maxRetriesPerRequest: 1, lazyConnect: false })
    : null;
  try {
    const registry = new ModelRegistry(join(config.dataDir, 'models'));
    if ((await store.stats()).events === 0) {
      say('the store is empty: generating the demo storefront');
      const sf = generateStorefront({ ...o.demo, now: Date.now() });
      const summary = await exportStorefront(sf, {
        store,
        dir: join(config.dataDir, 'demo'),
        jsonl: false,
        onProgress: (p) => say('importing demo data', p),
      });
      say(`demo storefront: ${summary.items} items, ${summary.users} users, ${summary.events} events`);
    }
    const train = async () => {
      const { manifest } = await trainVersion({
        store,
        registry,
        ...(o.recipe ? { recipe: o.recipe } : {}),
        log,
      });
      return promoteWithGate({ registry, store, version: manifest.version, log });
    };
    if (!(await registry.current())) {
      say('no model version yet: training one');
      const verdict = await train();
      say(verdict.message);
    }
    const realtime = redis ? new RedisRealtime(redis) : new MemoryRealtime();
    const engine = new Engine({ store, realtime, registry, log, answerCache: config.answerCache });
    await engine.swap();
    const generatedKeys = config.apiKeys.length === 0;
    const apiKeys: readonly ApiKey[] = generatedKeys
      ? [
          { role: 'storefront', key: `sk_${randomBytes(18).toString('base64url')}` },
          { role: 'admin', key: `ak_${randomBytes(18).toString('base64url')}` },
        ]
      : config.apiKeys;
    const jobs = new InlineJobs();
    // Segments at start and on a schedule: counts for reports, the threshold the profile route
    // classifies with, and the lists cold visitors get.
    const segments = new SegmentReports({
      store,
      trending: {
        weights: TRENDING_WEIGHTS,
        halfLifeMs: TRENDING_HALF_LIFE_MS,
        windowMs: TRENDING_WINDOW_MS,
      },
      onReport: (report) => engine.setSegmentTrending(report.trending),
    });
    const computeSegments = () => jobs.enqueue('segments', () => runSegmentsJob(segments));
    computeSegments();
    const segmentsTimer =
      config.segmentsEveryMs > 0 ? setInterval(computeSegments, config.segmentsEveryMs).unref() : null;
    const app = await buildApp({
      config: { ...config, apiKeys },
      engine,
      store,
      registry,
      jobs,
      segments,
      train,
      promote: (version, force) => promoteWithGate({ registry, store, version, force, log }),
      log,
      ...(redis ? { redis } : {}),
    });
    const address = await app.listen({ host: config.http.host, port: config.http.port });
    const watch = setInterval(() => {
      engine.refresh().catch((err: unknown) => log.error({ err }, 'model refresh failed'));
    }, o.watchMs ?? 5000);
    watch.unref();
    let closing: Promise<void> | null = null;
    const close = () =>
      (closing ??= (async () => {
        clearInterval(watch);
        if (segmentsTimer) clearInterval(segmentsTimer);
        await app.close();
        await jobs.idle();
        await store.close();
        await redis?.quit();
      })());
    return { app, url: address, apiKeys, generatedKeys, example: engine.example(), close };
  } catch (err) {
    await store.close();
    await redis?.quit();
    throw err;
  }
}
