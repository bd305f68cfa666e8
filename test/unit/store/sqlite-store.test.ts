import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aggregateFeedback } from '../../../src/feedback/aggregate-feedback.ts';
import { ERASE_VISITOR_DAYS_SQL } from '../../../src/store/feedback-sql.ts';
import { sqliteMigrations } from '../../../src/store/migrations.ts';
import { openSqliteStore, SqliteStore } from '../../../src/store/sqlite-store.ts';
import type { StoredImpression } from '../../../src/store/types.ts';
import { describeFeedbackStore, impression } from '../../helpers/describe-feedback-store.ts';
import { describeStore, event } from '../../helpers/describe-store.ts';
import { expectWithinBounds, fillOutOfBounds } from '../../helpers/out-of-bounds.ts';

describeStore('sqlite (memory)', async () => {
  const store = await openSqliteStore(':memory:');
  return { store, cleanup: () => store.close() };
});

/** `fn` given a new temporary directory, removed after it. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'shelf-sqlite-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A store file as the migrations before `version` left it. */
function storeBefore(file: string, version: number): Database.Database {
  const db = new Database(file);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)');
  for (const m of sqliteMigrations.filter((x) => x.version < version)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
  }
  return db;
}

describe('SqliteStore on disk', () => {
  it('brings amounts stored before their bounds within them, and the aggregates summed to Infinity (migration 16)', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'shelf.sqlite');
      const before = await openSqliteStore(file);
      await fillOutOfBounds(before);
      await aggregateFeedback(before);
      const [total] = await before.feedbackTotals({ from: '2026-01-01', to: '2026-01-01', groupBy: [] });
      expect(total?.revenue).toBe(Infinity);
      await before.close();
      const db = new Database(file);
      db.prepare('DELETE FROM schema_migrations WHERE version = 16').run();
      db.close();
      const store = await openSqliteStore(file);
      await expectWithinBounds(store);
      await store.close();
    });
  });

  it('keeps data and migration state across reopen', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'nested', 'shelf.sqlite');
      const a = await openSqliteStore(file);
      await a.insertEvents([event('e1')]);
      await a.close();
      const b = await openSqliteStore(file);
      expect((await b.stats()).events).toBe(1);
      await b.close();
    });
  });

  it('makes a new file of 16 KB pages, and leaves a file made before with its own', async () => {
    await inTempDir(async (dir) => {
      const pageSize = (file: string) => {
        const raw = new Database(file, { readonly: true });
        const size = raw.pragma('page_size', { simple: true });
        raw.close();
        return size;
      };
      const fresh = join(dir, 'fresh.sqlite');
      await (await openSqliteStore(fresh)).close();
      expect(pageSize(fresh)).toBe(16_384);
      const older = join(dir, 'older.sqlite');
      storeBefore(older, 9).close();
      expect(pageSize(older)).toBe(4096);
      const store = await openSqliteStore(older);
      await store.insertEvents([event('e1')]);
      await store.close();
      expect(pageSize(older)).toBe(4096);
      const b = await openSqliteStore(older);
      expect((await b.stats()).events).toBe(1);
      await b.close();
    });
  });

  it('gives impressions stored before migration 5 their list length, so they aggregate alike', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'shelf.sqlite');
      const db = storeBefore(file, 5);
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
    });
  });

  it('keeps the first of the clicks credited more than once to one list item before migration 14', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'shelf.sqlite');
      const db = storeBefore(file, 14);
      const credit = db.prepare(
        `INSERT INTO attributions (event_id, type, item_id, user_id, ts, recommendation_id, position, units, revenue,
           tier, model_version, config, variant, day, visitor)
         VALUES (?, ?, ?, 'u1', 1, 'r1', 0, 0, 0, 'homepage', 'v1', 'default', '', '2026-01-01', 'u:u1')`,
      );
      for (const [id, type, item] of [
        ['k1', 'click', 'a'],
        ['k2', 'click', 'a'],
        ['k3', 'click', 'b'],
        ['k4', 'add_to_cart', 'a'],
        ['k5', 'click', 'a'],
      ])
        credit.run(id, type, item);
      db.close();
      const store = await openSqliteStore(file);
      expect((await store.attributionsAfter(0, 10)).map((a) => a.eventId)).toEqual(['k1', 'k3', 'k4']);
      await store.close();
    });
  });
});

