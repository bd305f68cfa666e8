/**
 * A train job with SHELF_ALS_SHARDS on two `shelf worker` processes (real PostgreSQL and Redis):
 * the job's `shelf train` child splits each half-step of its fits into shard jobs (BullMQ
 * flows), which the workers' shard workers solve. The version it publishes has the factors,
 * byte for byte, of the same recipe and seed fitted unsharded in this process.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { ALS_SHARD_JOB, ALS_SHARD_QUEUE } from '../../../src/jobs/als-shard-flow.ts';
import { BullmqJobs } from '../../../src/jobs/bullmq-jobs.ts';
import type { JobStatus } from '../../../src/jobs/job-types.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { VERSION_FILES } from '../../../src/registry/version-files.ts';
import type { Store } from '../../../src/store/types.ts';
import { trainVersion } from '../../../training/publish.ts';
import { startWorkerProcess } from '../../helpers/server-process.ts';
import type { ServerProcess } from '../../helpers/server-process.ts';
import { clusterGround, REDIS_URL, servicesAvailable } from '../../helpers/services.ts';
import type { ClusterGround } from '../../helpers/services.ts';

const available = await servicesAvailable();

describe.runIf(available)('a sharded train job on two workers', () => {
  let ground: ClusterGround | undefined;
  let dir: string;
  let prefix: string;
  let store: Store;
  let queue: BullmqJobs;
  const workers: ServerProcess[] = [];

  beforeAll(async () => {
    ground = await clusterGround('shelf_sharded_train');
    ({ dir, prefix, store } = ground);
    await exportStorefront(
      generateStorefront({ seed: 4, items: 200, users: 300, events: 9000, now: Date.now() }),
      { store },
    );
    const env = { ...ground.env, SHELF_ALS_SHARDS: '4' };
    workers.push(await startWorkerProcess(env), await startWorkerProcess(env));
    queue = new BullmqJobs({ url: REDIS_URL, prefix, retry: { attempts: 1, backoffMs: 100 } });
  }, 90_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    await queue?.close();
    await ground?.close();
  });

  it('publishes the factors of the unsharded fit, its shards solved by both workers', async () => {
    const job = await queue.enqueue('train', { factors: 8, iterations: 3, seed: 5 });
    const end = Date.now() + 90_000;
    let s: JobStatus | null = null;
    while (Date.now() < end) {
      s = await queue.status(job.id);
      if (s?.state === 'completed' || s?.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s?.state, `${JSON.stringify(s)}\n${workers.map((w) => w.output()).join('\n')}`).toBe('completed');

    const registry = new ModelRegistry(join(dir, 'models'));
    const [version] = await registry.versions();
    const reference = new ModelRegistry(join(dir, 'reference'));
    const { manifest } = await trainVersion({
      store,
      registry: reference,
      recipe: { factors: 8, iterations: 3, tuneRules: false },
      seed: 5,
      log: pino({ level: 'silent' }),
    });
    for (const file of [VERSION_FILES.userFactors, VERSION_FILES.itemFactors]) {
      const sharded = await readFile(join(dir, 'models', version!, file));
      const plain = await readFile(join(dir, 'reference', manifest.version, file));
      expect(plain.length).toBeGreaterThan(0);
      expect(sharded.equals(plain)).toBe(true);
    }

    // Two fits (holdout, final) × 3 iterations × 2 sides × 4 shards.
    const shards = new Queue(ALS_SHARD_QUEUE, { connection: { url: REDIS_URL }, prefix });
    try {
      const done = (await shards.getJobs(['completed'], 0, -1)).filter((j) => j.name === ALS_SHARD_JOB);
      expect(done).toHaveLength(48);
      expect(new Set(done.map((j) => j.processedBy)).size).toBe(2);
    } finally {
      await shards.close();
    }
    expect(await readdir(join(dir, 'models', 'als-shards'))).toEqual([]);
  }, 120_000);
});
