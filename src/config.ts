import { isIP } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from './errors.ts';
import { parseAdaptive } from './experiments/adaptive-policy.ts';
import type { AdaptiveConfig } from './experiments/adaptive-policy.ts';
import { DEFAULT_CLOCK_SKEW_MS } from './feedback/attributor.ts';
import { JOB_PRIORITIES } from './jobs/child-job.ts';
import type { JobChildSpec, JobPriority } from './jobs/child-job.ts';
import { parseSchedule } from './jobs/schedule-spec.ts';
import type { ScheduleSpec } from './jobs/schedule-spec.ts';
import { DEFAULT_ROTATION } from './realtime/rotation.ts';
import type { DatabaseConfig } from './store/open-store.ts';
import type { RotationPolicy } from './realtime/rotation.ts';
import { DEFAULT_MAX_EVENT_SKEW_MS } from './store/validate.ts';

export type ApiRole = 'storefront' | 'admin';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ApiKey {
  role: ApiRole;
  key: string;
}

/** Everything Shelf reads from the environment, validated once at start. */
export interface ShelfConfig {
  /** Where generated artefacts live (SQLite file, model versions, indexes). */
  dataDir: string;
  database: DatabaseConfig;
  /** `null` → embedded mode: in-process jobs and in-memory real-time state. */
  redis: { url: string } | null;
  http: { host: string; port: number };
  apiKeys: readonly ApiKey[];
  /** Browser origins allowed by CORS (storefronts calling from the page). */
  corsOrigins: readonly string[];
  /** Requests per minute per API key. */
  rateLimitPerMinute: number;
  /** Failed authentications per minute per client address before it is answered 429. */
  authFailuresPerMinute: number;
  /**
   * Which proxies in front of Shelf are believed about the client's address (X-Forwarded-For):
   * none (false: the socket's peer is the client), all (true), the nearest `n` hops, or those at
   * the listed addresses and ranges. Behind a load balancer that is not trusted, every client
   * has the balancer's address: the per-address limits would count them all as one.
   */
  trustProxy: TrustProxy;
  /** How far past the clock an event may be dated, ms; later ones are rejected. */
  maxEventSkewMs: number;
  logLevel: LogLevel;
  /** Folder holding the real datasets (`online-retail-uci/`, `movielens-100k/`). */
  datasetsDir: string;
  /** Reuse of recently computed lists: for how long (0: off) and how many at most. */
  answerCache: { ttlMs: number; entries: number };
  /** Where model versions and the `current` pointer live (may be a shared filesystem). */
  modelsDir: string;
  /**
   * Versions a train job leaves in the models dir: the newest N, besides the current one, the
   * one a rollback returns to and those experiments name (0: every version).
   */
  modelVersionsKept: number;
  /**
   * When each job runs on its own (null: on demand only). With Redis, one firing per schedule
   * for the whole cluster (BullMQ job schedulers); embedded, a timer in the server.
   */
  schedules: { train: ScheduleSpec | null; aggregate: ScheduleSpec | null; segments: ScheduleSpec | null };
  /** The job queue with Redis, and how its jobs are run and retried. */
  jobs: {
    /**
     * The prefix of everything a cluster keeps in Redis (`redisNames`): its queues, real-time
     * state, counters, splits and signals. Clusters (and tests) sharing a Redis keep apart by it.
     */
    prefix: string;
    /** Jobs one `shelf worker` runs at once. */
    concurrency: number;
    /** Attempts in all of a job that fails with a transient fault. */
    attempts: number;
    /** Wait before the second attempt, doubled after, ms. */
    backoffMs: number;
    /** A job whose worker stopped renewing its lock this long is retried by another, ms. */
    lockMs: number;
    /** How a job's child process shares the CPU with the server (jobs/child-job.ts). */
    priority: JobPriority;
  };
  /**
   * Sharded ALS (training/sharded-als-solver.ts): shards per half-step of the train job's fits
   * (0: the fit solves on its own threads), and the shard threads of each `shelf worker` (also
   * of a sharded fit without Redis).
   */
  alsShards: { shards: number; threads: number };
  /**
   * Attribution of events without a recommendationId: how far back the list that showed the
   * item is looked for, ms, per event type.
   */
  attributionWindowMs: { click: number; addToCart: number; purchase: number };
  /**
   * How long after such an event a list may have been shown and still take its credit (the
   * storefront's clock is not Shelf's), ms.
   */
  attributionSkewMs: number;
  /** Impressions held in memory at most while the store is slow; beyond, they are shed. */
  impressionBuffer: number;
  /**
   * Where the lists served are written: by a worker thread with its own store connection
   * (`thread`, the default), on the serving thread (`inline`), or not recorded at all (`off`: no
   * feedback metrics, no attribution).
   */
  impressionWriter: ImpressionWriter;
  /**
   * How often the change feed's log is read without a signal, ms (0: never): how soon another
   * process's change arrives when no Redis tells (embedded mode, the command line).
   */
  feedPollMs: number;
  /**
   * How often a server checks that it serves the registry's current version, ms (0: never): the
   * net under the change feed (ModelHolder.follow).
   */
  versionCheckMs: number;
  /** How long the change feed's log keeps a change, ms (older ones are deleted by servers). */
  changeLogRetainMs: number;
  /** On SIGTERM: how long requests in flight and a running job are given before exit, ms. */
  drainMs: number;
  /** Rotation (src/realtime/rotation.ts): shows without engagement that demote an item (0: off), by how much, how long. */
  rotation: RotationPolicy;
  /**
   * Adaptive serving per tier (`SHELF_ADAPTIVE`, JSON; `SHELF_ADAPTIVE_SEED`): a Thompson-sampling
   * bandit over blend presets, or an exploration share; none by default.
   */
  adaptive: AdaptiveConfig;
}

