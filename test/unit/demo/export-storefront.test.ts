import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import { DEMO_FILES, exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import type { StorefrontOptions } from '../../../src/demo/generate-storefront.ts';
import { readPlanted } from '../../../src/demo/planted.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';
import { validateEvent, validateItem, validateUser } from '../../../src/store/validate.ts';

const OPTIONS: StorefrontOptions = { seed: 3, items: 200, users: 150, events: 8000, batchSize: 700 };
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shelf-demo-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function lines(file: string): Promise<unknown[]> {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);
}

describe('exportStorefront to files', () => {
  it('writes items, users, events and planted.json whose every record validates', async () => {
    const dir = await tempDir();
    const storefront = generateStorefront(OPTIONS);
    const phases = new Set<string>();
    const summary = await exportStorefront(storefront, { dir, onProgress: (p) => phases.add(p.phase) });
    expect((await readdir(dir)).sort()).toEqual([
      'events.jsonl',
      'items.jsonl',
      'planted.json',
      'users.jsonl',
    ]);
    expect(summary.files).toEqual(
      ['items', 'users', 'events', 'planted'].map((k) => join(dir, DEMO_FILES[k as 'items'])),
    );
    expect([...phases]).toEqual(['events']);

    const items = await lines(join(dir, 'items.jsonl'));
    const users = await lines(join(dir, 'users.jsonl'));
    const events = await lines(join(dir, 'events.jsonl'));
    expect(items.length).toBe(200);
    expect(users.length).toBe(150);
    expect(events.length).toBe(summary.events);
    expect(Object.values(summary.eventsByType).reduce((a, b) => a + b, 0)).toBe(summary.events);
    const now = storefront.options.now;
    expect(items.filter((r) => !validateItem(r, now).ok)).toEqual([]);
    expect(users.filter((r) => !validateUser(r, now).ok)).toEqual([]);
    expect(events.filter((r) => !validateEvent(r).ok)).toEqual([]);
    // DESIGN.md field names, ISO-8601 times.
    const first = events[0] as Record<string, unknown>;
    expect(Object.keys(first).slice(0, 2)).toEqual(['eventId', 'type']);
    expect(first.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Date.parse(first.timestamp as string)).toBe(summary.firstEventAt);
    expect((items[0] as Record<string, unknown>).publishedAt).toMatch(/Z$/);
    expect((users[0] as Record<string, unknown>).createdAt).toMatch(/Z$/);

    const planted = await readPlanted(dir);
    expect(planted.seed).toBe(3);
    expect(Object.keys(planted.users)).toEqual(storefront.users.map((u) => u.userId));
    expect(planted).toEqual(await readPlanted(join(dir, 'planted.json')));
  });

  it('writes byte-identical files for the same options', async () => {
    const [a, b] = [await tempDir(), await tempDir()];
    await exportStorefront(generateStorefront(OPTIONS), { dir: a });
    await exportStorefront(generateStorefront(OPTIONS), { dir: b });
    for (const f of Object.values(DEMO_FILES)) {
      expect((await readFile(join(a, f))).equals(await readFile(join(b, f)))).toBe(true);
    }
    const c = await tempDir();
    await exportStorefront(generateStorefront({ ...OPTIONS, seed: 4 }), { dir: c });
    expect((await readFile(join(a, 'events.jsonl'))).equals(await readFile(join(c, 'events.jsonl')))).toBe(
      false,
    );
  });

  it('writes only planted.json when the JSONL files are turned off', async () => {
    const dir = await tempDir();
    const summary = await exportStorefront(generateStorefront(OPTIONS), { dir, jsonl: false });
    expect(await readdir(dir)).toEqual(['planted.json']);
    expect(summary.events).toBeGreaterThan(0);
  });

  it('leaves no half-written file behind when the store fails', async () => {
    const dir = await tempDir();
    const failing = {
      kind: 'sqlite',
      upsertItems: async (items: unknown[]) => ({ written: items.length }),
      upsertUsers: async (users: unknown[]) => ({ written: users.length }),
      insertEvents: async () => {
        throw new Error('disk full');
      },
    } as unknown as Store;
    await expect(exportStorefront(generateStorefront(OPTIONS), { dir, store: failing })).rejects.toThrow(
      'disk full',
    );
    expect((await readdir(dir)).sort()).toEqual(['items.jsonl', 'users.jsonl']);
  });
});

describe('exportStorefront into a store', () => {
  it('stores every item, user and event in SQLite, and a second run adds only duplicates', async () => {
    const store = await openSqliteStore(':memory:');
    try {
      const storefront = generateStorefront(OPTIONS);
      const summary = await exportStorefront(storefront, { store, importBatchSize: 64 });
      expect(summary.files).toEqual([]);
      expect(summary.imported).toEqual({ items: 200, users: 150, events: summary.events, duplicates: 0 });
      const stats = await store.stats();
      expect(stats.items).toBe(200);
      expect(stats.activeItems).toBe(storefront.items.filter((i) => i.status === 'active').length);
      expect(stats.users).toBe(150);
      expect(stats.events).toBe(summary.events);
      expect(stats.eventsByType).toEqual(summary.eventsByType);
      expect(stats.firstEventAt).toBe(summary.firstEventAt);
      expect(stats.lastEventAt).toBe(summary.lastEventAt);
      const item = storefront.items[17]!;
      expect(await store.getItem(item.itemId)).toEqual(item);

      const again = await exportStorefront(storefront, { store });
      expect(again.imported!.events).toBe(0);
      expect(again.imported!.duplicates).toBe(summary.events);
      expect((await store.stats()).events).toBe(summary.events);
    } finally {
      await store.close();
    }
  });
});

describe('readPlanted', () => {
  it('fails with InputError on a missing or malformed file', async () => {
    const dir = await tempDir();
    await expect(readPlanted(dir)).rejects.toThrow(InputError);
    await writeFile(join(dir, 'planted.json'), JSON.stringify({ schemaVersion: 99 }));
    await expect(readPlanted(dir)).rejects.toThrow(/schemaVersion/);
  });
});
