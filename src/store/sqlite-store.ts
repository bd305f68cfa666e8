/** The embedded default store: one SQLite file in WAL mode through better-sqlite3. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { ErasedError } from '../errors.ts';
import { sqliteMigrations } from './migrations.ts';
import type { AuditRow, ChangeRow, EventRow, ItemRow, UserRow } from './rows.ts';
import {
  auditFromRow,
  changeFromRow,
  DEFAULT_STREAM_BATCH,
  eventPages,
  eventFromRow,
  itemFromRow,
  MAX_LOG_PAGE,
  patched,
  PRUNE_CHANGES_SQL,
  userFromRow,
  userIdsOf,
  IS_EMPTY_SQL,
  storableOf,
  usersFirstSeen,
} from './rows.ts';
import type {
  ActivityQuery,
  Attribution,
  FeedbackQuery,
  FeedbackTotals,
  FeedbackWatermark,
  NewImpression,
  ShownList,
  StoredImpression,
  Subject,
  VisitorRef,
  AuditEntry,
  AuditQuery,
  Change,
  EventType,
  InsertResult,
  InsertStatus,
  InteractionQuery,
  InteractionRow,
  Item,
  ItemQuery,
  ShelfEvent,
  Store,
  StoreStats,
  StoredAuditEntry,
  StoredChange,
  UpsertResult,
  User,
  UserActivity,
  UserItem,
  UserPatch,
  Experiment,
  GeneratedKeys,
  MerchantRules,
  PreExposure,
  UnitTotals,
} from './types.ts';
import { visitorKey } from './types.ts';
import type { AttributionRow, ImpressionRow, TotalsRow } from './feedback-sql.ts';
import { ImpressionVisitors } from './impression-visitors.ts';
import {
  aggregationSql,
  ATTRIBUTION_COLUMNS,
  attributionFromRow,
  attributionValues,
  cappedReturn,
  NET_REVENUE_SQL,
  encodedIds,
  FEEDBACK_HORIZON_SQL,
  FEEDBACK_LISTS_COLUMNS,
  ERASE_VISITOR_DAYS_SQL,
  FEEDBACK_ADDED_SQL,
  feedbackTotalsSql,
  IMPRESSION_COLUMNS,
  impressionFromRow,
  totalsFromRows,
  UNIT_TOTALS_SQL,
  unitTotalsFromRow,
} from './feedback-sql.ts';
import type { UnitTotalsRow } from './feedback-sql.ts';
import type { ActivityRow } from './user-activity-sql.ts';
import {
  ACTIVITY_AGGREGATES,
  activityFromRow,
  PRE_EXPOSURE_PAGE,
  preExposureSql,
} from './user-activity-sql.ts';
import type { PreExposureRow } from './user-activity-sql.ts';

/** How long a write waits for the write lock before it fails with "database is locked", ms. */
const BUSY_MS = 5000;
/** The page size of a new database file. */
const PAGE_BYTES = 16_384;
/** The longest pause between two tries for the write lock, ms. */
const MAX_PAUSE_MS = 4;
/** A write that held the lock this long, ms, … */
const LONG_HOLD_MS = 50;
/** … waits this long before this connection's next (over two tries of a waiting one), ms. */
const ASIDE_MS = 10;

/**
 * SQLite's "busy" in any of its extended forms: another connection holds the lock
 * (SQLITE_BUSY), or is recovering the write-ahead log after a crash (SQLITE_BUSY_RECOVERY).
 * better-sqlite3 reports the extended code, so the plain one alone missed the second.
 */
export const isBusy = (err: unknown): boolean =>
  String((err as { code?: unknown } | null)?.code ?? '').startsWith('SQLITE_BUSY');

const EVENT_COLUMNS =
  'event_id, type, user_id, session_id, item_id, quantity, price, value, recommendation_id, ts, context';