export type TrustProxy = boolean | number | string[];

export type ImpressionWriter = 'thread' | 'inline' | 'off';
const IMPRESSION_WRITERS: readonly ImpressionWriter[] = ['thread', 'inline', 'off'];

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ROLES: readonly ApiRole[] = ['storefront', 'admin'];

function parsePort(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  const port = Number(raw);
  if (port < 0 || port > 65535) throw new ConfigError(name, `must be between 0 and 65535, got ${port}`);
  return port;
}

function parseUrl(name: string, raw: string, protocols: readonly string[]): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${url.protocol}`);
  }
  return raw;
}

function parsePositive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new ConfigError(name, `must be a whole number ≥ 1, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function parseFraction(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const x = Number(raw);
  if (!(x >= 0 && x <= 1))
    throw new ConfigError(name, `must be a number from 0 to 1, got ${JSON.stringify(raw)}`);
  return x;
}

function parseWhole(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw))
    throw new ConfigError(name, `must be a whole number ≥ 0, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** One of `allowed` (`fallback` when unset). */
function oneOf<T extends string>(
  name: string,
  raw: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = (raw || fallback) as T;
  if (!allowed.includes(value)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}`);
  return value;
}

function parseOrigins(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split(',').map((o) => {
    const origin = o.trim();
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(
        'SHELF_CORS_ORIGINS',
        `${JSON.stringify(origin)} is not an origin like https://shop.example`,
      );
    }
    if (url.origin !== origin)
      throw new ConfigError(
        'SHELF_CORS_ORIGINS',
        `${JSON.stringify(origin)} must be a bare origin (${url.origin})`,
      );
    return origin;
  });
}

