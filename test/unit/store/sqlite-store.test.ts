import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { aggregateFeedback } from '../../../src/feedback/aggregate-feedback.ts';
import { sqliteMigrations } from '../../../src/store/migrations.ts';
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

  it('gives impressions stored before migration 5 their list length, so they aggregate alike', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shelf-sqlite-'));
    try {
      const file = join(dir, 'shelf.sqlite');
      const db = new Database(file);
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)');
      for (const m of sqliteMigrations.filter((x) => x.version < 5)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
      }
      db.prepare(
        `INSERT INTO impressions (recommendation_id, ts, tier, user_id, config, probability, model_version, item_ids)
         VALUES ('r1', ?, 'homepage', 'u1', 'default', 1, 'v1', '["a","b","c"]')`,
      ).run(Date.UTC(2026, 0, 1, 12));
      db.close();
      const store = await openSqliteStore(file);
      expect(await aggregateFeedback(store)).toMatchObject({ impressions: 1 });
      const [all] = await store.feedbackTotals({ from: '2026-01-01', to: '2026-01-01', groupBy: [] });
      expect(all).toMatchObject({ impressions: 1, itemsShown: 3 });
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
