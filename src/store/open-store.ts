import { InputError } from '../errors.ts';
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
  try {
    return await openPostgresStore({ url: db.url });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !UNREACHABLE.has(code)) throw err;
    // One line naming the variable, not a stack ending in "connect ECONNREFUSED".
    const u = new URL(db.url);
    const why = err instanceof Error && err.message ? err.message : code;
    throw new InputError(`DATABASE_URL: cannot open PostgreSQL at ${u.host}${u.pathname}: ${why}`);
  }
}

/** Connection failures (refused, unknown host, timed out) and PostgreSQL's refusals to let one in. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  '28000', // invalid authorization
  '28P01', // password authentication failed
  '3D000', // no such database
]);
