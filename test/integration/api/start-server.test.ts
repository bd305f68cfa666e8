import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../../src/app/start-server.ts';
import { createContext } from '../../../src/cli/command-context.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { readSeedMark, writeSeedMark } from '../../../src/demo/seed-mark.ts';
import jobs from '../../../src/cli/commands/jobs.ts';
import type { RunningServer } from '../../../src/app/start-server.ts';
import { loadConfig } from '../../../src/config.ts';
import { InputError } from '../../../src/errors.ts';
import { openStore } from '../../../src/store/open-store.ts';
import { freePort } from '../../helpers/server-process.ts';

describe('npm start’s code path on an empty data dir', () => {
  let dir: string;
  let server: RunningServer;
  const messages: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-start-'));
    const config = loadConfig({ SHELF_DATA_DIR: dir, SHELF_PORT: '0' });
    const start = () =>
      startServer({
        config,
        log: pino({ level: 'silent' }),
        demo: { items: 300, users: 300, events: 15_000 },
        train: { recipe: { factors: 16, iterations: 6 } },
        onProgress: (m, p) => {
          if (!p) messages.push(m);
        },
      });
    server = await start();
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('seeds, trains, and answers a recommendation over real HTTP with generated keys', async () => {
    expect(messages[0]).toBe('the store is empty: generating the demo storefront');
    expect(messages).toContain('no model version yet: training one');
    expect(server.generatedKeys).toBe(true);
    const key = server.apiKeys.find((k) => k.role === 'storefront')!.key;
    const { userId } = server.example;
    const res = await fetch(`${server.url}/v1/recommendations/personalized?userId=${userId}&limit=5`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { modelVersion: string; items: unknown[] };
    expect(body.modelVersion).toMatch(/^v\d{8}-\d{6}-\d{3}$/);
    expect(body.items).toHaveLength(5);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('plays two simulated days after seeding, so the metrics are not empty on the first start', async () => {
    expect(messages).toContain('simulating 2 days of 300 demo visitors');
    const admin = { authorization: `Bearer ${server.apiKeys.find((k) => k.role === 'admin')!.key}` };
    const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
    const res = await fetch(`${server.url}/v1/admin/metrics?from=${day(3)}&to=${day(0)}&groupBy=tier`, {
      headers: admin,
    });
    expect(res.status).toBe(200);
    const { rows } = (await res.json()) as { rows: { tier: string; impressions: number; clicks: number }[] };
    expect(rows.map((r) => r.tier).sort()).toEqual([
      'cart',
      'category',
      'homepage',
      'personalized',
      'similar',
    ]);
    expect(rows.every((r) => r.impressions > 0)).toBe(true);
    expect(rows.some((r) => r.clicks > 0)).toBe(true);
  });

  it('computes segments at start, and a visitor without history gets what new customers engage with', async () => {
    const admin = { authorization: `Bearer ${server.apiKeys.find((k) => k.role === 'admin')!.key}` };
    const shop = { authorization: `Bearer ${server.apiKeys.find((k) => k.role === 'storefront')!.key}` };
    let report = await fetch(`${server.url}/v1/admin/segments`, { headers: admin });
    for (let i = 0; i < 100 && report.status === 404; i++) {
      await new Promise((r) => setTimeout(r, 50));
      report = await fetch(`${server.url}/v1/admin/segments`, { headers: admin });
    }
    expect(report.status).toBe(200);
    const r = (await report.json()) as { users: number; trending: Record<string, { items: unknown[] }> };
    expect(r.users).toBeGreaterThan(0);
    expect(r.trending.new!.items.length).toBeGreaterThan(0);
    const res = await fetch(`${server.url}/v1/recommendations/homepage?sessionId=first-visit&limit=10`, {
      headers: shop,
    });
    const body = (await res.json()) as { items: { reason: string }[] };
    expect(body.items.some((i) => i.reason === 'popular with new customers')).toBe(true);
  });

  it('answers `shelf jobs` with no --url or --key: the configured address, the store’s admin key', async () => {
    const port = new URL(server.url).port;
    let text = '';
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const cli = createContext({
      config: loadConfig({ SHELF_DATA_DIR: dir, SHELF_PORT: port }),
      log: pino({ level: 'silent' }),
      out,
    });
    try {
      await jobs.run(['schedules', '--json'], cli.ctx);
    } finally {
      await cli.close();
    }
    const { schedules } = JSON.parse(text) as { schedules: { job: string }[] };
    expect(schedules.map((x) => x.job).sort()).toEqual(['aggregate-feedback', 'segments', 'train']);
    // No server there: one line naming the address, not a stack.
    const none = String(await freePort());
    const idle = createContext({
      config: loadConfig({ SHELF_DATA_DIR: dir, SHELF_PORT: none }),
      log: pino({ level: 'silent' }),
      out,
    });
    try {
      await expect(jobs.run(['list'], idle.ctx)).rejects.toThrow(
        new InputError(
          `no Shelf server answers at http://127.0.0.1:${none} (connect ECONNREFUSED 127.0.0.1:${none}): start one, or give --url and --key`,
        ),
      );
    } finally {
      await idle.close();
    }
  });

  it('reuses the store, the model and the generated keys on the next start', async () => {
    const ready = async () =>
      ((await (await fetch(`${server.url}/readyz`)).json()) as { modelVersion: string }).modelVersion;
    const version = await ready();
    const keys = server.apiKeys;
    await server.close();
    messages.length = 0;
    server = await startServer({
      config: loadConfig({ SHELF_DATA_DIR: dir, SHELF_PORT: '0' }),
      log: pino({ level: 'silent' }),
      onProgress: (m) => messages.push(m),
    });
    expect(messages).toEqual([]);
    expect(await ready()).toBe(version);
    // A storefront configured with the first start's key goes on working.
    expect(server.apiKeys).toEqual(keys);
    const shop = keys.find((k) => k.role === 'storefront')!.key;
    const res = await fetch(`${server.url}/v1/recommendations/homepage?limit=3`, {
      headers: { authorization: `Bearer ${shop}` },
    });
    expect(res.status).toBe(200);
  });
});

describe('npm start’s code path on a store holding a catalogue and no events yet', () => {
  it('mixes no demo data into it, and serves the catalogue while no version can be trained', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shelf-start-catalogue-'));
    const config = loadConfig({ SHELF_DATA_DIR: dir, SHELF_PORT: '0' });
    const store = await openStore(config.database);
    await store.upsertItems(
      ['mug', 'cup', 'bowl'].map((itemId) => ({
        itemId,
        title: itemId,
        categories: ['Kitchen'],
        status: 'active' as const,
        publishedAt: Date.UTC(2026, 0, 1),
        repurchasable: false,
        attributes: {},
      })),
    );
    await store.close();
    const messages: string[] = [];
    const server = await startServer({
      config,
      log: pino({ level: 'silent' }),
      demo: { items: 300, users: 300, events: 15_000 },
      onProgress: (m, p) => {
        if (!p) messages.push(m);
      },
    });
    try {
      expect(messages).toEqual([
        'no model version yet, and no events to train one on: serving trending until one is published',
      ]);
      const reader = await openStore(config.database);
      expect(await reader.stats()).toMatchObject({ items: 3, users: 0, events: 0 });
      await reader.close();
      const shop = server.apiKeys.find((k) => k.role === 'storefront')!.key;
      const res = await fetch(`${server.url}/v1/recommendations/homepage?limit=3`, {
        headers: { authorization: `Bearer ${shop}` },
      });
      expect(res.status).toBe(200);
      expect(
        ((await res.json()) as { items: { itemId: string }[] }).items.map((i) => i.itemId).sort(),
      ).toEqual(['bowl', 'cup', 'mug']);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('npm start after a first start killed while seeding the demo', () => {
  it('finishes the seeding on the clock it began with, and says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shelf-start-cut-'));
    const config = loadConfig({ SHELF_DATA_DIR: dir, SHELF_PORT: '0' });
    const demo = { items: 200, users: 150, events: 6000 };
    const now = Date.UTC(2026, 10, 30);
    const sf = generateStorefront({ ...demo, now });
    const all = [...sf.events()].flat();
    // What the killed start had written: the catalogue, the users and the first 2,000 events.
    const store = await openStore(config.database);
    await store.upsertItems(sf.items);
    await store.upsertUsers(sf.users);
    await store.insertEvents(all.slice(0, 2000));
    await store.close();
    await writeSeedMark(join(dir, 'demo'), { stage: 'import', now, today: now });
    const messages: string[] = [];
    const server = await startServer({
      config,
      log: pino({ level: 'silent' }),
      demo,
      simulate: false,
      train: { recipe: { factors: 8, iterations: 3 } },
      onProgress: (m, p) => {
        if (!p) messages.push(m);
      },
    });
    try {
      expect(messages[0]).toBe('the demo storefront was cut short while seeding: completing it');
      const after = await openStore(config.database);
      // Every event of the same demo, once each: the rest were added, none made twice.
      expect((await after.stats()).events).toBe(all.length);
      await after.close();
      expect(await readSeedMark(join(dir, 'demo'))).toBeNull();
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
