/** The production store on PostgreSQL through `pg`: batch writes go through `unnest` arrays. */
import pg from 'pg';
import { ErasedError } from '../errors.ts';
import { postgresMigrations } from './migrations.ts';
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

export interface PostgresStoreOptions {
  url: string;
  /** Schema holding Shelf's tables, created when missing. @defaultValue `public` */
  schema?: string;
  /** @defaultValue 10 */
  poolSize?: number;
}

const EVENT_COLUMNS =
  'event_id, type, user_id, session_id, item_id, quantity, price, value, recommendation_id, ts, context';
/** Any constant works: it only serialises concurrent migrations of replicas starting together. */
const MIGRATION_LOCK = 0x5e1f;
/** Serialises appends to the change feed (see `appendChanges`). */
const CHANGES_LOCK = 0x5e20;
/**
 * Serialises inserts of impressions and of attributions (each its own lock): the aggregation
 * reads them by seq behind a watermark, so a seq must not become visible after a larger one.
 */
const IMPRESSIONS_LOCK = 0x5e21;
const ATTRIBUTIONS_LOCK = 0x5e22;
/**
 * Event inserts, merges and patches take it shared (never in turn with each other), an erasure
 * exclusive before it deletes the events and the profile (see `erasedUnder`).
 */
const EVENTS_LOCK = 0x5e23;

