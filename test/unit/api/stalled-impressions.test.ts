/**
 * A store that stops taking impressions (a lock on their table, a slow disk) holds no event up:
 * the events route credits what it can after waiting a bounded while for the lists held, and a
 * click naming a list still unwritten is credited once the list is written.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShelf } from '../../../src/app/create-shelf.ts';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { loadConfig } from '../../../src/config.ts';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';

const log = pino({ level: 'silent' });
const SHOP = 'storefront-key-0123456789';

describe('events while the store does not take impressions', () => {
  let dir: string;
  let store: Store;
  let shelf: Shelf;
  let user: string;
  /** Resolves the impression writes held while the store stalls; null: not stalled. */
  let release: (() => void) | null = null;
  let stalled: Promise<void> | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-stalled-'));
    store = await openSqliteStore(':memory:');
    const sf = generateStorefront({ seed: 3, items: 120, users: 40, events: 1200 });
    await exportStorefront(sf, { store });
    user = sf.users[0]!.userId;
    // The store as the engine sees it, but for impression writes: those wait while `stalled` is set.
    const stalling = new Proxy(store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (key !== 'insertImpressions') return value.bind(target) as unknown;
        return async (...args: Parameters<Store['insertImpressions']>) => {
          if (stalled) await stalled;
          return target.insertImpressions(...args);
        };
      },
    });
    shelf = await createShelf(
      loadConfig({
        SHELF_DATA_DIR: dir,
        SHELF_API_KEYS: `storefront:${SHOP}`,
        SHELF_IMPRESSION_WRITER: 'inline',
      }),
      log,
      { store: stalling },
    );
  });
  afterAll(async () => {
    release?.();
    await shelf?.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers a click at once and credits it when the list it names is written', async () => {
    const headers = { authorization: `Bearer ${SHOP}` };
    stalled = new Promise<void>((resolve) => (release = resolve));
    const listed = await shelf.app.inject({
      method: 'GET',
      url: `/v1/recommendations/personalized?userId=${user}&limit=3`,
      headers,
    });
    const list = listed.json() as { recommendationId: string; items: { itemId: string }[] };
    expect(list.items.length).toBeGreaterThan(0);
    const click = {
      eventId: 'stalled-click',
      type: 'click',
      userId: user,
      itemId: list.items[0]!.itemId,
      recommendationId: list.recommendationId,
      timestamp: new Date().toISOString(),
    };
    // Before the bound, this waited for the stalled write: the request never ended.
    const posted = await shelf.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers,
      payload: { events: [click] },
    });
    expect(posted.statusCode).toBe(200);
    expect(posted.json()).toMatchObject({ accepted: 1 });
    expect(await store.impressions([list.recommendationId])).toEqual([]);
    expect(await store.attributionsAfter(0, 10)).toEqual([]);

    // The store takes the list again: the click's retry finds it and credits it.
    release!();
    stalled = null;
    const credited = () => store.attributionsAfter(0, 10);
    for (let i = 0; i < 100 && !(await credited()).length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await credited()).toMatchObject([
      { eventId: 'stalled-click', recommendationId: list.recommendationId, position: 0 },
    ]);
  });
});
