/** A process's own Redis connection, checked at start. */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { InputError } from '../errors.ts';

/** How long a command on the shared connection may wait for its answer, ms (Redis answers in one or two). */
const COMMAND_TIMEOUT_MS = 1000;

/**
 * A connection that has answered PING, or one line naming REDIS_URL: unreachable, a process
 * printed "[ioredis] Unhandled error event: … ECONNREFUSED" at every retry, then failed with
 * "MaxRetriesPerRequestError" (the variable never named).
 */

export async function connectRedis(url: string, log?: Logger): Promise<Redis> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
  let failure: Error | null = null;
  const onError = (err: Error) => (failure ??= err);
  redis.on('error', onError);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const u = new URL(url);
    const why = (failure ?? (err as Error)).message || String(err);
    throw new InputError(`REDIS_URL: cannot reach Redis at ${u.host}: ${why}`);
  } finally {
    redis.off('error', onError);
  }
  // Reconnecting after start, as ioredis does by default: a blip must not end the process.
  redis.options.retryStrategy = (times) => Math.min(times * 200, 2000);
  // While it reconnects a command fails at once, not after the wait of a retry: a request does
  // without (rate limits, real-time state) rather than hang for seconds and fail anyway.
  redis.options.enableOfflineQueue = false;
  // A Redis that hangs (paused, or a network that drops packets) keeps the connection open:
  // without a timeout a request waited on it for good, the probes too.
  redis.options.commandTimeout = COMMAND_TIMEOUT_MS;
  // A lost connection is said once, and its return: not "[ioredis] Unhandled error event" on
  // stderr at every attempt.
  let lost = false;
  redis.on('error', (err: Error) => {
    if (lost) return;
    lost = true;
    log?.warn({ err }, 'Redis does not answer: reconnecting');
  });
  redis.on('ready', () => {
    if (!lost) return;
    lost = false;
    log?.info('Redis answers again');
  });
  return redis;
}