/** The aggregation's statements (feedback-sql.ts) in PostgreSQL's spelling. */
const AGGREGATION = aggregationSql({
  dayOf: (days) => `to_char(to_timestamp(${days} * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
});

/** The erased ones of `userIds`. */
async function erasedIn(db: pg.Pool | pg.PoolClient, userIds: readonly string[]): Promise<Set<string>> {
  if (!userIds.length) return new Set();
  const { rows } = await db.query<{ user_id: string }>(
    'SELECT user_id FROM erased_users WHERE user_id = ANY($1::text[])',
    [userIds],
  );
  return new Set(rows.map((r) => r.user_id));
}

/**
 * The erased ones of `userIds`, for a transaction about to write rows that name them. It first
 * takes `locks` shared, the erasure's locks of the tables it writes (in the erasure's order):
 * the erasure then deletes those rows after this commits, or this waits and finds its
 * tombstone; under READ COMMITTED nothing else orders the two. In a statement before the
 * lookup: a statement reads as of its start, before a lock it takes is granted.
 */
async function erasedUnder(
  c: pg.PoolClient,
  locks: readonly number[],
  userIds: readonly string[],
): Promise<Set<string>> {
  const shared = locks.map((_, k) => `pg_advisory_xact_lock_shared($${k + 1})`).join(', ');
  await c.query(`SELECT ${shared}`, [...locks]);
  return erasedIn(c, userIds);
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly schema: string;

  constructor(options: PostgresStoreOptions) {
    this.schema = options.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]*$/.test(this.schema)) throw new RangeError(`invalid schema name ${this.schema}`);
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      options: `-c search_path=${this.schema}`,
    });
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await c.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at BIGINT)',
      );
      const done = new Set(
        (await c.query('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
      );
      for (const m of postgresMigrations) {
        if (done.has(m.version)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
    });
  }

  async upsertItems(items: readonly Item[]): Promise<UpsertResult> {
    if (!items.length) return { written: 0 };
    // Last one wins when an id repeats inside a batch, as with row-by-row upserts.
    const latest = [...new Map(items.map((i) => [i.itemId, i])).values()];
    const res = await this.pool.query(
      `INSERT INTO items (item_id, title, description, categories, brand, price, currency, stock, status,
                          published_at, repurchasable, attributes)
       SELECT id, title, descr, cats::jsonb, brand, price, currency, stock, status, published, repurch, attrs::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::text[],
                   $8::int4[], $9::text[], $10::int8[], $11::bool[], $12::text[])
         AS t(id, title, descr, cats, brand, price, currency, stock, status, published, repurch, attrs)
       ON CONFLICT (item_id) DO UPDATE SET title = excluded.title, description = excluded.description,
         categories = excluded.categories, brand = excluded.brand, price = excluded.price,
         currency = excluded.currency, stock = excluded.stock, status = excluded.status,
         published_at = excluded.published_at, repurchasable = excluded.repurchasable,
         attributes = excluded.attributes
       WHERE (items.title, items.description, items.categories, items.brand, items.price, items.currency,
              items.stock, items.status, items.published_at, items.repurchasable, items.attributes)
         IS DISTINCT FROM (excluded.title, excluded.description, excluded.categories, excluded.brand,
              excluded.price, excluded.currency, excluded.stock, excluded.status, excluded.published_at,
              excluded.repurchasable, excluded.attributes)`,
      [
        latest.map((i) => i.itemId),
        latest.map((i) => i.title),
        latest.map((i) => i.description ?? null),
        latest.map((i) => JSON.stringify(i.categories)),
        latest.map((i) => i.brand ?? null),
        latest.map((i) => i.price ?? null),
        latest.map((i) => i.currency ?? null),
        latest.map((i) => i.stock ?? null),
        latest.map((i) => i.status),
        latest.map((i) => i.publishedAt),
        latest.map((i) => i.repurchasable),
        latest.map((i) => JSON.stringify(i.attributes)),
      ],
    );
    return { written: res.rowCount ?? 0 };
  }

  async getItem(itemId: string): Promise<Item | null> {
    const { rows } = await this.pool.query<ItemRow>('SELECT * FROM items WHERE item_id = $1', [itemId]);
    return rows[0] ? itemFromRow(rows[0]) : null;
  }

  async getItems(itemIds: readonly string[]): Promise<Item[]> {
    const { rows } = await this.pool.query<ItemRow>('SELECT * FROM items WHERE item_id = ANY($1::text[])', [
      itemIds,
    ]);
    const byId = new Map(rows.map((r) => [r.item_id, itemFromRow(r)]));
    return itemIds.flatMap((id) => byId.get(id) ?? []);
  }

  async listItems(query: ItemQuery = {}): Promise<Item[]> {
    const { rows } = await this.pool.query<ItemRow>(
      'SELECT * FROM items WHERE item_id COLLATE "C" > $1 ORDER BY item_id COLLATE "C" LIMIT $2',
      [query.after ?? '', query.limit ?? 1000],
    );
    return rows.map(itemFromRow);
  }

  async upsertUsers(users: readonly User[]): Promise<UpsertResult> {
    if (!users.length) return { written: 0 };
    return this.tx(async (c) => {
      // An erased user's profile is not made again, even by an import racing the erasure.
      const gone = await erasedUnder(
        c,
        [EVENTS_LOCK],
        users.map((u) => u.userId),
      );
      const latest = [...new Map(users.map((u) => [u.userId, u])).values()].filter(
        (u) => !gone.has(u.userId),
      );
      if (!latest.length) return { written: 0 };
      const res = await c.query(
        `INSERT INTO users (user_id, attributes, created_at, consent_personalization)
       SELECT id, attrs::jsonb, created, consent
       FROM unnest($1::text[], $2::text[], $3::int8[], $4::bool[]) AS t(id, attrs, created, consent)
       ON CONFLICT (user_id) DO UPDATE SET attributes = excluded.attributes,
         consent_personalization = excluded.consent_personalization
       WHERE (users.attributes, users.consent_personalization)
         IS DISTINCT FROM (excluded.attributes, excluded.consent_personalization)`,
        [
          latest.map((u) => u.userId),
          latest.map((u) => JSON.stringify(u.attributes)),
          latest.map((u) => u.createdAt),
          latest.map((u) => u.consent.personalization),
        ],
      );
      return { written: res.rowCount ?? 0 };
    });
  }

  async getUser(userId: string): Promise<User | null> {
    const { rows } = await this.pool.query<UserRow>('SELECT * FROM users WHERE user_id = $1', [userId]);
    return rows[0] ? userFromRow(rows[0]) : null;
  }

  async insertEvents(events: readonly ShelfEvent[]): Promise<InsertResult> {
    if (!events.length) return { stored: 0, duplicates: 0, erased: 0, invalid: [], statuses: [] };
    const { kept, keptAt, invalid } = storableOf(events);
    /** Rows PostgreSQL refused (index into `kept`) and why. */
    const refused = new Map<number, string>();
    // Events of erased users are set aside in the transaction that inserts the others.
    let gone = new Set<string>();
    const live = (e: ShelfEvent) => e.userId === undefined || !gone.has(e.userId);
    let inserted: Set<string>;
    try {
      inserted = await this.tx(async (c) => {
        gone = await erasedUnder(c, [EVENTS_LOCK], userIdsOf(kept));
        return insertEventRows(c, gone.size ? kept.filter(live) : kept);
      });
    } catch (err) {
      if (!isDataError(err)) throw err;
      // A data exception (class 22) in one row fails the single multi-row statement: insert row
      // by row instead, each under a savepoint, so the others are stored (the batch stays one
      // transaction). Only this rare path pays a round trip per row.
      inserted = await this.tx(async (c) => {
        gone = await erasedUnder(c, [EVENTS_LOCK], userIdsOf(kept));
        const ids = new Set<string>();
        for (let k = 0; k < kept.length; k++) {
          if (!live(kept[k]!)) continue;
          await c.query('SAVEPOINT event_row');
          try {
            for (const id of await insertEventRows(c, [kept[k]!])) ids.add(id);
            await c.query('RELEASE SAVEPOINT event_row');
          } catch (rowErr) {
            if (!isDataError(rowErr)) throw rowErr;
            await c.query('ROLLBACK TO SAVEPOINT event_row');
            refused.set(k, (rowErr as Error).message);
          }
        }
        return ids;
      });
    }
    const statuses: InsertStatus[] = new Array(events.length);
    for (const { index } of invalid) statuses[index] = 'invalid';
    let stored = 0;
    let erased = 0;
    kept.forEach((e, k) => {
      if (!live(e)) {
        statuses[keptAt[k]!] = 'erased';
        erased++;
        return;
      }
      const reason = refused.get(k);
      if (reason !== undefined) {
        statuses[keptAt[k]!] = 'invalid';
        invalid.push({ index: keptAt[k]!, field: '(event)', reason: `refused by the database: ${reason}` });
        return;
      }
      // The first occurrence of an inserted id was the one stored; repeats in the batch are duplicates.
      const status = inserted.delete(e.eventId) ? 'stored' : 'duplicate';
      statuses[keptAt[k]!] = status;
      if (status === 'stored') stored++;
    });
    invalid.sort((a, b) => a.index - b.index);
    return { stored, duplicates: kept.length - stored - refused.size - erased, erased, invalid, statuses };
  }

  async *streamEvents(query: InteractionQuery = {}): AsyncIterable<ShelfEvent> {
    const pages = eventPages(
      query,
      async (after, to, limit) =>
        (
          await this.pool.query<EventRow & { seq: string }>(
            `SELECT seq, ${EVENT_COLUMNS} FROM events
             WHERE (ts, seq) > ($1::int8, $2::int8) AND ts < $3::int8 ORDER BY ts, seq LIMIT $4`,
            [after.ts, after.seq, to, limit],
          )
        ).rows,
      (r) => ({ ts: Number(r.ts), seq: Number(r.seq) }),
      (r) => r.type as EventType,
    );
    for await (const rows of pages) for (const r of rows) yield eventFromRow(r);
  }

  async *streamInteractions(query: InteractionQuery = {}): AsyncIterable<readonly InteractionRow[]> {
    const pages = eventPages(
      query,
      async (after, to, limit) =>
        (
          await this.pool.query<[string, string, EventType, number | null, number | null, string, string]>({
            text: `SELECT user_id, item_id, type, value, quantity, ts, seq FROM events
                   WHERE (ts, seq) > ($1::int8, $2::int8) AND ts < $3::int8 AND user_id IS NOT NULL
                   ORDER BY ts, seq LIMIT $4`,
            values: [after.ts, after.seq, to, limit],
            rowMode: 'array',
          })
        ).rows,
      (r) => ({ ts: Number(r[5]), seq: Number(r[6]) }),
      (r) => r[2],
    );
    // ts and seq are int8: text.
    for await (const rows of pages)
      yield rows.map((r) => [r[0], r[1], r[2], r[3], r[4], Number(r[5])] as const);
  }

  async recentEvents(userId: string, limit: number): Promise<ShelfEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE user_id = $1 ORDER BY ts DESC, seq DESC LIMIT $2`,
      [userId, limit],
    );
    return rows.map(eventFromRow);
  }

  async sessionEvents(sessionId: string, limit: number): Promise<ShelfEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE session_id = $1 AND user_id IS NULL ` +
        'ORDER BY ts DESC, seq DESC LIMIT $2',
      [sessionId, limit],
    );
    return rows.map(eventFromRow);
  }

  userItems(userId: string, types: readonly EventType[]): Promise<UserItem[]> {
    return this.itemsOf('user_id = $1', userId, types);
  }

  sessionItems(sessionId: string, types: readonly EventType[]): Promise<UserItem[]> {
    return this.itemsOf('session_id = $1 AND user_id IS NULL', sessionId, types);
  }

  private async itemsOf(who: string, id: string, types: readonly EventType[]): Promise<UserItem[]> {
    const { rows } = await this.pool.query<{ itemId: string; type: EventType; at: string }>(
      `SELECT item_id AS "itemId", type, MAX(ts) AS at FROM events WHERE ${who} AND type = ANY($2)
       GROUP BY item_id, type ORDER BY item_id COLLATE "C", type COLLATE "C"`,
      [id, types],
    );
    return rows.map((r) => ({ itemId: r.itemId, type: r.type, at: Number(r.at) }));
  }

  async mergeSession(sessionId: string, userId: string): Promise<number> {
    return this.tx(async (c) => {
      // The erasure's three locks: it deletes lists and credits before it takes the events'. With
      // that one alone, a session's lists moved after the erasure had deleted the user's stayed,
      // and a merge could wait for a credit the erasure deleted while it waited for the merge.
      const locks = [IMPRESSIONS_LOCK, ATTRIBUTIONS_LOCK, EVENTS_LOCK];
      if ((await erasedUnder(c, locks, [userId])).size) throw new ErasedError(userId);
      const res = await c.query('UPDATE events SET user_id = $1 WHERE session_id = $2 AND user_id IS NULL', [
        userId,
        sessionId,
      ]);
      const moved = res.rowCount ?? 0;
      // The session's lists and credits follow it, so later events of the user find them; the
      // lists still count for the session they were served to.
      await c.query(
        'UPDATE impressions SET user_id = $1, session_unit = TRUE WHERE session_id = $2 AND user_id IS NULL',
        [userId, sessionId],
      );
      await c.query('UPDATE attributions SET user_id = $1 WHERE session_id = $2 AND user_id IS NULL', [
        userId,
        sessionId,
      ]);
      if (moved) {
        await c.query(
          `INSERT INTO users (user_id, attributes, created_at) VALUES ($1, '{}'::jsonb, $2)
           ON CONFLICT (user_id) DO NOTHING`,
          [userId, Date.now()],
        );
      }
      return moved;
    });
  }

  async deleteUser(userId: string, now = Date.now()): Promise<{ user: boolean; events: number }> {
    return this.tx(async (c) => {
      // In turn with the aggregation (its chunk holds the watermark row) and with the writes of
      // lists, attributions and events, merges and patches (their locks): a chunk that read the
      // user's lists before this deletes commits its sums before it, so they are deleted; a list,
      // attribution or event written after it finds the tombstone and is not stored, a merge
      // into the user or a patch of it is refused.
      await c.query('SELECT 1 FROM feedback_watermark WHERE id = 1 FOR UPDATE');
      await c.query('SELECT pg_advisory_xact_lock($1), pg_advisory_xact_lock($2)', [
        IMPRESSIONS_LOCK,
        ATTRIBUTIONS_LOCK,
      ]);
      await c.query(
        'INSERT INTO erased_users (user_id, erased_at) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING',
        [userId, now],
      );
      // The sessions the user's lists name: their aggregates go too. A session-unit experiment's
      // lists count by their session, and so did a session's lists aggregated before it was
      // merged into the user.
      const { rows } = await c.query<{ v: string }>(
        `SELECT DISTINCT 's:' || session_id AS v FROM impressions WHERE user_id = $1 AND session_id IS NOT NULL`,
        [userId],
      );
      // Those sessions' anonymous lists, and their credits: not yet aggregated, they brought the
      // session's rows back.
      const sessions = rows.map((r) => r.v.slice(2));
      await c.query(
        `DELETE FROM attributions WHERE recommendation_id IN (
           SELECT recommendation_id FROM impressions WHERE user_id IS NULL AND session_id = ANY($1))`,
        [sessions],
      );
      await c.query('DELETE FROM impressions WHERE user_id IS NULL AND session_id = ANY($1)', [sessions]);
      // The credits the user's lists got, whoever's events earned them: a click sent with only
      // the list's session id names no user, yet counts for the list's visitor, u:<id>.
      await c.query(
        `DELETE FROM attributions
         WHERE recommendation_id IN (SELECT recommendation_id FROM impressions WHERE user_id = $1)`,
        [userId],
      );
      await c.query('DELETE FROM impressions WHERE user_id = $1', [userId]);
      await c.query('DELETE FROM attributions WHERE user_id = $1', [userId]);
      for (const visitor of [visitorKey({ userId }), ...rows.map((r) => r.v)])
        await c.query(ERASE_VISITOR_DAYS_SQL, [visitor]);
      // The events' lock last: event inserts wait for this only while those in flight finish
      // and the two deletes below run, never for a chunk or the seeks above (one per group and
      // visitor key). An insert or a patch holding it waits for none of the other locks and no
      // row written above (events and profiles go below), and a merge holding it holds the other
      // locks too, so none does while this waits: waiting for it here cannot deadlock.
      await c.query('SELECT pg_advisory_xact_lock($1)', [EVENTS_LOCK]);
      const events = (await c.query('DELETE FROM events WHERE user_id = $1', [userId])).rowCount ?? 0;
      const user = ((await c.query('DELETE FROM users WHERE user_id = $1', [userId])).rowCount ?? 0) > 0;
      return { user, events };
    });
  }

  async patchUser(userId: string, patch: UserPatch, now: number): Promise<User> {
    return this.tx(async (c) => {
      if ((await erasedUnder(c, [EVENTS_LOCK], [userId])).size) throw new ErasedError(userId);
      const { rows } = await c.query<UserRow>('SELECT * FROM users WHERE user_id = $1 FOR UPDATE', [userId]);
      const u = patched(rows[0] ? userFromRow(rows[0]) : null, userId, patch, now);
      await c.query(
        `INSERT INTO users (user_id, attributes, created_at, consent_personalization) VALUES ($1, $2::jsonb, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET attributes = excluded.attributes,
           consent_personalization = excluded.consent_personalization`,
        [u.userId, JSON.stringify(u.attributes), u.createdAt, u.consent.personalization],
      );
      return u;
    });
  }

  async erasedAmong(userIds: readonly string[]): Promise<Set<string>> {
    return erasedIn(this.pool, userIds);
  }

  async consentOf(userIds: readonly string[]): Promise<Map<string, boolean>> {
    if (!userIds.length) return new Map();
    const { rows } = await this.pool.query<{ user_id: string; consent_personalization: boolean }>(
      'SELECT user_id, consent_personalization FROM users WHERE user_id = ANY($1::text[])',
      [userIds],
    );
    return new Map(rows.map((r) => [r.user_id, r.consent_personalization]));
  }

  async erasedUsers(): Promise<string[]> {
    const { rows } = await this.pool.query<{ user_id: string }>(
      'SELECT user_id FROM erased_users ORDER BY user_id',
    );
    return rows.map((r) => r.user_id);
  }

  async appendChanges(changes: readonly Change[], now: number): Promise<number> {
    if (!changes.length) return this.lastChangeSeq();
    return this.tx(async (c) => {
      // Appends take turns, so seqs become visible in order: a reader that has seen seq n has
      // seen every seq below it (concurrent BIGSERIAL inserts may otherwise commit out of order).
      await c.query('SELECT pg_advisory_xact_lock($1)', [CHANGES_LOCK]);
      const { rows } = await c.query<{ seq: string }>(
        `INSERT INTO changes (at, change)
         SELECT $1, c::jsonb FROM unnest($2::text[]) WITH ORDINALITY AS t(c, ord) ORDER BY ord
         RETURNING seq`,
        [now, changes.map((ch) => JSON.stringify(ch))],
      );
      return Math.max(...rows.map((r) => Number(r.seq)));
    });
  }

  async changesSince(seq: number, limit: number): Promise<StoredChange[]> {
    const { rows } = await this.pool.query<ChangeRow>(
      'SELECT seq, at, change FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2',
      [seq, Math.min(limit, MAX_LOG_PAGE)],
    );
    return rows.map(changeFromRow);
  }

  async lastChangeSeq(): Promise<number> {
    const { rows } = await this.pool.query<{ seq: string }>(
      'SELECT coalesce(max(seq), 0) AS seq FROM changes',
    );
    return Number(rows[0]!.seq);
  }

  async pruneChanges(before: number): Promise<number> {
    return (await this.pool.query(PRUNE_CHANGES_SQL, [before])).rowCount ?? 0;
  }

  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    if (!entries.length) return;
    await this.pool.query(
      `INSERT INTO audit_log (at, role, key_id, action, target, detail)
       SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])`,
      [
        entries.map((e) => e.at),
        entries.map((e) => e.role),
        entries.map((e) => e.keyId),
        entries.map((e) => e.action),
        entries.map((e) => e.target),
        entries.map((e) => (e.detail === undefined ? null : JSON.stringify(e.detail))),
      ],
    );
  }

  async audit(query: AuditQuery = {}): Promise<StoredAuditEntry[]> {
    const { rows } = await this.pool.query<AuditRow>(
      'SELECT * FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT $2',
      [query.before ?? Number.MAX_SAFE_INTEGER, Math.min(query.limit ?? 100, MAX_LOG_PAGE)],
    );
    return rows.map(auditFromRow);
  }

  async userActivity(userId: string, since?: number): Promise<UserActivity> {
    const { rows } = await this.pool.query<ActivityRow>(
      `SELECT ${ACTIVITY_AGGREGATES} FROM events WHERE user_id = $1 AND ts >= $2::int8`,
      [userId, since ?? Number.MIN_SAFE_INTEGER],
    );
    return activityFromRow(userId, rows[0]!);
  }

  async *usersActivity(query: ActivityQuery = {}): AsyncIterable<UserActivity> {
    const limit = query.batchSize ?? DEFAULT_STREAM_BATCH;
    const since = query.since ?? Number.MIN_SAFE_INTEGER;
    // Keyset pages in the database's collation, so that events_user (user_id, ts) serves both
    // the order and the bound; the first page also takes a user id of ''.
    let op = '>=';
    let after = '';
    for (;;) {
      const { rows } = await this.pool.query<ActivityRow & { user_id: string }>(
        `SELECT user_id, ${ACTIVITY_AGGREGATES} FROM events
         WHERE user_id ${op} $1 AND ts >= $2::int8 GROUP BY user_id ORDER BY user_id LIMIT $3`,
        [after, since, limit],
      );
      for (const r of rows) yield activityFromRow(r.user_id, r);
      if (rows.length < limit) return;
      after = rows[rows.length - 1]!.user_id;
      op = '>';
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async hasEvents(): Promise<boolean> {
    return (await this.pool.query('SELECT 1 FROM events LIMIT 1')).rowCount! > 0;
  }

  async isEmpty(): Promise<boolean> {
    const { rows } = await this.pool.query<{ empty: boolean }>(IS_EMPTY_SQL);
    return rows[0]!.empty;
  }

  async stats(): Promise<StoreStats> {
    const [items, users, span, byType] = await Promise.all([
      this.pool.query<{ n: string; active: string }>(
        "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'active') AS active FROM items",
      ),
      this.pool.query<{ n: string }>('SELECT count(*) AS n FROM users'),
      this.pool.query<{ n: string; first: string | null; last: string | null }>(
        'SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM events',
      ),
      this.pool.query<{ type: EventType; n: string }>(
        'SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type',
      ),
    ]);
    const s = span.rows[0]!;
    return {
      items: Number(items.rows[0]!.n),
      activeItems: Number(items.rows[0]!.active),
      users: Number(users.rows[0]!.n),
      events: Number(s.n),
      eventsByType: Object.fromEntries(byType.rows.map((r) => [r.type, Number(r.n)])),
      firstEventAt: s.first === null ? null : Number(s.first),
      lastEventAt: s.last === null ? null : Number(s.last),
    };
  }

  async insertImpressions(impressions: readonly NewImpression[]): Promise<number> {
    if (!impressions.length) return 0;
    const ids = impressions.map(encodedIds);
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [IMPRESSIONS_LOCK]);
      const res = await c.query(
        `INSERT INTO impressions (${IMPRESSION_COLUMNS.replace('seq, ', '')}, shown)
         SELECT rid, ts, tier, uid, sid, exp, variant, config, prob, mv, items::jsonb, pos::jsonb, su, shown
         FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::float8[], $10::text[], $11::text[], $12::text[], $13::bool[],
                     $14::int4[]) WITH ORDINALITY
           AS t(rid, ts, tier, uid, sid, exp, variant, config, prob, mv, items, pos, su, shown, ord)
         WHERE uid IS NULL OR NOT EXISTS (SELECT 1 FROM erased_users e WHERE e.user_id = t.uid)
         ORDER BY ord
         ON CONFLICT (recommendation_id) DO NOTHING`,
        [
          impressions.map((i) => i.recommendationId),
          impressions.map((i) => i.timestamp),
          impressions.map((i) => i.tier),
          impressions.map((i) => i.userId ?? null),
          impressions.map((i) => i.sessionId ?? null),
          impressions.map((i) => i.experiment ?? null),
          impressions.map((i) => i.variant ?? null),
          impressions.map((i) => i.config),
          impressions.map((i) => i.probability),
          impressions.map((i) => i.modelVersion),
          ids.map((i) => i.json),
          impressions.map((i) => (i.positions ? JSON.stringify(i.positions) : null)),
          impressions.map((i) => (i.sessionUnit ? true : null)),
          ids.map((i) => i.count),
        ],
      );
      return res.rowCount ?? 0;
    });
  }

  async impressions(recommendationIds: readonly string[]): Promise<StoredImpression[]> {
    if (!recommendationIds.length) return [];
    const { rows } = await this.pool.query<ImpressionRow>(
      `SELECT ${IMPRESSION_COLUMNS} FROM impressions WHERE recommendation_id = ANY($1::text[])`,
      [[...new Set(recommendationIds)]],
    );
    return rows.map((r) => withoutSeq(impressionFromRow(r)));
  }

  async listsShownTo(visitor: Subject, from: number, limit: number): Promise<ShownList[]> {
    const [where, id] =
      'sessionId' in visitor
        ? ['session_id = $1 AND user_id IS NULL', visitor.sessionId]
        : ['user_id = $1', visitor.userId];
    const { rows } = await this.pool.query<{ item_ids: string[]; ts: string }>(
      `SELECT item_ids, ts FROM impressions WHERE ${where} AND ts >= $2 ORDER BY ts DESC, seq DESC LIMIT $3`,
      [id, from, limit],
    );
    return rows.reverse().map((r) => ({ itemIds: r.item_ids, at: Number(r.ts) }));
  }

  async latestImpressionWith(
    visitor: VisitorRef,
    itemId: string,
    from: number,
    to: number,
  ): Promise<StoredImpression | null> {
    const { rows } = await this.pool.query<ImpressionRow>(
      `SELECT ${IMPRESSION_COLUMNS} FROM impressions
       WHERE (user_id = $1 OR session_id = $2) AND ts >= $3 AND ts <= $4 AND item_ids @> jsonb_build_array($5::text)
       ORDER BY ts DESC, seq DESC LIMIT 1`,
      [visitor.userId ?? null, visitor.sessionId ?? null, from, to, itemId],
    );
    return rows[0] ? withoutSeq(impressionFromRow(rows[0])) : null;
  }

  async insertAttributions(attributions: readonly Attribution[]): Promise<Attribution[]> {
    if (!attributions.length) return [];
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [ATTRIBUTIONS_LOCK]);
      // The others in one statement; then each return, capped by what it reads here, its
      // batch's purchases included (cappedReturn).
      const others = attributions.filter((a) => a.type !== 'return');
      const ids = await insertAttributionRows(c, others);
      const stored = new Map(others.filter((a) => ids.has(a.eventId)).map((a) => [a.eventId, a]));
      for (const given of attributions) {
        if (given.type !== 'return') continue;
        const { rows } = await c.query<{ net: string | number }>(NET_REVENUE_SQL, [
          given.recommendationId,
          given.itemId,
        ]);
        const a = cappedReturn(given, Number(rows[0]!.net));
        if (a && (await insertAttributionRows(c, [a])).size) stored.set(a.eventId, a);
      }
      return attributions.flatMap((a) => stored.get(a.eventId) ?? []);
    });
  }

  async purchaseAttribution(
    visitor: VisitorRef,
    itemId: string,
    before: number,
  ): Promise<Attribution | null> {
    const { rows } = await this.pool.query<AttributionRow>(
      `SELECT seq, ${ATTRIBUTION_COLUMNS} FROM attributions
       WHERE (user_id = $1 OR session_id = $2) AND item_id = $3 AND type = 'purchase' AND ts <= $4
       ORDER BY ts DESC, seq DESC LIMIT 1`,
      [visitor.userId ?? null, visitor.sessionId ?? null, itemId, before],
    );
    return rows[0] ? withoutSeq(attributionFromRow(rows[0])) : null;
  }

  async impressionsAfter(after: number, limit: number): Promise<(StoredImpression & { seq: number })[]> {
    const { rows } = await this.pool.query<ImpressionRow>(
      `SELECT ${IMPRESSION_COLUMNS} FROM impressions WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [after, limit],
    );
    return rows.map(impressionFromRow);
  }

  async attributionsAfter(after: number, limit: number): Promise<(Attribution & { seq: number })[]> {
    const { rows } = await this.pool.query<AttributionRow>(
      `SELECT seq, ${ATTRIBUTION_COLUMNS} FROM attributions WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [after, limit],
    );
    return rows.map(attributionFromRow);
  }

  async feedbackWatermark(): Promise<FeedbackWatermark> {
    const { rows } = await this.pool.query<{ impression_seq: string; attribution_seq: string }>(
      'SELECT impression_seq, attribution_seq FROM feedback_watermark WHERE id = 1',
    );
    return {
      impressionSeq: Number(rows[0]!.impression_seq),
      attributionSeq: Number(rows[0]!.attribution_seq),
    };
  }

  async feedbackHorizon(): Promise<FeedbackWatermark> {
    const { rows } = await this.pool.query<{ impression_seq: string; attribution_seq: string }>(
      FEEDBACK_HORIZON_SQL,
    );
    return {
      impressionSeq: Number(rows[0]!.impression_seq),
      attributionSeq: Number(rows[0]!.attribution_seq),
    };
  }

  async addFeedbackBetween(
    from: FeedbackWatermark,
    to: FeedbackWatermark,
  ): Promise<{ impressions: number; attributions: number } | null> {
    return this.tx(async (c) => {
      const moved = await c.query(
        `UPDATE feedback_watermark SET impression_seq = $1, attribution_seq = $2
         WHERE id = 1 AND impression_seq = $3 AND attribution_seq = $4`,
        [to.impressionSeq, to.attributionSeq, from.impressionSeq, from.attributionSeq],
      );
      if (!moved.rowCount) return null;
      // Room for the grouping's hash table: with less the planner sorts a chunk's lists on disk
      // instead (measured: 7 s against 1.1 s for 1M lists); hashing past it spills, it does not fail.
      await c.query("SET LOCAL work_mem = '256MB'");
      const imps = [from.impressionSeq, to.impressionSeq];
      const attrs = [from.attributionSeq, to.attributionSeq];
      await c.query(
        `CREATE TEMP TABLE IF NOT EXISTS feedback_lists (${FEEDBACK_LISTS_COLUMNS}) ON COMMIT DELETE ROWS`,
      );
      await c.query(AGGREGATION.fillLists, imps);
      await c.query(AGGREGATION.listGroups);
      await c.query(AGGREGATION.impressionVisitorDays);
      await c.query(AGGREGATION.impressionPositions);
      const { rows } = await c.query<{ impressions: string; attributions: string }>(
        FEEDBACK_ADDED_SQL,
        attrs,
      );
      await c.query(AGGREGATION.clearLists);
      await c.query(AGGREGATION.attributionGroups, attrs);
      await c.query(AGGREGATION.attributionVisitorDays, attrs);
      await c.query(AGGREGATION.attributionPositions, attrs);
      return { impressions: Number(rows[0]!.impressions), attributions: Number(rows[0]!.attributions) };
    });
  }

  async feedbackTotals(query: FeedbackQuery): Promise<FeedbackTotals[]> {
    const { rows } = await this.pool.query<TotalsRow>(feedbackTotalsSql(query), [query.from, query.to]);
    return totalsFromRows(query, rows);
  }

  async unitTotals(configs: readonly string[]): Promise<UnitTotals[]> {
    if (!configs.length) return [];
    const sql = UNIT_TOTALS_SQL.replace('IN ($CONFIGS)', '= ANY($1::text[])');
    const { rows } = await this.pool.query<UnitTotalsRow>(sql, [configs]);
    return rows.map(unitTotalsFromRow);
  }

  async preExposure(
    by: 'user' | 'session',
    ids: readonly string[],
    from: number,
    to: number,
  ): Promise<PreExposure[]> {
    const sql = preExposureSql(by === 'user' ? 'user_id' : 'session_id').replace(
      'IN ($IDS)',
      '= ANY($3::text[])',
    );
    const out: PreExposure[] = [];
    for (let i = 0; i < ids.length; i += PRE_EXPOSURE_PAGE) {
      const { rows } = await this.pool.query<PreExposureRow>(sql, [
        from,
        to,
        ids.slice(i, i + PRE_EXPOSURE_PAGE),
      ]);
      for (const r of rows)
        out.push({ id: r.id, purchases: Number(r.purchases), revenue: Number(r.revenue) + 0 });
    }
    return out;
  }

  async saveExperiment(e: Experiment): Promise<void> {
    await this.pool.query(
      `INSERT INTO experiments (id, body, updated_at) VALUES ($1, $2::jsonb, $3)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
      [e.id, JSON.stringify(e), Date.now()],
    );
  }

  async experiments(): Promise<Experiment[]> {
    const { rows } = await this.pool.query<{ body: Experiment }>('SELECT body FROM experiments ORDER BY id');
    return rows.map((r) => r.body);
  }

  async merchantRules(): Promise<{ rules: MerchantRules; updatedAt: number } | null> {
    const { rows } = await this.pool.query<{ body: MerchantRules; updated_at: string }>(
      'SELECT body, updated_at FROM merchant_rules WHERE id = 1',
    );
    const row = rows[0];
    return row ? { rules: row.body, updatedAt: Number(row.updated_at) } : null;
  }

  async saveMerchantRules(rules: MerchantRules, at: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO merchant_rules (id, body, updated_at) VALUES (1, $1::jsonb, $2)
       ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
      [JSON.stringify(rules), at],
    );
  }

  async generatedKeys(offer: GeneratedKeys): Promise<GeneratedKeys> {
    await this.pool.query(
      'INSERT INTO generated_keys (id, storefront, admin) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING',
      [offer.storefront, offer.admin],
    );
    const { rows } = await this.pool.query<GeneratedKeys>(
      'SELECT storefront, admin FROM generated_keys WHERE id = 1',
    );
    return rows[0]!;
  }

  /** Drops the schema and everything in it (tests and benchmarks use their own schema). */
  async dropSchema(): Promise<void> {
    if (this.schema === 'public') throw new Error('refusing to drop the public schema');
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** SQLSTATE class 22, data exception: a value the column cannot take (22021: a NUL in text). */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/**
 * Inserts `attributions` in one statement (the caller holds the lock); the eventIds stored.
 * Neither for an erased user nor once its list is gone: a credit read from a user's list before
 * their erasure (which deletes lists and credits holding the same lock) and written after it,
 * for a click with only the session id, came back as the list's visitor, u:<id>.
 */
async function insertAttributionRows(
  c: pg.PoolClient,
  attributions: readonly Attribution[],
): Promise<Set<string>> {
  if (!attributions.length) return new Set();
  const cols = attributions.map(attributionValues);
  const column = (k: number) => cols.map((v) => v[k]);
  const { rows } = await c.query<{ event_id: string }>(
    `INSERT INTO attributions (${ATTRIBUTION_COLUMNS})
     SELECT eid, type, item, uid, sid, ts, rid, pos, units, revenue, tier, mv, config, variant, day, visitor
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::text[],
                 $8::int4[], $9::float8[], $10::float8[], $11::text[], $12::text[], $13::text[], $14::text[],
                 $15::text[], $16::text[]) WITH ORDINALITY
       AS t(eid, type, item, uid, sid, ts, rid, pos, units, revenue, tier, mv, config, variant, day, visitor, ord)
     WHERE (uid IS NULL OR NOT EXISTS (SELECT 1 FROM erased_users e WHERE e.user_id = t.uid))
       AND EXISTS (SELECT 1 FROM impressions i WHERE i.recommendation_id = t.rid)
     ORDER BY ord
     ON CONFLICT DO NOTHING
     RETURNING event_id`,
    Array.from({ length: 16 }, (_, k) => column(k)),
  );
  return new Set(rows.map((r) => r.event_id));
}

/** Profile rows for new users, then the events, in one statement each; the event ids inserted. */
async function insertEventRows(c: pg.PoolClient, events: readonly ShelfEvent[]): Promise<Set<string>> {
  if (!events.length) return new Set();
  const firstSeen = usersFirstSeen(events);
  if (firstSeen.size) {
    await c.query(
      `INSERT INTO users (user_id, attributes, created_at)
       SELECT id, '{}'::jsonb, created FROM unnest($1::text[], $2::int8[]) AS t(id, created)
       ON CONFLICT (user_id) DO NOTHING`,
      [[...firstSeen.keys()], [...firstSeen.values()]],
    );
  }
  const res = await c.query<{ event_id: string }>(
    `INSERT INTO events (${EVENT_COLUMNS})
     SELECT id, type, uid, sid, item, qty, price, val, rec, ts, ctx::jsonb
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[],
                 $8::float8[], $9::text[], $10::int8[], $11::text[]) WITH ORDINALITY
       AS t(id, type, uid, sid, item, qty, price, val, rec, ts, ctx, ord)
     ORDER BY ord
     ON CONFLICT (event_id) DO NOTHING
     RETURNING event_id`,
    [
      events.map((e) => e.eventId),
      events.map((e) => e.type),
      events.map((e) => e.userId ?? null),
      events.map((e) => e.sessionId ?? null),
      events.map((e) => e.itemId),
      events.map((e) => e.quantity ?? null),
      events.map((e) => e.price ?? null),
      events.map((e) => e.value ?? null),
      events.map((e) => e.recommendationId ?? null),
      events.map((e) => e.timestamp),
      events.map((e) => (e.context === undefined ? null : JSON.stringify(e.context))),
    ],
  );
  return new Set(res.rows.map((r) => r.event_id));
}

function withoutSeq<T extends { seq: number }>(r: T): Omit<T, 'seq'> {
  const { seq: _seq, ...rest } = r;
  return rest;
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const store = new PostgresStore(options);
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
