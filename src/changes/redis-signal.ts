/**
 * The change feed's signal through Redis pub/sub: a process that appended to the log publishes
 * its seq on one channel; every process subscribed reads the log from where it stands. Pub/sub
 * needs a connection of its own (a subscribed connection can do nothing else).
 */
import type { Redis } from 'ioredis';
import type { ChangeSignal } from './change-feed.ts';

export class RedisSignal implements ChangeSignal {
  private subscriber: Redis | null = null;

  constructor(
    private readonly redis: Redis,
    /** The cluster's channel (`redisNames().changes`). */
    private readonly channel: string,
  ) {}

  async announce(seq: number): Promise<void> {
    await this.redis.publish(this.channel, String(seq));
  }

  async listen(onSeq: (seq: number) => void, onReconnect: () => void): Promise<void> {
    // Its subscription waits for the connection (the commands' connection fails fast instead).
    const sub = this.redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined });
    this.subscriber = sub;
    let ready = 0;
    // The first `ready` is the connection; later ones are reconnects (ioredis resubscribes).
    sub.on('ready', () => {
      if (ready++ > 0) onReconnect();
    });
    sub.on('message', (channel: string, message: string) => {
      const seq = Number(message);
      if (channel === this.channel && Number.isSafeInteger(seq)) onSeq(seq);
    });
    // Errors are retried by ioredis; without a listener they would be thrown.
    sub.on('error', () => undefined);
    await sub.subscribe(this.channel);
  }

  async close(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = null;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}
