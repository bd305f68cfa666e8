import type { DatabaseConfig } from '../config.ts';
import type { Store } from './types.ts';

/** Opens and migrates the configured store; PostgreSQL's driver is loaded only when used. */
export async function openStore(db: DatabaseConfig): Promise<Store> {
  if (db.kind === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite-store.ts');
    return openSqliteStore(db.file);
  }
  const { openPostgresStore } = await import('./postgres-store.ts');
  return openPostgresStore({ url: db.url });
}
