/**
 * Sharded ALS over BullMQ on the real Redis: the fit (this process) runs each half-step as a
 * flow whose shard children two shard-worker processes take. The factors must be bit-identical
 * to the single-process fit with the same seed — also when one worker is killed (SIGKILL) in
 * the middle of a shard, which BullMQ's stalled-job check then hands to the other worker.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AlsModel } from '../../../models/als.ts';
import type { AlsOptions } from '../../../models/als.ts';
import { FlowShardTransport } from '../../../src/jobs/als-shard-flow.ts';
import { AlsShardStore } from '../../../training/als-shard-store.ts';
import { powerLawInteractions } from '../../../training/datasets/synthetic-interactions.ts';
import { ShardedAlsSolver } from '../../../training/sharded-als-solver.ts';
import { bitDifferences, sameBits } from '../../helpers/same-bits.ts';
import { clearRedisPrefix, REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const ENTRY = fileURLToPath(new URL('../../helpers/als-shard-worker-process.ts', import.meta.url));
const LOCK_MS = 1000;

interface ShardWorkerProcess {
  child: ChildProcess;
  /** Ids of the shard jobs it started, in order. */
  shards: string[];
  output(): string;
  exited: Promise<unknown>;
}

/** Starts a shard worker process and waits until it is ready. */
async function startShardWorker(env: Record<string, string>): Promise<ShardWorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const shards: string[] = [];
  let text = '';
  let pending = '';
  let ready = () => {};
  const isReady = new Promise<void>((r) => (ready = r));
  child.stdout!.on('data', (d: Buffer) => {
    text += d.toString();
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) {
      const msg = JSON.parse(l) as { ready?: boolean; shard?: string };
      if (msg.ready) ready();
      if (msg.shard) shards.push(msg.shard);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  await Promise.race([
    isReady,
    exited.then(() => {
      throw new Error(`shard worker exited before it was ready:\n${text}`);
    }),
  ]);
  return { child, shards, output: () => text, exited };
}

const train = powerLawInteractions({ users: 3000, items: 400, interactions: 40_000, seed: 21 });
const OPTIONS: AlsOptions = { factors: 16, iterations: 3, seed: 4, workers: 1 };

describe.runIf(available)('sharded ALS on BullMQ workers', () => {
  let root = '';
  let prefix = '';
  let env: Record<string, string> = {};
  let plain: AlsModel;
  const workers: ShardWorkerProcess[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shelf-sharded-als-'));
    prefix = uniqueName('shelf-sharded-als');
    env = {
      ALS_SHARD_REDIS_URL: REDIS_URL,
      ALS_SHARD_PREFIX: prefix,
      ALS_SHARD_ROOT: root,
      ALS_SHARD_LOCK_MS: String(LOCK_MS),
    };
    plain = new AlsModel(OPTIONS);
    await plain.fit(train);
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await w.exited;
    }
  });

  afterAll(async () => {
    if (prefix) await clearRedisPrefix(prefix);
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function shardedFit(fitId: string): Promise<AlsModel> {
    const transport = await FlowShardTransport.open({ url: REDIS_URL, prefix, halfStepTimeoutMs: 60_000 });
    try {
      const model = new AlsModel({
        ...OPTIONS,
        sideSolver: new ShardedAlsSolver({ store: new AlsShardStore(root), transport, shards: 6, fitId }),
      });
      await model.fit(train);
      return model;
    } finally {
      await transport.close();
    }
  }

  function expectPlainFactors(model: AlsModel): void {
    expect(bitDifferences(model.userFactors, plain.userFactors)).toEqual(sameBits(plain.userFactors.length));
    expect(bitDifferences(model.itemFactors, plain.itemFactors)).toEqual(sameBits(plain.itemFactors.length));
  }

  it('refuses to start a sharded fit when no shard worker is connected', async () => {
    await expect(FlowShardTransport.open({ url: REDIS_URL, prefix })).rejects.toThrow(
      /no ALS shard worker is connected/,
    );
  });

  it('fits through flows on two worker processes to the single-process factors', async () => {
    workers.push(await startShardWorker(env), await startShardWorker(env));
    const model = await shardedFit('two-workers');
    expectPlainFactors(model);
    // 3 iterations × 2 sides × 6 shards, each run once, spread over both processes.
    const [a, b] = workers as [ShardWorkerProcess, ShardWorkerProcess];
    expect(a.shards.length + b.shards.length).toBe(36);
    expect(new Set([...a.shards, ...b.shards]).size).toBe(36);
    expect(a.shards.length).toBeGreaterThan(0);
    expect(b.shards.length).toBeGreaterThan(0);
    expect(await readdir(root)).toEqual([]);
  });

  it('retries the shard of a worker killed mid-shard and still gives the same factors', async () => {
    // The doomed worker holds every shard it takes for a minute: it dies holding its first.
    const doomed = await startShardWorker({ ...env, ALS_SHARD_HOLD_MS: '60000' });
    const survivor = await startShardWorker(env);
    workers.push(doomed, survivor);
    const fit = shardedFit('one-killed');
    let killed: string | null = null;
    const killer = (async () => {
      while (doomed.shards.length === 0) await new Promise((r) => setTimeout(r, 20));
      killed = doomed.shards[0]!;
      doomed.child.kill('SIGKILL');
      await doomed.exited;
    })();
    const model = await fit;
    await killer;
    expectPlainFactors(model);
    expect(doomed.child.signalCode).toBe('SIGKILL');
    expect(doomed.shards).toEqual([killed]);
    // The lost shard ran again on the survivor, which ran every shard once but that one twice at most.
    expect(survivor.shards).toContain(killed);
    expect(new Set(survivor.shards).size).toBe(36);
    expect(await readdir(root)).toEqual([]);
  });
});
