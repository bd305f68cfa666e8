import type { WalCheckpoints } from './sqlite-store.ts';
import type { Store } from './types.ts';

/** Which store to open: the embedded SQLite file, or PostgreSQL. */
export type DatabaseConfig =
  { kind: 'sqlite'; file: string; checkpoints?: WalCheckpoints } | { kind: 'postgres'; url: string };

/** Opens and migrates the configured store; PostgreSQL's driver is loaded only when used. */
export async function openStore(db: DatabaseConfig): Promise<Store> {
  if (db.kind === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite-store.ts');
    return openSqliteStore(db.file, db.checkpoints);
  }
  const { openPostgresStore } = await import('./postgres-store.ts');
  return openPostgresStore({ url: db.url });
}
