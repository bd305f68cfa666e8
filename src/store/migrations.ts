/**
 * Versioned schema migrations, one list per backend. A migration is never edited once shipped:
 * add a new version instead. `schema_migrations` records what ran.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'items, users, events',
    sql: `
      CREATE TABLE items (
        item_id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT,
        categories TEXT NOT NULL,
        brand TEXT,
        price REAL,
        currency TEXT,
        stock INTEGER,
        status TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        repurchasable INTEGER NOT NULL,
        attributes TEXT NOT NULL
      );
      CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        attributes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        consent_personalization INTEGER NOT NULL DEFAULT 1
      );
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        user_id TEXT,
        session_id TEXT,
        item_id TEXT NOT NULL,
        quantity REAL,
        price REAL,
        value REAL,
        recommendation_id TEXT,
        ts INTEGER NOT NULL,
        context TEXT
      );
      CREATE INDEX events_ts ON events (ts, seq);
      CREATE INDEX events_user ON events (user_id, ts) WHERE user_id IS NOT NULL;
      CREATE INDEX events_session ON events (session_id) WHERE session_id IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'erased users, audit log, change feed',
    sql: `
      CREATE TABLE erased_users (user_id TEXT PRIMARY KEY, erased_at INTEGER NOT NULL);
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        role TEXT NOT NULL,
        key_id TEXT,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT
      );
      CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, change TEXT NOT NULL);
    `,
  },
];

export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'items, users, events',
    sql: `
      CREATE TABLE items (
        item_id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT,
        categories JSONB NOT NULL,
        brand TEXT,
        price DOUBLE PRECISION,
        currency TEXT,
        stock INTEGER,
        status TEXT NOT NULL,
        published_at BIGINT NOT NULL,
        repurchasable BOOLEAN NOT NULL,
        attributes JSONB NOT NULL
      );
      CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        attributes JSONB NOT NULL,
        created_at BIGINT NOT NULL,
        consent_personalization BOOLEAN NOT NULL DEFAULT TRUE
      );
      CREATE TABLE events (
        seq BIGSERIAL PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        user_id TEXT,
        session_id TEXT,
        item_id TEXT NOT NULL,
        quantity DOUBLE PRECISION,
        price DOUBLE PRECISION,
        value DOUBLE PRECISION,
        recommendation_id TEXT,
        ts BIGINT NOT NULL,
        context JSONB
      );
      CREATE INDEX events_ts ON events (ts, seq);
      CREATE INDEX events_user ON events (user_id, ts) WHERE user_id IS NOT NULL;
      CREATE INDEX events_session ON events (session_id) WHERE session_id IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'erased users, audit log, change feed',
    sql: `
      CREATE TABLE erased_users (user_id TEXT PRIMARY KEY, erased_at BIGINT NOT NULL);
      CREATE TABLE audit_log (
        seq BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        role TEXT NOT NULL,
        key_id TEXT,
        action TEXT NOT NULL,
        target TEXT,
        detail JSONB
      );
      CREATE TABLE changes (seq BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, change JSONB NOT NULL);
    `,
  },
];
