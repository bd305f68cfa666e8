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
});