// The impressions' visitor entries (impression-visitors.ts) moved at every write, and never: the
// feedback suite finds, merges and erases lists in either table alike.
for (const [name, everyMs] of [
  ['moved at every write', 0],
  ['never moved', Infinity],
] as const) {
  describe(`SqliteStore, the impressions' visitor entries ${name}`, () => {
    let store: SqliteStore;
    beforeEach(async () => {
      store = new SqliteStore(':memory:', undefined, everyMs);
      await store.migrate();
    });
    afterEach(() => store.close());
    describeFeedbackStore(() => store);
  });
}

describe("SqliteStore, the impressions' visitor index", () => {
  const T0 = Date.UTC(2026, 0, 1, 12);
  const at = (id: string, ts: number, over: Partial<StoredImpression> = {}) =>
    impression(id, { timestamp: ts, ...over });

  it('finds, merges and erases lists in both its tables, and keeps no entry of an erased user', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'shelf.sqlite');
      // Moved at the first write only: r1's and s1's entries in the index, r2's and s2's recent.
      const store = new SqliteStore(file, undefined, 3_600_000);
      await store.migrate();
      await store.insertImpressions([
        at('r1', T0, { sessionId: 'sx' }),
        at('s1', T0 + 1, { userId: undefined, sessionId: 'sy' }),
      ]);
      await store.insertImpressions([
        at('r2', T0 + 2, { itemIds: ['a'] }),
        at('s2', T0 + 3, { userId: undefined, sessionId: 'sy', itemIds: ['q'] }),
      ]);
      const raw = new Database(file, { readonly: true });
      const entries = (table = 'impression_visitors') =>
        raw.prepare(`SELECT visitor, seq FROM ${table} ORDER BY seq, visitor`).all();
      expect(entries()).toEqual([
        { visitor: 's:sx', seq: 1 },
        { visitor: 'u:u1', seq: 1 },
        { visitor: 's:sy', seq: 2 },
      ]);
      expect(entries('impression_visitors_recent')).toEqual([
        { visitor: 'u:u1', seq: 3 },
        { visitor: 's:sy', seq: 4 },
      ]);
      const latest = async (item: string, v: { userId?: string; sessionId?: string }) =>
        (await store.latestImpressionWith(v, item, T0 - 1, T0 + 10))?.recommendationId ?? null;
      expect(await latest('a', { userId: 'u1' })).toBe('r2'); // recent, newer
      expect(await latest('b', { userId: 'u1' })).toBe('r1'); // indexed
      expect(await latest('b', { sessionId: 'sx' })).toBe('r1'); // through its session entry
      expect(await latest('q', { sessionId: 'sy' })).toBe('s2');
      // A login: the session's lists on both sides become the user's.
      await store.mergeSession('sy', 'u9');
      expect(await latest('b', { userId: 'u9' })).toBe('s1');
      expect(await latest('q', { userId: 'u9' })).toBe('s2');
      // Erasure: every list of the user and every entry naming one, on both sides.
      await store.deleteUser('u1');
      expect(await store.impressions(['r1', 'r2'])).toEqual([]);
      expect(entries()).toEqual([
        { visitor: 's:sy', seq: 2 },
        { visitor: 'u:u9', seq: 2 },
        { visitor: 'u:u9', seq: 4 },
      ]);
      expect(entries('impression_visitors_recent')).toEqual([{ visitor: 's:sy', seq: 4 }]);
      await store.deleteUser('u9');
      expect(await store.impressions(['s1', 's2'])).toEqual([]);
      expect([...entries(), ...entries('impression_visitors_recent')]).toEqual([]);
      raw.close();
      await store.close();
    });
  });

  it('moves the recent entries once 40,000 have come, however recently they last moved', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'shelf.sqlite');
      // Moved at the first write, then not for an hour but for the count.
      const store = new SqliteStore(file, undefined, 3_600_000);
      await store.migrate();
      const raw = new Database(file, { readonly: true });
      const count = (table: string) => raw.prepare(`SELECT count(*) FROM ${table}`).pluck().get();
      const lists = (from: number, n: number) =>
        Array.from({ length: n }, (_, k) =>
          at(`r${from + k}`, T0 + from + k, { userId: `u${(from + k) % 700}`, itemIds: ['a'] }),
        );
      await store.insertImpressions(lists(0, 1));
      for (let n = 1; n < 39_001; n += 3000) await store.insertImpressions(lists(n, 3000));
      expect([count('impression_visitors'), count('impression_visitors_recent')]).toEqual([1, 39_000]);
      await store.insertImpressions(lists(39_001, 1000));
      expect([count('impression_visitors'), count('impression_visitors_recent')]).toEqual([40_001, 0]);
      await store.insertImpressions(lists(40_001, 5));
      expect(count('impression_visitors_recent')).toBe(5);
      expect(
        (await store.latestImpressionWith({ userId: 'u1' }, 'a', T0, T0 + 50_000))?.recommendationId,
      ).toBe('r39901');
      raw.close();
      await store.close();
    });
  });

  it('is built from the lists of a store made before it, which are then found as before', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'shelf.sqlite');
      const db = storeBefore(file, 9);
      const insert = db.prepare(
        `INSERT INTO impressions (recommendation_id, ts, tier, user_id, session_id, config, probability, model_version, item_ids, shown)
         VALUES (?, ?, 'homepage', ?, ?, 'default', 1, 'v1', '["a","b","c"]', 3)`,
      );
      insert.run('r1', T0, 'u1', 's1');
      insert.run('r2', T0 + 1, null, 's2');
      db.close();
      const store = new SqliteStore(file, undefined, Infinity);
      await store.migrate();
      const found = async (v: { userId?: string; sessionId?: string }) =>
        (await store.latestImpressionWith(v, 'b', T0 - 1, T0 + 10))?.recommendationId ?? null;
      expect(await found({ userId: 'u1' })).toBe('r1');
      expect(await found({ sessionId: 's1' })).toBe('r1');
      expect(await found({ sessionId: 's2' })).toBe('r2');
      await store.close();
      const raw = new Database(file, { readonly: true });
      expect(raw.prepare('SELECT count(*) FROM impression_visitors').pluck().get()).toBe(3);
      raw.close();
    });
  });

  it('erases, after migration 10, the visitor-day rows aggregated before it, in every group', async () => {
    await inTempDir(async (dir) => {
      const file = join(dir, 'shelf.sqlite');
      const db = storeBefore(file, 10);
      const row = db.prepare(
        `INSERT INTO feedback_visitor_days VALUES ('homepage', 'v1', ?, '', ?, ?, 1, 3, 0, 0, 0, 0, 0)`,
      );
      row.run('c1', '2026-01-01', 'u:u9');
      row.run('c2', '2026-01-02', 'u:u9');
      row.run('c2', '2026-01-02', 'u:u8');
      db.exec("INSERT INTO feedback_configs VALUES ('c1'), ('c2')");
      db.close();
      const store = await openSqliteStore(file);
      await store.deleteUser('u9');
      await store.close();
      const raw = new Database(file, { readonly: true });
      // Migration 15 moved the rows under their groups' ids, counts and all.
      expect(
        raw
          .prepare(
            `SELECT config, day, visitor, impressions, items_shown FROM feedback_visitor_days
             JOIN feedback_groups ON id = group_id`,
          )
          .all(),
      ).toEqual([{ config: 'c2', day: '2026-01-02', visitor: 'u:u8', impressions: 1, items_shown: 3 }]);
      const plan = raw
        .prepare(`EXPLAIN QUERY PLAN ${ERASE_VISITOR_DAYS_SQL.replace('$1', '?')}`)
        .all('u:u9')
        .map((r) => (r as { detail: string }).detail)
        .join(' | ');
      // A seek per group into the primary key, not a scan of the table.
      expect(plan).toContain('PRIMARY KEY (group_id=? AND visitor=?)');
      raw.close();
    });
  });
});