/** proxy-addr's names for address ranges, accepted beside addresses and CIDR ranges. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function parseTrustProxy(raw: string | undefined): TrustProxy {
  const value = raw?.trim() ?? '';
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((entry) => {
    const e = entry.trim();
    const [address, bits, extra] = e.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 6 ? 128 : 32;
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits);
    if (!NAMED_RANGES.has(e) && (family === 0 || !okBits || extra !== undefined))
      throw new ConfigError(
        'SHELF_TRUST_PROXY',
        `${JSON.stringify(e)} is not true, false, a hop count, an address, a range like 10.0.0.0/8 or one of ${[...NAMED_RANGES].join(', ')}`,
      );
    return e;
  });
}

function parseApiKeys(raw: string | undefined): ApiKey[] {
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split(',').map((entry, i) => {
    const sep = entry.indexOf(':');
    const role = entry.slice(0, sep).trim();
    const key = entry.slice(sep + 1).trim();
    if (sep < 0 || !ROLES.includes(role as ApiRole)) {
      throw new ConfigError(
        'SHELF_API_KEYS',
        `entry ${i + 1} must be role:key with role storefront or admin`,
      );
    }
    if (key.length < 16)
      throw new ConfigError('SHELF_API_KEYS', `entry ${i + 1}: key shorter than 16 characters`);
    return { role: role as ApiRole, key };
  });
}

/**
 * A schedule from `name` (off, "every 5m", a cron pattern); unset, from the older millisecond
 * variable `legacy` (0: off) when that is set, else `fallback`.
 */
function scheduleOf(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: string,
  legacy?: string,
): ScheduleSpec | null {
  const raw = env[name];
  if ((raw === undefined || raw === '') && legacy && env[legacy]) {
    const ms = parseWhole(legacy, env[legacy], 0);
    return ms === 0 ? null : { everyMs: ms };
  }
  try {
    return parseSchedule(raw || fallback);
  } catch (err) {
    throw new ConfigError(name, (err as Error).message);
  }
}

function parsePrefix(raw: string | undefined): string {
  if (raw === undefined || raw === '') return 'shelf';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw))
    throw new ConfigError(
      'SHELF_QUEUE_PREFIX',
      `must be 1–64 letters, digits, _ . or -, got ${JSON.stringify(raw)}`,
    );
  return raw;
}

/** The names a cluster's Redis keys and channel start with. */
export interface RedisNames {
  /** Visitors' recent events, rotation and trending (realtime/). */
  realtime: string;
  /** The change feed's pub/sub channel. */
  changes: string;
  /** The adaptive tiers' splits. */
  allocation: string;
  /** Rate-limit and failed-authentication counters. */
  rateLimit: string;
  /** The latest segment report a worker computed (segments/shared-segment-report.ts). */
  segmentReport: string;
}

/**
 * Everything a cluster keeps in Redis, under its prefix (`SHELF_QUEUE_PREFIX`, which BullMQ's
 * keys take too), so that two clusters on one Redis (a staging and a production, two shops)
 * share no visitor's state, trending count, split or change signal. The default prefix gives
 * the names these always had.
 */
export function redisNames(prefix: string): RedisNames {
  return {
    realtime: `${prefix}:rt:`,
    changes: `${prefix}:changes`,
    allocation: `${prefix}:`,
    rateLimit: `${prefix}-rate-limit:`,
    segmentReport: `${prefix}:segments:latest`,
  };
}

