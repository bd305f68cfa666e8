/**
 * A replica's first start on PostgreSQL and Redis: no demo data in the shop's database, and the
 * first version trained by the cluster's workers, queued once however many replicas start.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRST_VERSION_JOB, startServer } from '../../../src/app/start-server.ts';
import type { RunningServer } from '../../../src/app/start-server.ts';
import { Worker } from 'bullmq';
import { BullmqJobs, QUEUE_NAME } from '../../../src/jobs/bullmq-jobs.ts';
import { loadConfig } from '../../../src/config.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { clusterGround, servicesAvailable } from '../../helpers/services.ts';
import type { ClusterGround } from '../../helpers/services.ts';

const available = await servicesAvailable();

describe.runIf(available)('a replica’s first start on PostgreSQL and Redis', () => {
  let ground: ClusterGround;
  const servers: RunningServer[] = [];
  const start = async (messages: string[]) => {
    const server = await startServer({
      config: loadConfig({
        ...ground.env,
        SHELF_PORT: '0',
        SHELF_API_KEYS: 'admin:first-start-admin-key-0123',
      }),
      log: pino({ level: 'silent' }),
      simulate: false,
      onProgress: (m, p) => {
        if (!p) messages.push(m);
      },
    });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    ground = await clusterGround('first_start');
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
    await ground?.close();
  });

  it('writes no demo data to an empty database, and serves', async () => {
    const messages: string[] = [];
    const server = await start(messages);
    expect(messages).toContain(
      'the store is empty: import your catalogue and events (no demo data is written to PostgreSQL)',
    );
    expect(messages.some((m) => m.includes('demo storefront'))).toBe(false);
    expect(await ground.store.hasEvents()).toBe(false);
    expect((await ground.store.stats()).items).toBe(0);
    const res = await fetch(`${server.url}/readyz`);
    expect(res.status).toBe(200);
    await server.close();
    servers.length = 0;
  }, 60_000);

  it('queues the first version for the workers once, however many replicas start together', async () => {
    const sf = generateStorefront({ seed: 3, items: 100, users: 100, events: 3000 });
    await exportStorefront(sf, { store: ground.store });
    const said: string[][] = [[], []];
    await Promise.all(said.map((m) => start(m)));
    for (const m of said) {
      expect(m).toContain(
        'no model version yet: a train job is queued for the workers; serving trending until it is published',
      );
      expect(m).not.toContain('no model version yet: training one');
    }
    const queue = new BullmqJobs({
      url: ground.env.REDIS_URL!,
      prefix: ground.prefix,
      retry: { attempts: 1, backoffMs: 10 },
    });
    const worker = new Worker(QUEUE_NAME, async () => ({ promoted: false }), {
      connection: { url: ground.env.REDIS_URL! },
      prefix: ground.prefix,
      autorun: false,
    });
    try {
      const trains = async () => (await queue.list(20)).filter((j) => j.name === 'train');
      expect((await trains()).map((j) => [j.id, j.state])).toEqual([[FIRST_VERSION_JOB, 'queued']]);
      // A first job that ended without a version (here: a worker that publishes nothing): the
      // next replica to start queues it again.
      void worker.run();
      for (let i = 0; i < 100 && (await trains())[0]?.state !== 'completed'; i++)
        await new Promise((r) => setTimeout(r, 50));
      await worker.close();
      expect((await trains()).map((j) => j.state)).toEqual(['completed']);
      const again: string[] = [];
      await start(again);
      expect(again).toContain(
        'no model version yet: a train job is queued for the workers; serving trending until it is published',
      );
      expect((await trains()).map((j) => [j.id, j.state])).toEqual([[FIRST_VERSION_JOB, 'queued']]);
    } finally {
      await worker.close();
      await queue.queue.close();
    }
  }, 60_000);
});