/** The aggregation's statements (feedback-sql.ts) in SQLite's spelling, with ? for $n. */
function prepareAggregation(db: Database.Database) {
  const sql = aggregationSql({
    dayOf: (days) => `strftime('%Y-%m-%d', ${days} * 86400, 'unixepoch')`,
  });
  const q = (text: string) => db.prepare(text.replace(/\$\d+/g, '?'));
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS feedback_lists (${FEEDBACK_LISTS_COLUMNS})`);
  return {
    fillLists: q(sql.fillLists),
    listGroups: q(sql.listGroups),
    clearLists: q(sql.clearLists),
    impressionVisitorDays: q(sql.impressionVisitorDays),
    impressionPositions: q(sql.impressionPositions),
    attributionGroups: q(sql.attributionGroups),
    attributionVisitorDays: q(sql.attributionVisitorDays),
    attributionPositions: q(sql.attributionPositions),
    horizon: q(FEEDBACK_HORIZON_SQL),
    added: q(FEEDBACK_ADDED_SQL),
  };
}

/**
 * When a SQLite connection folds the write-ahead log back into the database file (a
 * checkpoint): at a commit once the log holds `autoMb` MB (SQLite's default is 1,000 pages; 0:
 * never at a commit), and every `everyMs` besides (passive: it waits for no reader or writer).
 */
export interface WalCheckpoints {
  autoMb: number;
  everyMs?: number;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private stmts: ReturnType<SqliteStore['prepare']> | null = null;
  private readonly checkpointTimer: NodeJS.Timeout | null = null;
  /** Until when this connection lets the others take the write lock (write). */
  private asideUntil = 0;

  /**
   * `file` is a path or `:memory:`. `impressionIndexMs`: how often writing lists moves their
   * recent visitor entries into the impressions' visitor index (impression-visitors.ts), ms, at
   * most (a full recent table moves sooner).
   */
  constructor(
    file: string,
    checkpoints?: WalCheckpoints,
    private readonly impressionIndexMs = 5000,
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma(`busy_timeout = ${BUSY_MS}`);
    // A new file's pages are 16 KB (an existing file keeps its size): a move of the impressions'
    // recent visitor entries (impression-visitors.ts) writes about a page per visitor, and a page
    // holds four times the entries; the log gets fewer, larger frames. With the moves every 5 s,
    // the feedback bench's writer rows: 16% less CPU a list (median of 12 paired rows).
    this.db.pragma(`page_size = ${PAGE_BYTES}`);
    this.useWal();
    this.db.pragma('synchronous = NORMAL');
    // Sorts and the aggregation's temporary table in memory, not in a temporary file.
    this.db.pragma('temp_store = MEMORY');
    // Event inserts touch random pages of the eventId and user indexes: the default 2 MB page
    // cache makes large imports I/O-bound (measured: 1M events 54 s → 29 s with 64 MB).
    this.db.pragma('cache_size = -65536');
    if (checkpoints) {
      const pageBytes = this.db.pragma('page_size', { simple: true }) as number;
      this.db.pragma(`wal_autocheckpoint = ${Math.floor((checkpoints.autoMb * 2 ** 20) / pageBytes)}`);
      if (checkpoints.everyMs) {
        this.checkpointTimer = setInterval(() => {
          if (this.db.open) this.db.pragma('wal_checkpoint(PASSIVE)');
        }, checkpoints.everyMs).unref();
      }
    }
  }

  /**
   * Switches the file to WAL. Two processes opening a fresh file at once race to switch it, and
   * the loser gets "database is locked" at once (the busy timeout does not cover the switch): it
   * tries again a little later, by when the file is in WAL or free to switch.
   */
  private useWal(): void {
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        this.db.pragma('journal_mode = WAL');
        return;
      } catch (err) {
        if (!isBusy(err) || Date.now() > deadline) throw err;
      }
      // A synchronous pause: the store is being constructed, nothing else waits on it yet.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }

  /**
   * Runs `fn` in a transaction that takes the write lock at its start (BEGIN IMMEDIATE). A
   * deferred one that reads before it writes fails at once with "database is locked" when
   * another connection (the impression writer thread, a job's process) has committed since its
   * read: SQLite cannot wait its way out of that.
   *
   * The lock is waited for here, between tries a few milliseconds apart (up to `BUSY_MS`), not
   * by SQLite's busy handler: that sleeps on the calling thread, and on the serving thread an
   * event insert behind the aggregation thread's chunk stopped every request for as long. And
   * a write that held the lock long lets the others in before this connection's next: the lock
   * is not fair, and the aggregation's chunks, one right after another, kept it until the run
   * ended (an event insert waited 1.75 s over 1M lists).
   */
  private async write<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + BUSY_MS;
    for (let pause = 1; ; pause = Math.min(2 * pause, MAX_PAUSE_MS)) {
      const aside = this.asideUntil - Date.now();
      if (aside > 0) await sleep(aside);
      // From BEGIN to COMMIT in one synchronous stretch: no other call on this connection between.
      if (this.begin(Date.now() >= deadline)) return this.commit(fn);
      await sleep(pause);
    }
  }

  /** BEGIN IMMEDIATE without waiting: false when another connection holds the lock (and not `last`). */
  private begin(last: boolean): boolean {
    this.db.pragma('busy_timeout = 0');
    try {
      this.db.exec('BEGIN IMMEDIATE');
      return true;
    } catch (err) {
      if (isBusy(err) && !last) return false;
      throw err;
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_MS}`);
    }
  }

  private commit<T>(fn: () => T): T {
    const start = performance.now();
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      if (performance.now() - start >= LONG_HOLD_MS) this.asideUntil = Date.now() + ASIDE_MS;
    }
  }

  async migrate(): Promise<void> {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)',
    );
    const done = new Set(
      this.db
        .prepare('SELECT version FROM schema_migrations')
        .all()
        .map((r) => (r as { version: number }).version),
    );
    const applied = this.db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
    for (const m of sqliteMigrations) {
      if (done.has(m.version)) continue;
      await this.write(() => {
        // Again under the write lock: another process opening the file may have applied it since.
        if (applied.get(m.version)) return;
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, Date.now());
      });
    }
    this.stmts = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      upsertItem: db.prepare(`
        INSERT INTO items (item_id, title, description, categories, brand, price, currency, stock, status,
                           published_at, repurchasable, attributes)
        VALUES (@itemId, @title, @description, @categories, @brand, @price, @currency, @stock, @status,
                @publishedAt, @repurchasable, @attributes)
        ON CONFLICT (item_id) DO UPDATE SET title = excluded.title, description = excluded.description,
          categories = excluded.categories, brand = excluded.brand, price = excluded.price,
          currency = excluded.currency, stock = excluded.stock, status = excluded.status,
          published_at = excluded.published_at, repurchasable = excluded.repurchasable,
          attributes = excluded.attributes
        WHERE (title, description, categories, brand, price, currency, stock, status, published_at,
               repurchasable, attributes)
          IS NOT (excluded.title, excluded.description, excluded.categories, excluded.brand, excluded.price,
                  excluded.currency, excluded.stock, excluded.status, excluded.published_at,
                  excluded.repurchasable, excluded.attributes)`),
      getItem: db.prepare('SELECT * FROM items WHERE item_id = ?'),
      listItems: db.prepare('SELECT * FROM items WHERE item_id > ? ORDER BY item_id LIMIT ?'),
      upsertUser: db.prepare(`
        INSERT INTO users (user_id, attributes, created_at, consent_personalization)
        VALUES (?, ?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET attributes = excluded.attributes,
          consent_personalization = excluded.consent_personalization
        WHERE (attributes, consent_personalization)
          IS NOT (excluded.attributes, excluded.consent_personalization)`),
      touchUser: db.prepare(
        `INSERT INTO users (user_id, attributes, created_at) VALUES (?, '{}', ?) ON CONFLICT (user_id) DO NOTHING`,
      ),
      getUser: db.prepare('SELECT * FROM users WHERE user_id = ?'),
      // The column alone: a user's attributes are JSON to parse, and the import reads a batch.
      consentOf: db.prepare('SELECT consent_personalization FROM users WHERE user_id = ?').pluck(),
      insertEvent: db.prepare(
        `INSERT INTO events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (event_id) DO NOTHING`,
      ),
      page: db.prepare(
        `SELECT seq, ${EVENT_COLUMNS} FROM events
         WHERE (ts > @ts OR (ts = @ts AND seq > @seq)) AND ts < @to ORDER BY ts, seq LIMIT @limit`,
      ),
      interactions: db
        .prepare(
          `SELECT user_id, item_id, type, value, quantity, ts, seq FROM events
           WHERE (ts > @ts OR (ts = @ts AND seq > @seq)) AND ts < @to AND user_id IS NOT NULL
           ORDER BY ts, seq LIMIT @limit`,
        )
        .raw(),
      userItems: db.prepare(
        'SELECT item_id AS itemId, type, MAX(ts) AS at FROM events WHERE user_id = ? ' +
          'GROUP BY item_id, type ORDER BY item_id, type',
      ),
      sessionItems: db.prepare(
        'SELECT item_id AS itemId, type, MAX(ts) AS at FROM events WHERE session_id = ? ' +
          'AND user_id IS NULL GROUP BY item_id, type ORDER BY item_id, type',
      ),
      recent: db.prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE user_id = ? ORDER BY ts DESC, seq DESC LIMIT ?`,
      ),
      sessionRecent: db.prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE session_id = ? AND user_id IS NULL ` +
          'ORDER BY ts DESC, seq DESC LIMIT ?',
      ),
      userActivity: db.prepare(`SELECT ${ACTIVITY_AGGREGATES} FROM events WHERE user_id = ? AND ts >= ?`),
      // Keyset pages over the events_user index; the first page also takes a user id of ''.
      usersActivityFirst: db.prepare(usersActivitySql('>=')),
      usersActivityNext: db.prepare(usersActivitySql('>')),
      merge: db.prepare('UPDATE events SET user_id = ? WHERE session_id = ? AND user_id IS NULL'),
      mergeAttributions: db.prepare(
        'UPDATE attributions SET user_id = ? WHERE session_id = ? AND user_id IS NULL',
      ),
      deleteEvents: db.prepare('DELETE FROM events WHERE user_id = ?'),
      deleteAttributions: db.prepare('DELETE FROM attributions WHERE user_id = ?'),
      deleteListAttributions: db.prepare('DELETE FROM attributions WHERE recommendation_id = ?'),
      deleteVisitorDays: db.prepare(ERASE_VISITOR_DAYS_SQL.replace('$1', '?')),
      // A list naming an erased user is not stored (insertImpressions looks its users up first):
      // one recorded before the erasure reached this process, and written after it (the
      // writer's buffer), would bring the user's id back.
      insertImpression: db.prepare(
        `INSERT INTO impressions (${IMPRESSION_COLUMNS.replace('seq, ', '')}, shown)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (recommendation_id) DO NOTHING`,
      ),
      impression: db.prepare(`SELECT ${IMPRESSION_COLUMNS} FROM impressions WHERE recommendation_id = ?`),
      visitors: new ImpressionVisitors(db, this.impressionIndexMs),
      // Neither for an erased user nor once its list is gone: a credit read from a user's list
      // before their erasure and written after it (a click with only the session id names no
      // user) came back as the list's visitor, u:<id>, a unit of the experiment again.
      insertAttribution: db.prepare(
        `INSERT INTO attributions (${ATTRIBUTION_COLUMNS})
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
         WHERE (? IS NULL OR NOT EXISTS (SELECT 1 FROM erased_users WHERE user_id = ?))
           AND EXISTS (SELECT 1 FROM impressions WHERE recommendation_id = ?)
         ON CONFLICT DO NOTHING`,
      ),
      netRevenue: db.prepare(NET_REVENUE_SQL.replace('$1', '?').replace('$2', '?')).pluck(),
      purchaseAttribution: db.prepare(
        `SELECT seq, ${ATTRIBUTION_COLUMNS} FROM attributions
         WHERE (user_id = @userId OR session_id = @sessionId) AND item_id = @itemId AND type = 'purchase'
           AND ts <= @before ORDER BY ts DESC, seq DESC LIMIT 1`,
      ),
      impressionsAfter: db.prepare(
        `SELECT ${IMPRESSION_COLUMNS} FROM impressions WHERE seq > ? ORDER BY seq LIMIT ?`,
      ),
      attributionsAfter: db.prepare(
        `SELECT seq, ${ATTRIBUTION_COLUMNS} FROM attributions WHERE seq > ? ORDER BY seq LIMIT ?`,
      ),
      watermark: db.prepare('SELECT impression_seq, attribution_seq FROM feedback_watermark WHERE id = 1'),
      moveWatermark: db.prepare(
        `UPDATE feedback_watermark SET impression_seq = ?, attribution_seq = ?
         WHERE id = 1 AND impression_seq = ? AND attribution_seq = ?`,
      ),
      ...prepareAggregation(db),
      deleteUser: db.prepare('DELETE FROM users WHERE user_id = ?'),
      erase: db.prepare(
        'INSERT INTO erased_users (user_id, erased_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING',
      ),
      isErased: db.prepare('SELECT 1 FROM erased_users WHERE user_id = ?').pluck(),
      erasedUsers: db.prepare('SELECT user_id FROM erased_users ORDER BY user_id').pluck(),
      appendChange: db.prepare('INSERT INTO changes (at, change) VALUES (?, ?)'),
      changesSince: db.prepare('SELECT seq, at, change FROM changes WHERE seq > ? ORDER BY seq LIMIT ?'),
      lastChange: db.prepare('SELECT coalesce(max(seq), 0) FROM changes').pluck(),
      pruneChanges: db.prepare(PRUNE_CHANGES_SQL.replace('$1', '?')),
      appendAudit: db.prepare(
        'INSERT INTO audit_log (at, role, key_id, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      audit: db.prepare('SELECT * FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT ?'),
    };
  }

  private get s() {
    if (!this.stmts) throw new Error('SqliteStore: call migrate() before use');
    return this.stmts;
  }

  async upsertItems(items: readonly Item[]): Promise<UpsertResult> {
    const stmt = this.s.upsertItem;
    let written = 0;
    await this.write(() => {
      for (const i of items) {
        written += stmt.run({
          itemId: i.itemId,
          title: i.title,
          description: i.description ?? null,
          categories: JSON.stringify(i.categories),
          brand: i.brand ?? null,
          price: i.price ?? null,
          currency: i.currency ?? null,
          stock: i.stock ?? null,
          status: i.status,
          publishedAt: i.publishedAt,
          repurchasable: i.repurchasable ? 1 : 0,
          attributes: JSON.stringify(i.attributes),
        }).changes;
      }
    });
    return { written };
  }

  async getItem(itemId: string): Promise<Item | null> {
    const row = this.s.getItem.get(itemId) as ItemRow | undefined;
    return row ? itemFromRow(row) : null;
  }

  async getItems(itemIds: readonly string[]): Promise<Item[]> {
    const out: Item[] = [];
    for (const id of itemIds) {
      const row = this.s.getItem.get(id) as ItemRow | undefined;
      if (row) out.push(itemFromRow(row));
    }
    return out;
  }

  async listItems(query: ItemQuery = {}): Promise<Item[]> {
    const rows = this.s.listItems.all(query.after ?? '', query.limit ?? 1000) as ItemRow[];
    return rows.map(itemFromRow);
  }

  async upsertUsers(users: readonly User[]): Promise<UpsertResult> {
    const stmt = this.s.upsertUser;
    let written = 0;
    await this.write(() => {
      // An erased user's profile is not made again, even by an import racing the erasure.
      const gone = this.erasedOf(users.map((u) => u.userId));
      for (const u of users) {
        if (gone.has(u.userId)) continue;
        written += stmt.run(
          u.userId,
          JSON.stringify(u.attributes),
          u.createdAt,
          u.consent.personalization ? 1 : 0,
        ).changes;
      }
    });
    return { written };
  }

  async getUser(userId: string): Promise<User | null> {
    const row = this.s.getUser.get(userId) as UserRow | undefined;
    return row ? userFromRow(row) : null;
  }

  async patchUser(userId: string, patch: UserPatch, now: number): Promise<User> {
    return this.write(() => {
      this.refuseErased(userId);
      const row = this.s.getUser.get(userId) as UserRow | undefined;
      const u = patched(row ? userFromRow(row) : null, userId, patch, now);
      this.s.upsertUser.run(
        u.userId,
        JSON.stringify(u.attributes),
        u.createdAt,
        u.consent.personalization ? 1 : 0,
      );
      return u;
    });
  }

  async insertEvents(events: readonly ShelfEvent[]): Promise<InsertResult> {
    const { insertEvent, touchUser } = this.s;
    const statuses: InsertStatus[] = new Array(events.length);
    const { kept, keptAt, invalid } = storableOf(events);
    for (const { index } of invalid) statuses[index] = 'invalid';
    let stored = 0;
    let erased = 0;
    await this.write(() => {
      const gone = this.erasedOf(userIdsOf(kept));
      for (const [userId, firstSeen] of usersFirstSeen(kept)) {
        if (!gone.has(userId)) touchUser.run(userId, firstSeen);
      }
      for (let k = 0; k < kept.length; k++) {
        const e = kept[k]!;
        const i = keptAt[k]!;
        if (e.userId !== undefined && gone.has(e.userId)) {
          statuses[i] = 'erased';
          erased++;
          continue;
        }
        const changes = insertEvent.run(
          e.eventId,
          e.type,
          e.userId ?? null,
          e.sessionId ?? null,
          e.itemId,
          e.quantity ?? null,
          e.price ?? null,
          e.value ?? null,
          e.recommendationId ?? null,
          e.timestamp,
          e.context === undefined ? null : JSON.stringify(e.context),
        ).changes;
        statuses[i] = changes ? 'stored' : 'duplicate';
        stored += changes;
      }
    });
    return { stored, duplicates: kept.length - stored - erased, erased, invalid, statuses };
  }

  async *streamEvents(query: InteractionQuery = {}): AsyncIterable<ShelfEvent> {
    const pages = eventPages(
      query,
      (after, to, limit) => this.s.page.all({ ...after, to, limit }) as (EventRow & { seq: number })[],
      (r) => ({ ts: Number(r.ts), seq: r.seq }),
      (r) => r.type as EventType,
    );
    for await (const rows of pages) for (const r of rows) yield eventFromRow(r);
  }

  async *streamInteractions(query: InteractionQuery = {}): AsyncIterable<readonly InteractionRow[]> {
    // [user_id, item_id, type, value, quantity, ts, seq]: an InteractionRow and its seq.
    yield* eventPages(
      query,
      (after, to, limit) => this.s.interactions.all({ ...after, to, limit }) as InteractionRow[],
      (r) => ({ ts: r[5], seq: r[6] as number }),
      (r) => r[2],
    );
  }

  async recentEvents(userId: string, limit: number): Promise<ShelfEvent[]> {
    return (this.s.recent.all(userId, limit) as EventRow[]).map(eventFromRow);
  }

  async sessionEvents(sessionId: string, limit: number): Promise<ShelfEvent[]> {
    return (this.s.sessionRecent.all(sessionId, limit) as EventRow[]).map(eventFromRow);
  }

  async userItems(userId: string, types: readonly EventType[]): Promise<UserItem[]> {
    const rows = this.s.userItems.all(userId) as UserItem[];
    return rows.filter((r) => types.includes(r.type));
  }

  async sessionItems(sessionId: string, types: readonly EventType[]): Promise<UserItem[]> {
    const rows = this.s.sessionItems.all(sessionId) as UserItem[];
    return rows.filter((r) => types.includes(r.type));
  }

  async mergeSession(sessionId: string, userId: string): Promise<number> {
    return this.write(() => {
      this.refuseErased(userId);
      const moved = this.s.merge.run(userId, sessionId).changes;
      // The session's lists and credits follow it, so later events of the user find them.
      this.s.visitors.merge(sessionId, userId);
      this.s.mergeAttributions.run(userId, sessionId);
      if (moved) this.s.touchUser.run(userId, Date.now());
      return moved;
    });
  }

  async deleteUser(userId: string, now = Date.now()): Promise<{ user: boolean; events: number }> {
    return this.write(() => {
      this.s.erase.run(userId, now);
      const events = this.s.deleteEvents.run(userId).changes;
      const { lists, sessions } = this.s.visitors.erase(userId);
      // The credits the user's lists got, whoever's events earned them: a click sent with only
      // the list's session id names no user, yet counts for the list's visitor, u:<id>.
      for (const id of lists) this.s.deleteListAttributions.run(id);
      this.s.deleteAttributions.run(userId);
      for (const visitor of [visitorKey({ userId }), ...sessions]) this.s.deleteVisitorDays.run(visitor);
      const user = this.s.deleteUser.run(userId).changes > 0;
      return { user, events };
    });
  }

  async erasedAmong(userIds: readonly string[]): Promise<Set<string>> {
    return this.erasedOf(userIds);
  }

  async consentOf(userIds: readonly string[]): Promise<Map<string, boolean>> {
    const out = new Map<string, boolean>();
    for (const id of new Set(userIds)) {
      const consent = this.s.consentOf.get(id) as number | undefined;
      if (consent !== undefined) out.set(id, Boolean(consent));
    }
    return out;
  }

  private erasedOf(userIds: Iterable<string>): Set<string> {
    const out = new Set<string>();
    for (const u of userIds) if (this.s.isErased.get(u) !== undefined) out.add(u);
    return out;
  }

  /**
   * Throws ErasedError when `userId` was erased. In the write transaction that then writes to the
   * user: an erasure's, taken in turn with it, committed before and is seen, or comes after.
   */
  private refuseErased(userId: string): void {
    if (this.erasedOf([userId]).size) throw new ErasedError(userId);
  }

  async erasedUsers(): Promise<string[]> {
    return this.s.erasedUsers.all() as string[];
  }

  async appendChanges(changes: readonly Change[], now: number): Promise<number> {
    return this.write(() => {
      let seq = 0;
      for (const c of changes) seq = Number(this.s.appendChange.run(now, JSON.stringify(c)).lastInsertRowid);
      return seq;
    });
  }

  async changesSince(seq: number, limit: number): Promise<StoredChange[]> {
    const rows = this.s.changesSince.all(seq, Math.min(limit, MAX_LOG_PAGE)) as ChangeRow[];
    return rows.map(changeFromRow);
  }

  async lastChangeSeq(): Promise<number> {
    return this.s.lastChange.get() as number;
  }

  async pruneChanges(before: number): Promise<number> {
    return this.write(() => this.s.pruneChanges.run(before).changes);
  }

  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    await this.write(() => {
      for (const e of entries) {
        const detail = e.detail === undefined ? null : JSON.stringify(e.detail);
        this.s.appendAudit.run(e.at, e.role, e.keyId, e.action, e.target, detail);
      }
    });
  }

  async audit(query: AuditQuery = {}): Promise<StoredAuditEntry[]> {
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const rows = this.s.audit.all(before, Math.min(query.limit ?? 100, MAX_LOG_PAGE)) as AuditRow[];
    return rows.map(auditFromRow);
  }

  async userActivity(userId: string, since?: number): Promise<UserActivity> {
    const row = this.s.userActivity.get(userId, since ?? Number.MIN_SAFE_INTEGER) as ActivityRow;
    return activityFromRow(userId, row);
  }

  async *usersActivity(query: ActivityQuery = {}): AsyncIterable<UserActivity> {
    const limit = query.batchSize ?? DEFAULT_STREAM_BATCH;
    const since = query.since ?? Number.MIN_SAFE_INTEGER;
    let stmt = this.s.usersActivityFirst;
    let after = '';
    for (;;) {
      const rows = stmt.all({ after, since, limit }) as (ActivityRow & { user_id: string })[];
      for (const r of rows) yield activityFromRow(r.user_id, r);
      if (rows.length < limit) return;
      after = rows[rows.length - 1]!.user_id;
      stmt = this.s.usersActivityNext;
    }
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async hasEvents(): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM events LIMIT 1').get() !== undefined;
  }

  async isEmpty(): Promise<boolean> {
    return this.db.prepare(IS_EMPTY_SQL).pluck().get() === 1;
  }

  async stats(): Promise<StoreStats> {
    const one = <T>(sql: string) => this.db.prepare(sql).get() as T;
    const items = one<{ n: number; active: number | null }>(
      "SELECT count(*) AS n, sum(status = 'active') AS active FROM items",
    );
    const users = one<{ n: number }>('SELECT count(*) AS n FROM users');
    const span = one<{ n: number; first: number | null; last: number | null }>(
      'SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM events',
    );
    const byType = this.db
      .prepare('SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type')
      .all() as {
      type: EventType;
      n: number;
    }[];
    return {
      items: items.n,
      activeItems: items.active ?? 0,
      users: users.n,
      events: span.n,
      eventsByType: Object.fromEntries(byType.map((r) => [r.type, r.n])),
      firstEventAt: span.first,
      lastEventAt: span.last,
    };
  }

  async insertImpressions(impressions: readonly NewImpression[]): Promise<number> {
    const stmt = this.s.insertImpression;
    let n = 0;
    await this.write(() => {
      const after = this.s.visitors.newest();
      // Each user once a batch, not a subquery per list (~1.3 µs of a list's write), and in the
      // transaction that writes: an erasure committed before it is seen.
      const erased = this.erasedOf(userIdsOf(impressions));
      for (const i of impressions) {
        if (i.userId !== undefined && erased.has(i.userId)) continue;
        const ids = encodedIds(i);
        n += stmt.run(
          i.recommendationId,
          i.timestamp,
          i.tier,
          i.userId ?? null,
          i.sessionId ?? null,
          i.experiment ?? null,
          i.variant ?? null,
          i.config,
          i.probability,
          i.modelVersion,
          ids.json,
          i.positions ? JSON.stringify(i.positions) : null,
          i.sessionUnit ? 1 : null,
          ids.count,
        ).changes;
      }
      this.s.visitors.added(after, Date.now());
    });
    return n;
  }

  async impressions(recommendationIds: readonly string[]): Promise<StoredImpression[]> {
    const out: StoredImpression[] = [];
    for (const id of new Set(recommendationIds)) {
      const row = this.s.impression.get(id) as ImpressionRow | undefined;
      if (row) out.push(withoutSeq(impressionFromRow(row)));
    }
    return out;
  }

  async listsShownTo(visitor: Subject, from: number, limit: number): Promise<ShownList[]> {
    return this.s.visitors.shownTo(visitor, from, limit);
  }

  async latestImpressionWith(
    visitor: VisitorRef,
    itemId: string,
    from: number,
    to: number,
  ): Promise<StoredImpression | null> {
    const row = this.s.visitors.latestWith(visitor, itemId, from, to);
    return row ? withoutSeq(impressionFromRow(row)) : null;
  }

  async insertAttributions(attributions: readonly Attribution[]): Promise<Attribution[]> {
    const stored: Attribution[] = [];
    await this.write(() => {
      for (const given of attributions) {
        const a =
          given.type === 'return'
            ? cappedReturn(given, Number(this.s.netRevenue.get(given.recommendationId, given.itemId)))
            : given;
        if (!a) continue;
        const user = a.userId ?? null;
        const run = this.s.insertAttribution.run(...attributionValues(a), user, user, a.recommendationId);
        if (run.changes) stored.push(a);
      }
    });
    return stored;
  }

  async purchaseAttribution(
    visitor: VisitorRef,
    itemId: string,
    before: number,
  ): Promise<Attribution | null> {
    const row = this.s.purchaseAttribution.get({
      userId: visitor.userId ?? null,
      sessionId: visitor.sessionId ?? null,
      itemId,
      before,
    }) as AttributionRow | undefined;
    return row ? withoutSeq(attributionFromRow(row)) : null;
  }

  async impressionsAfter(after: number, limit: number): Promise<(StoredImpression & { seq: number })[]> {
    return (this.s.impressionsAfter.all(after, limit) as ImpressionRow[]).map(impressionFromRow);
  }

  async attributionsAfter(after: number, limit: number): Promise<(Attribution & { seq: number })[]> {
    return (this.s.attributionsAfter.all(after, limit) as AttributionRow[]).map(attributionFromRow);
  }

  async feedbackWatermark(): Promise<FeedbackWatermark> {
    const r = this.s.watermark.get() as { impression_seq: number; attribution_seq: number };
    return { impressionSeq: r.impression_seq, attributionSeq: r.attribution_seq };
  }

  async feedbackHorizon(): Promise<FeedbackWatermark> {
    const r = this.s.horizon.get() as { impression_seq: number; attribution_seq: number };
    return { impressionSeq: r.impression_seq, attributionSeq: r.attribution_seq };
  }

  async addFeedbackBetween(
    from: FeedbackWatermark,
    to: FeedbackWatermark,
  ): Promise<{ impressions: number; attributions: number } | null> {
    return this.write(() => {
      const s = this.s;
      const moved = s.moveWatermark.run(
        to.impressionSeq,
        to.attributionSeq,
        from.impressionSeq,
        from.attributionSeq,
      );
      if (!moved.changes) return null;
      const imps = [from.impressionSeq, to.impressionSeq];
      const attrs = [from.attributionSeq, to.attributionSeq];
      s.fillLists.run(...imps);
      s.listGroups.run();
      s.impressionVisitorDays.run();
      s.impressionPositions.run();
      const n = s.added.get(...attrs) as { impressions: number; attributions: number };
      s.clearLists.run();
      s.attributionGroups.run(...attrs);
      s.attributionVisitorDays.run(...attrs);
      s.attributionPositions.run(...attrs);
      return { impressions: n.impressions, attributions: n.attributions };
    });
  }

  async feedbackTotals(query: FeedbackQuery): Promise<FeedbackTotals[]> {
    const sql = feedbackTotalsSql(query).replace(/\$\d+/g, '?');
    return totalsFromRows(query, this.db.prepare(sql).all(query.from, query.to) as TotalsRow[]);
  }

  async unitTotals(configs: readonly string[]): Promise<UnitTotals[]> {
    if (!configs.length) return [];
    const sql = UNIT_TOTALS_SQL.replace('$CONFIGS', 'SELECT value FROM json_each(?)');
    return (this.db.prepare(sql).all(JSON.stringify(configs)) as UnitTotalsRow[]).map(unitTotalsFromRow);
  }

  async preExposure(
    by: 'user' | 'session',
    ids: readonly string[],
    from: number,
    to: number,
  ): Promise<PreExposure[]> {
    const sql = preExposureSql(by === 'user' ? 'user_id' : 'session_id')
      .replace('$IDS', 'SELECT value FROM json_each(?)')
      .replace(/\$\d/g, '?');
    const stmt = this.db.prepare(sql);
    const out: PreExposure[] = [];
    for (let i = 0; i < ids.length; i += PRE_EXPOSURE_PAGE) {
      const page = JSON.stringify(ids.slice(i, i + PRE_EXPOSURE_PAGE));
      for (const r of stmt.all(page, from, to) as PreExposureRow[])
        out.push({ id: r.id, purchases: Number(r.purchases), revenue: Number(r.revenue) + 0 });
    }
    return out;
  }

  async saveExperiment(e: Experiment): Promise<void> {
    const save = this.db.prepare(
      `INSERT INTO experiments (id, body, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
    );
    await this.write(() => save.run(e.id, JSON.stringify(e), Date.now()));
  }

  async experiments(): Promise<Experiment[]> {
    const rows = this.db.prepare('SELECT body FROM experiments ORDER BY id').all() as { body: string }[];
    return rows.map((r) => JSON.parse(r.body) as Experiment);
  }

  async merchantRules(): Promise<{ rules: MerchantRules; updatedAt: number } | null> {
    const row = this.db.prepare('SELECT body, updated_at FROM merchant_rules WHERE id = 1').get() as
      { body: string; updated_at: number } | undefined;
    return row ? { rules: JSON.parse(row.body) as MerchantRules, updatedAt: row.updated_at } : null;
  }

  async saveMerchantRules(rules: MerchantRules, at: number): Promise<void> {
    const save = this.db.prepare(
      `INSERT INTO merchant_rules (id, body, updated_at) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
    );
    await this.write(() => save.run(JSON.stringify(rules), at));
  }

  async generatedKeys(offer: GeneratedKeys): Promise<GeneratedKeys> {
    const keep = this.db.prepare(
      'INSERT INTO generated_keys (id, storefront, admin) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING',
    );
    await this.write(() => keep.run(offer.storefront, offer.admin));
    return this.db
      .prepare('SELECT storefront, admin FROM generated_keys WHERE id = 1')
      .get() as GeneratedKeys;
  }

  async close(): Promise<void> {
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    if (this.db.open) this.db.close();
  }
}

function usersActivitySql(op: '>' | '>='): string {
  return `SELECT user_id, ${ACTIVITY_AGGREGATES} FROM events
    WHERE user_id ${op} @after AND ts >= @since GROUP BY user_id ORDER BY user_id LIMIT @limit`;
}

function withoutSeq<T extends { seq: number }>(r: T): Omit<T, 'seq'> {
  const { seq: _seq, ...rest } = r;
  return rest;
}

/** Opens and migrates a SQLite store; `file` is a path or `:memory:`. */
export async function openSqliteStore(file: string, checkpoints?: WalCheckpoints): Promise<Store> {
  const store = new SqliteStore(file, checkpoints);
  await store.migrate();
  return store;
}
