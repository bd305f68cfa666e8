import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/api/app.ts';
import { InlineJobs } from '../../../src/jobs/inline-jobs.ts';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { SegmentReports } from '../../../src/segments/segment-reports.ts';
import { Engine } from '../../../src/serving/engine.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const KEY = 'storefront-key-for-redis-test';

describe.runIf(available)('rate limits shared through Redis', () => {
  let dir: string;
  let store: Store;
  let redis: Redis;
  let engine: Engine;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-redis-rl-'));
    store = await openSqliteStore(':memory:');
    redis = new Redis(REDIS_URL, { keyPrefix: undefined });
    const registry = new ModelRegistry(join(dir, 'models'));
    engine = new Engine({ store, realtime: new MemoryRealtime(), registry, log });
    await engine.swap(null);
  });
  afterAll(async () => {
    await redis.quit();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts one key’s requests across two replicas', async () => {
    // A unique key per run, so counters left by other runs never interfere.
    const key = `${KEY}-${uniqueName('k')}`;
    const replica = () =>
      buildApp({
        config: { apiKeys: [{ role: 'storefront', key }], corsOrigins: [], rateLimitPerMinute: 4 },
        engine,
        store,
        registry: new ModelRegistry(join(dir, 'models')),
        jobs: new InlineJobs(),
        segments: new SegmentReports({ store, trending: { weights: {}, halfLifeMs: 1, windowMs: 1 } }),
        train: async () => null,
        promote: async () => ({ promoted: false, message: 'not in this test' }),
        log,
        redis,
      });
    const [a, b] = [await replica(), await replica()];
    try {
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) {
        const app = i % 2 ? b : a;
        codes.push(
          (
            await app.inject({
              url: '/v1/recommendations/homepage',
              headers: { authorization: `Bearer ${key}` },
            })
          ).statusCode,
        );
      }
      expect(codes).toEqual([200, 200, 200, 200, 429, 429]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
