import { describe, expect, it } from 'vitest';
import { childEnv, loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

const KEY = 'k'.repeat(20);

describe('loadConfig', () => {
  it('defaults to embedded mode under ./var', () => {
    const c = loadConfig({}, '/srv/shelf');
    expect(c.dataDir).toBe('/srv/shelf/var');
    expect(c.database).toEqual({ kind: 'sqlite', file: '/srv/shelf/var/shelf.sqlite' });
    expect(c.redis).toBeNull();
    expect(c.http.port).toBe(3000);
    expect(c.apiKeys).toEqual([]);
    expect(c.datasetsDir).toBe('/srv/shared/data');
    expect(c.answerCache).toEqual({ ttlMs: 30_000, entries: 100_000 });
    expect(loadConfig({ SHELF_ANSWER_CACHE_MS: '0' }).answerCache.ttlMs).toBe(0);
    expect(c.modelsDir).toBe('/srv/shelf/var/models');
    expect(loadConfig({ SHELF_MODELS_DIR: '/mnt/shared/models' }, '/srv').modelsDir).toBe(
      '/mnt/shared/models',
    );
    expect(c.schedules).toEqual({
      train: { pattern: '0 3 * * *' },
      aggregate: { everyMs: 60_000 },
      segments: { pattern: '0 4 * * *' },
    });
    expect(
      loadConfig({ SHELF_SCHEDULE_TRAIN: 'off', SHELF_SCHEDULE_SEGMENTS: 'every 2h' }).schedules,
    ).toMatchObject({
      train: null,
      segments: { everyMs: 7_200_000 },
    });
    // The older millisecond variables still set the interval when the schedule is not given.
    expect(loadConfig({ SHELF_SEGMENTS_EVERY_MS: '0' }).schedules.segments).toBeNull();
    expect(loadConfig({ SHELF_AGGREGATE_EVERY_MS: '90000' }).schedules.aggregate).toEqual({
      everyMs: 90_000,
    });
    expect(c.jobs).toEqual({
      prefix: 'shelf',
      concurrency: 1,
      attempts: 3,
      backoffMs: 1000,
      lockMs: 30_000,
      priority: 'idle',
    });
    expect(loadConfig({ SHELF_JOB_PRIORITY: 'low' }).jobs.priority).toBe('low');
    expect(c.alsShards).toEqual({ shards: 0, threads: 1 });
    expect(
      loadConfig({ SHELF_ALS_SHARDS: '8', SHELF_ALS_SHARD_THREADS: '2', SHELF_QUEUE_PREFIX: 'p' }),
    ).toMatchObject({ alsShards: { shards: 8, threads: 2 } });
    // A train child enqueues its shards where the workers take them: same prefix, same sharding.
    expect(
      childEnv(loadConfig({ SHELF_ALS_SHARDS: '8', SHELF_ALS_SHARD_THREADS: '2', SHELF_QUEUE_PREFIX: 'p' })),
    ).toMatchObject({ SHELF_ALS_SHARDS: '8', SHELF_ALS_SHARD_THREADS: '2', SHELF_QUEUE_PREFIX: 'p' });
    expect(Object.isFrozen(c.http)).toBe(true);
    expect(c.maxEventSkewMs).toBe(600_000);
    expect(loadConfig({ SHELF_MAX_EVENT_SKEW_MS: '0' }).maxEventSkewMs).toBe(0);
    expect(c.authFailuresPerMinute).toBe(30);
    expect(loadConfig({ SHELF_AUTH_FAILURE_LIMIT: '5' }).authFailuresPerMinute).toBe(5);
    expect(c.trustProxy).toBe(false);
    expect(loadConfig({ SHELF_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ SHELF_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ SHELF_TRUST_PROXY: '10.0.0.0/8, loopback,::1' }).trustProxy).toEqual([
      '10.0.0.0/8',
      'loopback',
      '::1',
    ]);
    expect(c.feedPollMs).toBe(1000);
    expect(c.versionCheckMs).toBe(10_000);
    expect(loadConfig({ SHELF_VERSION_CHECK_MS: '0' }).versionCheckMs).toBe(0);
    expect(c.changeLogRetainMs).toBe(7 * 86_400_000);
    expect(loadConfig({ SHELF_CHANGE_LOG_DAYS: '30' }).changeLogRetainMs).toBe(30 * 86_400_000);
    expect(c.drainMs).toBe(10_000);
    expect(c.attributionSkewMs).toBe(5000);
    expect(loadConfig({ SHELF_ATTRIBUTION_SKEW_MS: '0' }).attributionSkewMs).toBe(0);
    expect(() => loadConfig({ SHELF_ATTRIBUTION_SKEW_MS: '-1' })).toThrow(/SHELF_ATTRIBUTION_SKEW_MS/);
    expect(c.rotation).toEqual({ shows: 3, windowMs: 86_400_000, factor: 0.3, forMs: 259_200_000 });
    expect(loadConfig({ SHELF_ROTATION_SHOWS: '0', SHELF_ROTATION_FACTOR: '0.5' }).rotation).toMatchObject({
      shows: 0,
      factor: 0.5,
    });
  });

  it('switches to PostgreSQL and Redis when their URLs are set', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://u@db:5432/shelf',
      REDIS_URL: 'redis://cache:6379',
      SHELF_PORT: '8080',
      SHELF_API_KEYS: `storefront:${KEY},admin:${KEY}x`,
      SHELF_LOG_LEVEL: 'warn',
    });
    expect(c.database).toEqual({ kind: 'postgres', url: 'postgres://u@db:5432/shelf' });
    expect(c.redis).toEqual({ url: 'redis://cache:6379' });
    expect(c.schedules.aggregate).toEqual({ everyMs: 300_000 });
    expect(c.http.port).toBe(8080);
    expect(c.apiKeys.map((k) => k.role)).toEqual(['storefront', 'admin']);
    expect(c.logLevel).toBe('warn');
    expect(
      loadConfig({ SHELF_CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).corsOrigins,
    ).toEqual(['https://a.example', 'http://localhost:5173']);
  });

  it.each([
    [{ SHELF_PORT: 'eighty' }, 'SHELF_PORT'],
    [{ SHELF_PORT: '70000' }, 'SHELF_PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ SHELF_LOG_LEVEL: 'loud' }, 'SHELF_LOG_LEVEL'],
    [{ SHELF_API_KEYS: `root:${KEY}` }, 'SHELF_API_KEYS'],
    [{ SHELF_API_KEYS: 'admin:short' }, 'SHELF_API_KEYS'],
    [{ SHELF_CORS_ORIGINS: 'https://shop.example/path' }, 'SHELF_CORS_ORIGINS'],
    [{ SHELF_RATE_LIMIT: '0' }, 'SHELF_RATE_LIMIT'],
    [{ SHELF_ANSWER_CACHE_MS: '-1' }, 'SHELF_ANSWER_CACHE_MS'],
    [{ SHELF_ANSWER_CACHE_ENTRIES: '0' }, 'SHELF_ANSWER_CACHE_ENTRIES'],
    [{ SHELF_SEGMENTS_EVERY_MS: '1h' }, 'SHELF_SEGMENTS_EVERY_MS'],
    [{ SHELF_SCHEDULE_TRAIN: '0 25 * * *' }, 'SHELF_SCHEDULE_TRAIN'],
    [{ SHELF_SCHEDULE_AGGREGATE: 'every 5 minutes' }, 'SHELF_SCHEDULE_AGGREGATE'],
    [{ SHELF_SCHEDULE_SEGMENTS: 'daily' }, 'SHELF_SCHEDULE_SEGMENTS'],
    [{ SHELF_QUEUE_PREFIX: 'a b' }, 'SHELF_QUEUE_PREFIX'],
    [{ SHELF_WORKER_CONCURRENCY: '0' }, 'SHELF_WORKER_CONCURRENCY'],
    [{ SHELF_ALS_SHARDS: 'many' }, 'SHELF_ALS_SHARDS'],
    [{ SHELF_ALS_SHARD_THREADS: '0' }, 'SHELF_ALS_SHARD_THREADS'],
    [{ SHELF_MAX_EVENT_SKEW_MS: '10m' }, 'SHELF_MAX_EVENT_SKEW_MS'],
    [{ SHELF_AUTH_FAILURE_LIMIT: '0' }, 'SHELF_AUTH_FAILURE_LIMIT'],
    [{ SHELF_TRUST_PROXY: 'yes' }, 'SHELF_TRUST_PROXY'],
    [{ SHELF_TRUST_PROXY: '10.0.0.0/33' }, 'SHELF_TRUST_PROXY'],
    [{ SHELF_TRUST_PROXY: '10.0.0.1,lb.internal' }, 'SHELF_TRUST_PROXY'],
    [{ SHELF_FEED_POLL_MS: 'soon' }, 'SHELF_FEED_POLL_MS'],
    [{ SHELF_VERSION_CHECK_MS: 'often' }, 'SHELF_VERSION_CHECK_MS'],
    [{ SHELF_CHANGE_LOG_DAYS: '0' }, 'SHELF_CHANGE_LOG_DAYS'],
    [{ SHELF_DRAIN_MS: '0' }, 'SHELF_DRAIN_MS'],
    [{ SHELF_ROTATION_FACTOR: '2' }, 'SHELF_ROTATION_FACTOR'],
    [{ SHELF_ROTATION_FOR_MS: '-5' }, 'SHELF_ROTATION_FOR_MS'],
    [{ SHELF_JOB_PRIORITY: 'high' }, 'SHELF_JOB_PRIORITY'],
  ])('rejects %o naming the variable', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}: `));
  });
});
