import { describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../../src/store/postgres-store.ts';
import { describeStore, event } from '../../helpers/describe-store.ts';
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
});
