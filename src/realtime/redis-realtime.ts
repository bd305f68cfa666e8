/**
 * Real-time state shared by every API replica: one sorted set per user or session in Redis,
 * scored by timestamp, trimmed to the newest `capacity` and expiring when idle; and the
 * trending counters (redis-trending.ts), under the same prefix.
 */
import type { Redis } from 'ioredis';
import { RedisRotation } from './redis-rotation.ts';
import { RedisTrending } from './redis-trending.ts';
import type { RotationPolicy } from './rotation.ts';
import { DEFAULT_ROTATION } from './rotation.ts';
import type { TrendingCountersOptions } from './trending-counters.ts';
import { DEFAULT_TRENDING } from './trending-counters.ts';
import type { RealtimeState, RecentEvent, Subject } from './types.ts';
import { subjectKey } from './types.ts';

export interface RedisRealtimeOptions {
  /** Key prefix (`redisNames().realtime`), so several clusters (or test runs) share a Redis. */
  prefix: string;
  /** Events kept per user or session. @defaultValue 50 */
  capacity?: number;
  /** Seconds a subject's events live after its last write. @defaultValue 30 days */
  ttlSeconds?: number;
  /** Trending's half-life and window. @defaultValue `DEFAULT_TRENDING` */
  trending?: TrendingCountersOptions;
  /** @defaultValue `DEFAULT_ROTATION` */
  rotation?: RotationPolicy;
}

export class RedisRealtime implements RealtimeState {
  readonly trending: RedisTrending;
  readonly rotation: RedisRotation;
  private readonly prefix: string;
  private readonly capacity: number;
  private readonly ttl: number;

  constructor(
    private readonly redis: Redis,
    options: RedisRealtimeOptions,
  ) {
    this.prefix = options.prefix;
    this.capacity = options.capacity ?? 50;
    this.ttl = options.ttlSeconds ?? 30 * 86_400;
    this.trending = new RedisTrending(redis, {
      ...(options.trending ?? DEFAULT_TRENDING),
      prefix: this.prefix,
    });
    this.rotation = new RedisRotation(redis, options.rotation ?? DEFAULT_ROTATION, this.prefix);
  }

  private key(s: Subject): string {
    return this.prefix + subjectKey(s);
  }

  async record(subject: Subject, events: readonly RecentEvent[]): Promise<void> {
    if (!events.length) return;
    const key = this.key(subject);
    const args = events.flatMap((e) => [e.timestamp, JSON.stringify([e.itemId, e.type, e.timestamp])]);
    await this.redis
      .multi()
      .zadd(key, ...args)
      .zremrangebyrank(key, 0, -this.capacity - 1)
      .expire(key, this.ttl)
      .exec();
  }

  async recent(subject: Subject, limit = this.capacity): Promise<RecentEvent[]> {
    const members = await this.redis.zrevrange(this.key(subject), 0, limit - 1);
    return members.map((m) => {
      const [itemId, type, timestamp] = JSON.parse(m) as [string, RecentEvent['type'], number];
      return { itemId, type, timestamp };
    });
  }

  async mergeSession(sessionId: string, userId: string): Promise<void> {
    await this.rotation.merge(sessionId, userId);
    const from = this.key({ sessionId });
    const to = this.key({ userId });
    await this.redis
      .multi()
      .zunionstore(to, 2, to, from, 'AGGREGATE', 'MAX')
      .zremrangebyrank(to, 0, -this.capacity - 1)
      .expire(to, this.ttl)
      .del(from)
      .exec();
  }

  async forget(subject: Subject): Promise<void> {
    await this.rotation.forget(subject);
    await this.redis.del(this.key(subject));
  }

  /** Trending's cap holds digests here, no id (redis-trending.ts), gone by the next day's end. */
  async erase(subject: Subject): Promise<void> {
    await this.forget(subject);
  }

  async close(): Promise<void> {
    // The connection belongs to the caller.
  }
}
