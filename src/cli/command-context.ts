/**
 * The context every command gets (see command.ts): the store opened on demand, and the change
 * feed and audit log written as the command line. `close()` closes what was opened.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AuditLog, CLI_ACTOR } from '../changes/audit-log.ts';
import { ChangeFeed } from '../changes/change-feed.ts';
import { RedisSignal } from '../changes/redis-signal.ts';
import { redisNames } from '../config.ts';
import type { ShelfConfig } from '../config.ts';
import { Attributor } from '../feedback/attributor.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import type { CommandContext } from './command.ts';

export interface ContextOptions {
  config: Readonly<ShelfConfig>;
  log: Logger;
  out: NodeJS.WritableStream;
  /** @defaultValue opens (and migrates) `config.database` */
  openStore?: () => Promise<Store>;
}

export function createContext(o: ContextOptions): { ctx: CommandContext; close(): Promise<void> } {
  const { config, log } = o;
  let store: Store | null = null;
  let redis: Redis | null = null;
  const ctx: CommandContext = {
    config,
    log,
    out: o.out,
    async store() {
      store ??= await (o.openStore ?? (() => openStore(config.database)))();
      return store;
    },
    async publish(changes) {
      // Not started: this process applies nothing; servers read the log (told through Redis
      // when there is one, else on their poll).
      if (config.redis) redis ??= new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
      const feed = new ChangeFeed({
        store: await ctx.store(),
        signal: redis ? new RedisSignal(redis, redisNames(config.jobs.prefix).changes) : null,
        pollMs: 0,
        log,
      });
      await feed.publish(changes);
    },
    async attributor() {
      // No impressions are buffered in this process, and the lists imported events name were
      // written long ago: an unknown one gets no credit at once (no waiting for a replica).
      return new Attributor({
        store: await ctx.store(),
        windows: config.attributionWindowMs,
        clockSkewMs: config.attributionSkewMs,
        retries: 0,
      });
    },
    async audit(action, target, detail, actor = CLI_ACTOR) {
      await new AuditLog(await ctx.store()).record(actor, action, target, detail);
    },
  };
  return {
    ctx,
    async close() {
      if (store) await store.close();
      await redis?.quit();
    },
  };
}
