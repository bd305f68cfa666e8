/**
 * A worker whose Redis restarted empty adds the job schedules back once it reconnects: before, the
 * schedules were set at the worker's start only, and nothing ran on schedule again (train,
 * segments, the feedback aggregation) until a worker restarted, while `GET /v1/admin/schedules`
 * listed every one as null. Redis here is the test Redis behind a proxy that the test cuts, with
 * the cluster's keys deleted meanwhile. The outage is said once by each connection, not at every
 * reconnection attempt.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startWorker } from '../../../src/app/start-worker.ts';
import type { RunningWorker } from '../../../src/app/start-worker.ts';
import { loadConfig } from '../../../src/config.ts';
import { BullmqJobs } from '../../../src/jobs/bullmq-jobs.ts';
import { redisProxy } from '../../helpers/redis-proxy.ts';
import type { RedisProxy } from '../../helpers/redis-proxy.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);

describe.runIf(available)('a worker over a Redis that restarted empty', () => {
  const prefix = uniqueName('restarted');
  let dir: string | undefined;
  let proxy: RedisProxy | undefined;
  let worker: RunningWorker | undefined;
  let queue: BullmqJobs | undefined;
  let direct: Redis | undefined;

  afterAll(async () => {
    await worker?.close(0);
    await queue?.close();
    await proxy?.close();
    const keys = (await direct?.keys(`${prefix}*`)) ?? [];
    if (keys.length) await direct!.del(...keys);
    await direct?.quit();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('adds the schedules back when it reconnects', async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-restarted-'));
    proxy = await redisProxy(REDIS_URL);
    const config = loadConfig({
      SHELF_DATA_DIR: dir,
      REDIS_URL: proxy.url,
      SHELF_QUEUE_PREFIX: prefix,
      SHELF_SCHEDULE_SEGMENTS: 'off',
    });
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    worker = await startWorker(config, log);
    queue = new BullmqJobs({ url: REDIS_URL, prefix, retry: { attempts: 1, backoffMs: 1000 } });
    direct = new Redis(REDIS_URL);
    const scheduled = async () =>
      Object.fromEntries((await queue!.schedules()).map((s) => [s.job, s.schedule !== null]));
    const all = { train: true, segments: false, 'aggregate-feedback': true };
    expect(await scheduled()).toEqual(all);

    await proxy.cut();
    const keys = await direct.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    await direct.del(...keys);
    expect(await scheduled()).toEqual({ train: false, segments: false, 'aggregate-feedback': false });
    // Three seconds without Redis: said once by each connection, not at every attempt.
    await new Promise((r) => setTimeout(r, 3000));
    const said = lines.filter((l) => l.level >= 40).map((l) => l.msg);
    expect(said.length, said.join(' | ')).toBeGreaterThan(0);
    // The shared connection, the job queue, its worker, the ALS shard worker.
    expect(said.length, said.join(' | ')).toBeLessThanOrEqual(4);
    await proxy.restore();
    const deadline = Date.now() + 20_000;
    while (JSON.stringify(await scheduled()) !== JSON.stringify(all) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(await scheduled()).toEqual(all);
  });
});