/** Builds the one config object from an environment; a bad value throws `ConfigError` naming it. */
export function loadConfig(env: NodeJS.ProcessEnv, cwd = process.cwd()): Readonly<ShelfConfig> {
  const dataDir = resolve(cwd, env.SHELF_DATA_DIR || './var');
  const dbUrl = env.DATABASE_URL;
  const database: DatabaseConfig = dbUrl
    ? { kind: 'postgres', url: parseUrl('DATABASE_URL', dbUrl, ['postgres:', 'postgresql:']) }
    : { kind: 'sqlite', file: join(dataDir, 'shelf.sqlite') };
  const redisUrl = env.REDIS_URL;
  const redis = redisUrl ? { url: parseUrl('REDIS_URL', redisUrl, ['redis:', 'rediss:']) } : null;
  const logLevel = oneOf('SHELF_LOG_LEVEL', env.SHELF_LOG_LEVEL, LOG_LEVELS, 'info');
  const impressionWriter = oneOf(
    'SHELF_IMPRESSION_WRITER',
    env.SHELF_IMPRESSION_WRITER,
    IMPRESSION_WRITERS,
    'thread',
  );
  const datasets = env.SHELF_DATASETS_DIR || '../shared/data';
  const config: ShelfConfig = {
    dataDir,
    database,
    redis,
    http: { host: env.SHELF_HOST || '127.0.0.1', port: parsePort('SHELF_PORT', env.SHELF_PORT, 3000) },
    apiKeys: Object.freeze(parseApiKeys(env.SHELF_API_KEYS)),
    corsOrigins: parseOrigins(env.SHELF_CORS_ORIGINS),
    rateLimitPerMinute: parsePositive('SHELF_RATE_LIMIT', env.SHELF_RATE_LIMIT, 6000),
    authFailuresPerMinute: parsePositive('SHELF_AUTH_FAILURE_LIMIT', env.SHELF_AUTH_FAILURE_LIMIT, 30),
    trustProxy: parseTrustProxy(env.SHELF_TRUST_PROXY),
    maxEventSkewMs: parseWhole(
      'SHELF_MAX_EVENT_SKEW_MS',
      env.SHELF_MAX_EVENT_SKEW_MS,
      DEFAULT_MAX_EVENT_SKEW_MS,
    ),
    logLevel,
    datasetsDir: isAbsolute(datasets) ? datasets : resolve(cwd, datasets),
    answerCache: {
      ttlMs: parseWhole('SHELF_ANSWER_CACHE_MS', env.SHELF_ANSWER_CACHE_MS, 30_000),
      entries: parsePositive('SHELF_ANSWER_CACHE_ENTRIES', env.SHELF_ANSWER_CACHE_ENTRIES, 100_000),
    },
    modelsDir: resolve(cwd, env.SHELF_MODELS_DIR || join(dataDir, 'models')),
    modelVersionsKept: parseWhole('SHELF_MODEL_VERSIONS_KEPT', env.SHELF_MODEL_VERSIONS_KEPT, 10),
    schedules: {
      train: scheduleOf(env, 'SHELF_SCHEDULE_TRAIN', '0 3 * * *'),
      // Embedded, every minute (#13: the live numbers one machine shows); scaled out, every few
      // minutes (#15), since each run is a job on the shared queue.
      aggregate: scheduleOf(
        env,
        'SHELF_SCHEDULE_AGGREGATE',
        redis ? 'every 5m' : 'every 1m',
        'SHELF_AGGREGATE_EVERY_MS',
      ),
      segments: scheduleOf(env, 'SHELF_SCHEDULE_SEGMENTS', '0 4 * * *', 'SHELF_SEGMENTS_EVERY_MS'),
    },
    jobs: {
      prefix: parsePrefix(env.SHELF_QUEUE_PREFIX),
      concurrency: parsePositive('SHELF_WORKER_CONCURRENCY', env.SHELF_WORKER_CONCURRENCY, 1),
      attempts: parsePositive('SHELF_JOB_ATTEMPTS', env.SHELF_JOB_ATTEMPTS, 3),
      backoffMs: parseWhole('SHELF_JOB_BACKOFF_MS', env.SHELF_JOB_BACKOFF_MS, 1000),
      lockMs: parsePositive('SHELF_JOB_LOCK_MS', env.SHELF_JOB_LOCK_MS, 30_000),
      priority: oneOf('SHELF_JOB_PRIORITY', env.SHELF_JOB_PRIORITY, JOB_PRIORITIES, 'idle'),
    },
    alsShards: {
      shards: parseWhole('SHELF_ALS_SHARDS', env.SHELF_ALS_SHARDS, 0),
      threads: parsePositive('SHELF_ALS_SHARD_THREADS', env.SHELF_ALS_SHARD_THREADS, 1),
    },
    attributionWindowMs: {
      click: parseWhole('SHELF_ATTRIBUTION_CLICK_MS', env.SHELF_ATTRIBUTION_CLICK_MS, 86_400_000),
      addToCart: parseWhole('SHELF_ATTRIBUTION_CART_MS', env.SHELF_ATTRIBUTION_CART_MS, 604_800_000),
      purchase: parseWhole('SHELF_ATTRIBUTION_PURCHASE_MS', env.SHELF_ATTRIBUTION_PURCHASE_MS, 604_800_000),
    },
    attributionSkewMs: parseWhole(
      'SHELF_ATTRIBUTION_SKEW_MS',
      env.SHELF_ATTRIBUTION_SKEW_MS,
      DEFAULT_CLOCK_SKEW_MS,
    ),
    impressionBuffer: parsePositive('SHELF_IMPRESSION_BUFFER', env.SHELF_IMPRESSION_BUFFER, 50_000),
    impressionWriter,
    feedPollMs: parseWhole('SHELF_FEED_POLL_MS', env.SHELF_FEED_POLL_MS, 1000),
    versionCheckMs: parseWhole('SHELF_VERSION_CHECK_MS', env.SHELF_VERSION_CHECK_MS, 10_000),
    changeLogRetainMs: parsePositive('SHELF_CHANGE_LOG_DAYS', env.SHELF_CHANGE_LOG_DAYS, 7) * 86_400_000,
    drainMs: parsePositive('SHELF_DRAIN_MS', env.SHELF_DRAIN_MS, 10_000),
    rotation: {
      shows: parseWhole('SHELF_ROTATION_SHOWS', env.SHELF_ROTATION_SHOWS, DEFAULT_ROTATION.shows),
      windowMs: parsePositive(
        'SHELF_ROTATION_WINDOW_MS',
        env.SHELF_ROTATION_WINDOW_MS,
        DEFAULT_ROTATION.windowMs,
      ),
      factor: parseFraction('SHELF_ROTATION_FACTOR', env.SHELF_ROTATION_FACTOR, DEFAULT_ROTATION.factor),
      forMs: parsePositive('SHELF_ROTATION_FOR_MS', env.SHELF_ROTATION_FOR_MS, DEFAULT_ROTATION.forMs),
    },
    adaptive: parseAdaptive(
      env.SHELF_ADAPTIVE,
      parseWhole('SHELF_ADAPTIVE_SEED', env.SHELF_ADAPTIVE_SEED, 1),
    ),
  };
  return deepFreeze(config);
}

