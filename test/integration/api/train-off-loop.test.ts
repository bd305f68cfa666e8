/**
 * Issue #15's freeze, at the scale of the suite: in embedded mode a train job used to stop the
 * API answering for as long as it ran, and the segments job for its seconds. Both now run in a
 * child process; the server keeps answering meanwhile, serves the version the train job promoted
 * once it is done, and the segment report the segments job computed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import { trainVersion } from '../../../training/publish.ts';
import { client, startServerProcess } from '../../helpers/server-process.ts';
import type { ServerProcess } from '../../helpers/server-process.ts';

const SHOP = 'storefront-key-trainloop-01';
const ADMIN = 'admin-key-trainloop-0123456';
const { call, ask } = client({ storefront: SHOP, admin: ADMIN });

describe('train and segments jobs while the API serves (embedded mode)', () => {
  let dir: string;
  let server: ServerProcess;
  let first: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-train-loop-'));
    const store = await openSqliteStore(join(dir, 'shelf.sqlite'));
    await exportStorefront(
      generateStorefront({ seed: 9, items: 1500, users: 1500, events: 60_000, now: Date.now() }),
      {
        store,
      },
    );
    const registry = new ModelRegistry(join(dir, 'models'));
    first = (
      await trainVersion({
        store,
        registry,
        recipe: { factors: 8, iterations: 3, tuneRules: false },
        log: pino({ level: 'silent' }),
      })
    ).manifest.version;
    await registry.promote(first);
    await store.close();
    server = await startServerProcess({
      SHELF_DATA_DIR: dir,
      SHELF_API_KEYS: `storefront:${SHOP},admin:${ADMIN}`,
      SHELF_SCHEDULE_TRAIN: 'off',
      SHELF_SCHEDULE_SEGMENTS: 'off',
      SHELF_SCHEDULE_AGGREGATE: 'off',
      SHELF_FEED_POLL_MS: '200',
      SHELF_ANSWER_CACHE_MS: '0',
      SHELF_LOG_LEVEL: 'warn',
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps answering within 100 ms while the jobs train and classify, then serves what they made', async () => {
    // The report of the segments job at start, if it is done yet (it runs in a child process too).
    const before = (await call(server, 'GET', '/v1/admin/segments').catch(() => ({
      computedAt: '1970-01-01',
    }))) as {
      computedAt: string;
    };
    const job = (await call(server, 'POST', '/v1/admin/train')) as { id: string };
    const segmentsJob = (await call(server, 'POST', '/v1/admin/segments')) as { id: string };
    const latencies: number[] = [];
    let state = 'queued';
    let segmentsState = 'queued';
    let result: { promoted: boolean } | undefined;
    const end = Date.now() + 180_000;
    const live = (s: string) => s === 'queued' || s === 'running';
    while ((live(state) || live(segmentsState)) && Date.now() < end) {
      const t0 = performance.now();
      await ask(
        server,
        `personalized?userId=u-${String(1 + (latencies.length % 900)).padStart(5, '0')}&limit=10`,
      );
      latencies.push(performance.now() - t0);
      const status = (await call(server, 'GET', `/v1/admin/jobs/${job.id}`)) as {
        state: string;
        result?: { promoted: boolean };
      };
      ({ state } = status);
      result = status.result;
      segmentsState = ((await call(server, 'GET', `/v1/admin/jobs/${segmentsJob.id}`)) as { state: string })
        .state;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(state).toBe('completed');
    expect(segmentsState).toBe('completed');
    // The report the child computed is this server's now.
    const after = (await call(server, 'GET', '/v1/admin/segments')) as { computedAt: string; users: number };
    expect(Date.parse(after.computedAt)).toBeGreaterThan(Date.parse(before.computedAt));
    expect(after.users).toBeGreaterThan(1000);
    expect(latencies.length).toBeGreaterThan(10);
    latencies.sort((a, b) => a - b);
    const p90 = latencies[Math.floor(latencies.length * 0.9)]!;
    // Every answer comes while a CPU-bound fit runs beside it on a 2-core machine: the bound is
    // the 100 ms for nine in ten, and no answer waits for the job (it used to take all of it).
    expect(p90).toBeLessThan(100);
    expect(latencies.at(-1)!).toBeLessThan(1000);
    if (result?.promoted) {
      const deadline = Date.now() + 5000;
      let served = first;
      while (served === first && Date.now() < deadline) {
        served = (await ask(server, 'homepage?limit=3')).modelVersion ?? first;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(served).not.toBe(first);
    }
  }, 240_000);
});
