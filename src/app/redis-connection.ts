/** A process's own Redis connection, checked at start. */
import { Redis } from 'ioredis';
import { InputError } from '../errors.ts';

/**
 * A connection that has answered PING, or one line naming REDIS_URL: unreachable, a process
 * printed "[ioredis] Unhandled error event: … ECONNREFUSED" at every retry, then failed with
 * "MaxRetriesPerRequestError" (the variable never named).
 */
export async function connectRedis(url: string): Promise<Redis> {
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
  return redis;
}