/**
 * The variables a command-line child (the train job in its own process) needs to open the same
 * store, data dir and Redis as this process.
 */
export function childEnv(config: Readonly<ShelfConfig>): Record<string, string> {
  return {
    SHELF_DATA_DIR: config.dataDir,
    SHELF_MODELS_DIR: config.modelsDir,
    SHELF_MODEL_VERSIONS_KEPT: String(config.modelVersionsKept),
    SHELF_LOG_LEVEL: config.logLevel,
    SHELF_DATASETS_DIR: config.datasetsDir,
    ...(config.database.kind === 'postgres' ? { DATABASE_URL: config.database.url } : {}),
    ...(config.redis ? { REDIS_URL: config.redis.url } : {}),
    // A sharded train fit enqueues its shards under the same prefix the workers take them from.
    SHELF_QUEUE_PREFIX: config.jobs.prefix,
    SHELF_ALS_SHARDS: String(config.alsShards.shards),
    SHELF_ALS_SHARD_THREADS: String(config.alsShards.threads),
  };
}

/** How a job's child process is started: with the config's variables, at the job priority. */
export function jobChild(config: Readonly<ShelfConfig>): JobChildSpec {
  return { env: childEnv(config), priority: config.jobs.priority };
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const v of Object.values(value)) if (v && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(value);
}
