import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import { describeStore, event } from '../../helpers/describe-store.ts';

describeStore('sqlite (memory)', async () => {
  const store = await openSqliteStore(':memory:');
  return { store, cleanup: () => store.close() };
});

describe('SqliteStore on disk', () => {
  it('keeps data and migration state across reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shelf-sqlite-'));
    try {
      const file = join(dir, 'nested', 'shelf.sqlite');
      const a = await openSqliteStore(file);
      await a.insertEvents([event('e1')]);
      await a.close();
      const b = await openSqliteStore(file);
      expect((await b.stats()).events).toBe(1);
      await b.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
