/**
 * The sharded ALS fit as the jobs benchmark measures it: seeded power-law interactions, the fit
 * in this process as coordinator, each half-step a BullMQ flow whose shards `workers` shard
 * workers take (in this process, each solving on a worker thread of its own, so they run in
 * parallel as separate processes would). Seconds per iteration from the fit's own clock.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AlsModel } from '../../models/als.ts';
import type { Csr } from '../../models/sparse.ts';
import { FlowShardTransport } from '../../src/jobs/als-shard-flow.ts';
import { AlsShardWorker } from '../../src/jobs/als-shard-worker.ts';
import { AlsShardStore } from '../../training/als-shard-store.ts';
import { ShardedAlsSolver } from '../../training/sharded-als-solver.ts';

/** Mean seconds of iterations 2…n (the first also starts the shard workers' threads). */
function steadyMean(seconds: readonly number[]): number {
  const steady = seconds.length > 1 ? seconds.slice(1) : seconds;
  return steady.reduce((a, b) => a + b, 0) / steady.length;
}

export interface ShardedFitRun {
  workers: number;
  shards: number;
  /** Mean over iterations 2…n (all when there is one). */
  secondsPerIteration: number;
  /** Each iteration's seconds (both half-steps, the shards' file exchange included). */
  iterationSeconds: number[];
  userFactors: Float32Array;
  itemFactors: Float32Array;
}

export interface ShardedFitOptions {
  redisUrl: string;
  workers: number;
  iterations: number;
  factors: number;
  /** Shards per half-step. */
  shards: number;
  seed: number;
  log: Logger;
}

export async function shardedFit(train: Csr, o: ShardedFitOptions): Promise<ShardedFitRun> {
  const root = await mkdtemp(join(tmpdir(), 'shelf-bench-shards-'));
  const prefix = `shelf-bench-shards-${process.pid}-${o.workers}`;
  const workers = Array.from(
    { length: o.workers },
    () => new AlsShardWorker({ url: o.redisUrl, prefix, root, log: o.log, lockMs: 30_000 }),
  );
  let transport: FlowShardTransport | null = null;
  try {
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    transport = await FlowShardTransport.open({ url: o.redisUrl, prefix, parallelism: o.workers });
    const iterationSeconds: number[] = [];
    const model = new AlsModel({
      factors: o.factors,
      iterations: o.iterations,
      seed: o.seed,
      sideSolver: new ShardedAlsSolver({
        store: new AlsShardStore(root),
        transport,
        shards: o.shards,
        log: o.log,
      }),
      onIteration: (i) => iterationSeconds.push(i.seconds),
    });
    await model.fit(train);
    return {
      workers: o.workers,
      shards: o.shards,
      secondsPerIteration: steadyMean(iterationSeconds),
      iterationSeconds,
      userFactors: model.userFactors,
      itemFactors: model.itemFactors,
    };
  } finally {
    await transport?.close();
    await Promise.all(workers.map((w) => w.close()));
    const redis = new Redis(o.redisUrl);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await rm(root, { recursive: true, force: true });
  }
}

/** The single-process fit with `threads` threads: seconds per iteration and its factors. */
export async function plainFit(
  train: Csr,
  o: Pick<ShardedFitOptions, 'iterations' | 'factors' | 'seed'> & { threads: number },
): Promise<{ secondsPerIteration: number; userFactors: Float32Array; itemFactors: Float32Array }> {
  const seconds: number[] = [];
  const model = new AlsModel({
    factors: o.factors,
    iterations: o.iterations,
    seed: o.seed,
    workers: o.threads,
    onIteration: (i) => seconds.push(i.seconds),
  });
  await model.fit(train);
  return {
    secondsPerIteration: steadyMean(seconds),
    userFactors: model.userFactors,
    itemFactors: model.itemFactors,
  };
}

/** Elements whose bits differ between a and b (arrays of one length). */
export function differingElements(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let n = 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) n++;
  return n;
}
