/**
 * Issue #12, reproduction 6: on PostgreSQL one NUL character in an id failed the whole batch
 * (error 22021 on one multi-row statement), where SQLite stored the good events. Through the
 * API over a real PostgreSQL: the good events are stored, the bad one rejected with its reason.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShelf } from '../../../src/app/create-shelf.ts';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { loadConfig } from '../../../src/config.ts';
import { openPostgresStore } from '../../../src/store/postgres-store.ts';
import type { PostgresStore } from '../../../src/store/postgres-store.ts';
import { POSTGRES_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('PostgreSQL', POSTGRES_URL);
const KEY = 'storefront-key-0123456789';
const NOW = Date.UTC(2026, 10, 25, 10);

describe.runIf(available)('POST /v1/events on PostgreSQL', () => {
  let dir: string;
  let store: PostgresStore;
  let shelf: Shelf;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-pg-events-'));
    store = await openPostgresStore({ url: POSTGRES_URL, schema: uniqueName('shelf_test') });
    const config = loadConfig({ SHELF_DATA_DIR: dir, SHELF_API_KEYS: `storefront:${KEY}` });
    shelf = await createShelf(config, pino({ level: 'silent' }), { store, now: () => NOW });
  });
  afterAll(async () => {
    await shelf?.close();
    await store?.dropSchema();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores the good events of a batch with a NUL in one id, and says why that one failed', async () => {
    const view = (eventId: string, itemId: string) => ({
      eventId,
      type: 'view',
      userId: 'u-1',
      itemId,
      timestamp: NOW - 1000,
    });
    const res = await shelf.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${KEY}` },
      payload: { events: [view('pg-1', 'sku-1'), view('pg-2', 'sku\u00002'), view('pg-3', 'sku-3')] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 2, duplicates: 0, rejected: 1 });
    expect(res.json().results[1]).toEqual({
      index: 1,
      eventId: 'pg-2',
      status: 'rejected',
      errors: [{ field: 'itemId', reason: 'must not contain control characters (U+0000 at position 3)' }],
    });
    expect((await store.recentEvents('u-1', 10)).map((e) => e.eventId).sort()).toEqual(['pg-1', 'pg-3']);
  });
});
