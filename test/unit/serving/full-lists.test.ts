/**
 * Full lists on a store like an imported Online Retail one: uncategorised items, events years
 * older than the engine's clock (trending empty), no segment lists, a page item nobody knows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { Engine } from '../../../src/serving/engine.ts';
import type { Tier } from '../../../src/serving/types.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, ShelfEvent, Store } from '../../../src/store/types.ts';
import { trainVersion } from '../../../training/publish.ts';

const log = pino({ level: 'silent' });
const THEN = Date.UTC(2011, 5, 1);
const NOW = Date.UTC(2026, 11, 1);

describe('full lists on old, uncategorised data', () => {
  let dir: string;
  let store: Store;
  let engine: Engine;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-full-'));
    store = await openSqliteStore(':memory:');
    const items: Item[] = Array.from({ length: 120 }, (_, i) => ({
      itemId: `i${i}`,
      title: `Item ${i}`,
      categories: [],
      status: 'active',
      publishedAt: THEN - 86_400_000,
      repurchasable: false,
      attributes: {},
    }));
    await store.upsertItems(items);
    const rng = createRng(7);
    const events: ShelfEvent[] = [];
    for (let u = 0; u < 80; u++)
      for (let k = 0; k < 12; k++)
        events.push({
          eventId: `e${u}-${k}`,
          type: 'purchase',
          userId: `u${u}`,
          itemId: `i${(u % 6) * 20 + rng.int(20)}`,
          timestamp: THEN + (u * 12 + k) * 3_600_000,
        });
    await store.insertEvents(events);
    const registry = new ModelRegistry(join(dir, 'models'));
    const { manifest } = await trainVersion({
      store,
      registry,
      recipe: { factors: 8, iterations: 4 },
      seed: 1,
      log,
    });
    await registry.promote(manifest.version);
    engine = new Engine({ store, realtime: new MemoryRealtime(), registry, log, now: () => NOW });
    await engine.swap();
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each<[Tier, Record<string, string>]>([
    ['homepage', {}],
    ['homepage', { sessionId: 'first-visit' }],
    ['personalized', { userId: 'u3' }],
    ['personalized', { userId: 'someone-new' }],
    ['similar', { itemId: 'i5' }],
    ['similar', { itemId: 'no-such-item' }],
    ['cart', { cartItemIds: 'i1' }],
  ])('%s %j: 20 distinct items', async (tier, who) => {
    const r = await engine.recommend({
      tier,
      limit: 20,
      ...who,
      ...(who.cartItemIds ? { cartItemIds: [who.cartItemIds] } : {}),
    });
    expect(r.items).toHaveLength(20);
    expect(new Set(r.items.map((i) => i.itemId)).size).toBe(20);
  });

  it("keeps a user's purchases out of a full list", async () => {
    const bought = new Set((await store.userItems('u3', ['purchase'])).map((i) => i.itemId));
    const r = await engine.recommend({ tier: 'personalized', userId: 'u3', limit: 20 });
    expect(r.items.filter((i) => bought.has(i.itemId))).toEqual([]);
  });
});
