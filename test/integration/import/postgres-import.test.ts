import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFile } from '../../../src/store/import/import-file.ts';
import { openPostgresStore } from '../../../src/store/postgres-store.ts';
import type { PostgresStore } from '../../../src/store/postgres-store.ts';
import { POSTGRES_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('PostgreSQL', POSTGRES_URL);

describe.runIf(available)('import into PostgreSQL', () => {
  let dir: string;
  let store: PostgresStore;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-pg-import-'));
    store = await openPostgresStore({ url: POSTGRES_URL, schema: uniqueName('shelf_test') });
  });
  afterAll(async () => {
    await store?.dropSchema();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores the valid rows of a gzipped JSONL file, reports the bad ones, and is idempotent', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      lines.push(
        JSON.stringify({
          eventId: `e${i}`,
          type: 'purchase',
          userId: `u${i % 97}`,
          itemId: `i${i % 31}`,
          timestamp: 1.7e12 + i,
        }),
      );
    }
    lines[10] = JSON.stringify({
      eventId: 'bad1',
      type: 'wishlist',
      userId: 'u',
      itemId: 'i',
      timestamp: 1.7e12,
    });
    lines[500] = JSON.stringify({
      eventId: 'bad2',
      type: 'view',
      userId: 'u',
      itemId: 'i',
      timestamp: 'soon',
    });
    lines[9000] = '{not json';
    const file = join(dir, 'events.jsonl.gz');
    await writeFile(file, gzipSync(lines.join('\n') + '\n'));

    const first = await importFile(store, { kind: 'events', file });
    expect(first).toMatchObject({ stored: 9997, duplicates: 0, rejected: 3 });
    expect(first.errors.map((e) => [e.line, e.field])).toEqual([
      [11, 'type'],
      [501, 'timestamp'],
      [9001, '(record)'],
    ]);
    expect((await store.stats()).events).toBe(9997);
    const again = await importFile(store, { kind: 'events', file });
    expect(again).toMatchObject({ stored: 0, duplicates: 9997, rejected: 3 });
  });
});
