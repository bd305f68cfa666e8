/**
 * A version carries the content vectors of the catalogue's items its fit never saw: published
 * with it, in its index after the model's items, so that loading it (every replica start, every
 * swap) encodes and inserts none of them. Only items newer than the version are added at load.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { VERSION_FILES as F } from '../../../src/registry/version-files.ts';
import { Engine } from '../../../src/serving/engine.ts';
import { ItemsHeard, loadServed } from '../../../src/serving/served.ts';
import { DEFAULT_SERVING_CONFIG } from '../../../src/serving/types.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, Store } from '../../../src/store/types.ts';
import { trainVersion } from '../../../training/publish.ts';

const log = pino({ level: 'silent' });
const NOW = Date.UTC(2025, 3, 1, 12);

describe('content vectors published with a version', () => {
  let dir: string;
  let store: Store;
  let registry: ModelRegistry;
  let version: string;
  let quiet: Item[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-content-items-'));
    store = await openSqliteStore(':memory:');
    registry = new ModelRegistry(join(dir, 'models'));
    const sf = generateStorefront({ seed: 3, items: 300, users: 300, events: 20_000, now: NOW });
    await exportStorefront(sf, { store });
    // Items no event names: twins of stocked items under new ids.
    quiet = sf.items.slice(0, 25).map((i) => ({ ...i, itemId: `quiet-${i.itemId}` }));
    await store.upsertItems(quiet);
    const r = await trainVersion({ store, registry, recipe: { factors: 8, iterations: 4 }, log });
    version = r.manifest.version;
  }, 60_000);
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const source = () => ({
    registry,
    store,
    now: () => NOW,
    config: DEFAULT_SERVING_CONFIG,
    heard: new ItemsHeard(),
  });

  it('lists every catalogue item the fit never saw, in item id order, with its vector', async () => {
    const manifest = await registry.manifest(version);
    const ids = JSON.parse((await registry.file(version, F.contentItems)).toString('utf8')) as string[];
    const fitted = new Set(JSON.parse((await registry.file(version, F.items)).toString('utf8')) as string[]);
    for (const q of quiet) expect(ids).toContain(q.itemId);
    expect(ids.every((id) => !fitted.has(id))).toBe(true);
    expect(ids).toEqual([...ids].sort());
    expect(manifest.params.contentItems).toBe(ids.length);
    expect((await registry.file(version, F.contentVectors)).length).toBe(ids.length * 8 * 4);
  });

  it('loads them into the index as the encoder would at load, and adds only newer items', async () => {
    const s = await loadServed(source(), version);
    const { model } = s;
    const n = model.itemIds.length + model.contentItemIds.length;
    expect(model.contentItemIds.length).toBeGreaterThanOrEqual(quiet.length);
    expect(model.index!.size).toBe(n); // nothing added: no item is newer than the version
    for (const q of quiet) {
      const i = s.catalog.indexOf(q.itemId)!;
      expect(i).toBeGreaterThanOrEqual(model.itemIds.length);
      const fresh = new Float32Array(8);
      model.encoder!.encodeInto([s.catalog.item(i)!], fresh);
      expect(Array.from(s.vectors.vector(i)!)).toEqual(Array.from(fresh));
    }
    // An item newer than the version is added at load, after the published ones.
    const newer = { ...quiet[0]!, itemId: 'zz-newer' };
    await store.upsertItems([newer]);
    try {
      const again = await loadServed(source(), version);
      expect(again.model.index!.size).toBe(n + 1);
      expect(again.catalog.indexOf('zz-newer')).toBe(n);
      expect(again.vectors.vector(n)).not.toBeNull();
    } finally {
      await store.upsertItems([{ ...newer, status: 'delisted' }]);
    }
  });

  it('serves an item the fit never saw through its published content vector', async () => {
    const engine = new Engine({ store, realtime: new MemoryRealtime(), registry, log, now: () => NOW });
    await engine.swap(version);
    const r = await engine.recommend({ tier: 'similar', itemId: quiet[3]!.itemId, limit: 10 });
    expect(r.items.length).toBeGreaterThan(0);
    expect(r.items[0]!.reason).toMatch(/^similar to "/);
  });
});
