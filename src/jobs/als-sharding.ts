/**
 * `SHELF_ALS_SHARDS` wiring: the side solver a train fit uses when sharding is on. With Redis,
 * its shards go through BullMQ flows to whichever `shelf worker` is free (each runs an
 * `AlsShardWorker`); without, they run over this process's worker threads. Both exchange the
 * factors through `<modelsDir>/als-shards/`, a filesystem every worker mounts like the models.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AlsShardStore } from '../../training/als-shard-store.ts';
import { ThreadShardTransport } from '../../training/als-shard-threads.ts';
import { ShardedAlsSolver } from '../../training/sharded-als-solver.ts';
import type { AlsShardTransport } from '../../training/sharded-als-solver.ts';
import { FlowShardTransport } from './als-shard-flow.ts';

/** What of the config sharding reads (the config module sits above the jobs, so not its type). */
export interface ShardingConfig {
  modelsDir: string;
  alsShards: { shards: number; threads: number };
  redis: { url: string } | null;
  jobs: { prefix: string };
}

/** Where sharded fits keep their files: under the models dir, which every worker mounts. */
export function alsShardRoot(config: Pick<ShardingConfig, 'modelsDir'>): string {
  return join(config.modelsDir, 'als-shards');
}

export interface ShardedAls {
  solver: ShardedAlsSolver;
  close(): Promise<void>;
}

/** The configured sharded solver, or null when `SHELF_ALS_SHARDS` is 0. */
export async function openShardedAls(
  config: Readonly<ShardingConfig>,
  log: Logger,
): Promise<ShardedAls | null> {
  const { shards, threads } = config.alsShards;
  if (shards === 0) return null;
  const root = alsShardRoot(config);
  const transport: AlsShardTransport = config.redis
    ? await FlowShardTransport.open({ url: config.redis.url, prefix: config.jobs.prefix })
    : new ThreadShardTransport({ root, threads });
  log.info(
    { shards, over: config.redis ? 'BullMQ workers' : `${threads} threads` },
    'ALS fits run in shards',
  );
  return {
    solver: new ShardedAlsSolver({ store: new AlsShardStore(root), transport, shards, log }),
    close: () => transport.close(),
  };
}
