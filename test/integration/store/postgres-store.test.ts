import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { aggregateFeedback } from '../../../src/feedback/aggregate-feedback.ts';
import { postgresMigrations } from '../../../src/store/migrations.ts';
import { openPostgresStore } from '../../../src/store/postgres-store.ts';
import { describeStore, event } from '../../helpers/describe-store.ts';
import { expectWithinBounds, fillOutOfBounds } from '../../helpers/out-of-bounds.ts';
import { POSTGRES_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('PostgreSQL', POSTGRES_URL);

describeStore('postgres', async () => {
  if (!available) return null;
  const store = await openPostgresStore({ url: POSTGRES_URL, schema: uniqueName('shelf_test') });
  return {
    store,
    async cleanup() {
      await store.dropSchema();
      await store.close();
    },
  };
});

describe.runIf(available)('PostgresStore', () => {
  it('runs concurrent migrations of two replicas once', async () => {
    const schema = uniqueName('shelf_test');
    const [a, b] = await Promise.all([
      openPostgresStore({ url: POSTGRES_URL, schema }),
      openPostgresStore({ url: POSTGRES_URL, schema }),
    ]);
    try {
      await a.insertEvents([event('e1')]);
      expect((await b.stats()).events).toBe(1);
    } finally {
      await a.dropSchema();
      await Promise.all([a.close(), b.close()]);
    }
  });

  // Defence in depth behind validation: a value PostgreSQL refuses that no check foresaw (here a
  // lone surrogate in jsonb, 22P05) fails one row, not the batch.
  it('stores the rest of a batch when the database refuses one row', async () => {
    const store = await openPostgresStore({ url: POSTGRES_URL, schema: uniqueName('shelf_test') });
    try {
      const r = await store.insertEvents([
        event('ok-1'),
        event('refused', { context: { page: 'x\ud800' } }),
        event('ok-2', { userId: 'u2' }),
        event('ok-1'),
      ]);
      expect(r.statuses).toEqual(['stored', 'invalid', 'stored', 'duplicate']);
      expect(r).toMatchObject({ stored: 2, duplicates: 1 });
      expect(r.invalid).toEqual([
        { index: 1, field: '(event)', reason: expect.stringMatching(/^refused by the database: .*json/) },
      ]);
      expect((await store.stats()).events).toBe(2);
      expect(await store.getUser('u2')).not.toBeNull();
    } finally {
      await store.dropSchema();
      await store.close();
    }
  });

  it('brings amounts stored before their bounds within them, unjamming the aggregation (migration 16)', async () => {
    const schema = uniqueName('shelf_test');
    const before = await openPostgresStore({ url: POSTGRES_URL, schema });
    await fillOutOfBounds(before);
    // Their sum overflowed: every run failed.
    await expect(aggregateFeedback(before)).rejects.toThrow(/out of range/);
    await before.close();
    const db = new pg.Client({ connectionString: POSTGRES_URL });
    await db.connect();
    await db.query(`DELETE FROM ${schema}.schema_migrations WHERE version = 16`);
    await db.end();
    const store = await openPostgresStore({ url: POSTGRES_URL, schema });
    try {
      await expectWithinBounds(store);
    } finally {
      await store.dropSchema();
      await store.close();
    }
  });

  it('keeps, through migration 15, the visitor-day aggregates made before it, under their groups', async () => {
    const schema = uniqueName('shelf_test');
    const db = new pg.Client({ connectionString: POSTGRES_URL });
    await db.connect();
    try {
      await db.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
      await db.query(
        'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)',
      );
      for (const m of postgresMigrations.filter((x) => x.version < 15)) {
        await db.query(m.sql);
        await db.query('INSERT INTO schema_migrations VALUES ($1, $2, 0)', [m.version, m.name]);
      }
      await db.query(`INSERT INTO feedback_groups (day, tier, model_version, config, variant)
        VALUES ('2026-01-01', 'homepage', 'v1', 'c1', ''), ('2026-01-02', 'homepage', 'v1', 'c2', '')`);
      await db.query(`INSERT INTO feedback_visitor_days (tier, model_version, config, variant, day, visitor,
          impressions, items_shown, clicks, add_to_carts, purchases, units, revenue)
        VALUES ('homepage', 'v1', 'c1', '', '2026-01-01', 'u:u9', 2, 6, 1, 0, 0, 0, 0),
          ('homepage', 'v1', 'c2', '', '2026-01-02', 'u:u9', 1, 3, 0, 0, 1, 1, 9.5),
          ('homepage', 'v1', 'c2', '', '2026-01-02', 'u:u8', 4, 12, 1, 0, 0, 0, 0)`);
    } finally {
      await db.end();
    }
    const store = await openPostgresStore({ url: POSTGRES_URL, schema });
    try {
      const byConfig = () =>
        store.feedbackTotals({ from: '2026-01-01', to: '2026-01-31', groupBy: ['config'] });
      expect(await byConfig()).toMatchObject([
        { keys: { config: 'c1' }, impressions: 2, itemsShown: 6, clicks: 1, visitors: 1 },
        {
          keys: { config: 'c2' },
          impressions: 5,
          itemsShown: 15,
          clicks: 1,
          purchases: 1,
          revenue: 9.5,
          visitors: 2,
        },
      ]);
      expect(await store.unitTotals(['c2'])).toEqual([
        { config: 'c2', visitor: 'u:u8', impressions: 4, clicks: 1, purchases: 0, revenue: 0 },
        { config: 'c2', visitor: 'u:u9', impressions: 1, clicks: 0, purchases: 1, revenue: 9.5 },
      ]);
      // Erasure finds the visitor's rows in every group.
      await store.deleteUser('u9');
      expect(await byConfig()).toMatchObject([
        { keys: { config: 'c2' }, impressions: 4, clicks: 1, visitors: 1 },
      ]);
    } finally {
      await store.dropSchema();
      await store.close();
    }
  });
});
