/**
 * Row ↔ record mapping shared by the SQL stores. Both keep the same columns; JSON-valued
 * columns arrive as text from SQLite and as parsed values from PostgreSQL's jsonb.
 */
import type {
  AttributeValue,
  Change,
  EventType,
  InteractionQuery,
  InvalidEvent,
  Item,
  ShelfEvent,
  StoredAuditEntry,
  StoredChange,
  User,
  UserPatch,
} from './types.ts';

export interface ItemRow {
  item_id: string;
  title: string;
  description: string | null;
  categories: string | string[];
  brand: string | null;
  price: number | null;
  currency: string | null;
  stock: number | null;
  status: string;
  published_at: number | string;
  repurchasable: number | boolean;
  attributes: string | Record<string, AttributeValue>;
}

export interface UserRow {
  user_id: string;
  attributes: string | Record<string, AttributeValue>;
  created_at: number | string;
  consent_personalization: number | boolean;
}

export interface EventRow {
  event_id: string;
  type: string;
  user_id: string | null;
  session_id: string | null;
  item_id: string;
  quantity: number | null;
  price: number | null;
  value: number | null;
  recommendation_id: string | null;
  ts: number | string;
  context: string | Record<string, AttributeValue> | null;
}

function json<T>(v: string | T): T {
  return typeof v === 'string' ? (JSON.parse(v) as T) : v;
}

export function itemFromRow(r: ItemRow): Item {
  const item: Item = {
    itemId: r.item_id,
    title: r.title,
    categories: json<string[]>(r.categories),
    status: r.status as Item['status'],
    publishedAt: Number(r.published_at),
    repurchasable: Boolean(r.repurchasable),
    attributes: json<Record<string, AttributeValue>>(r.attributes),
  };
  if (r.description !== null) item.description = r.description;
  if (r.brand !== null) item.brand = r.brand;
  if (r.price !== null) item.price = Number(r.price);
  if (r.currency !== null) item.currency = r.currency;
  if (r.stock !== null) item.stock = Number(r.stock);
  return item;
}

export function userFromRow(r: UserRow): User {
  return {
    userId: r.user_id,
    attributes: json<Record<string, AttributeValue>>(r.attributes),
    createdAt: Number(r.created_at),
    consent: { personalization: Boolean(r.consent_personalization) },
  };
}

export function eventFromRow(r: EventRow): ShelfEvent {
  const e: ShelfEvent = {
    eventId: r.event_id,
    type: r.type as EventType,
    itemId: r.item_id,
    timestamp: Number(r.ts),
  };
  if (r.user_id !== null) e.userId = r.user_id;
  if (r.session_id !== null) e.sessionId = r.session_id;
  if (r.quantity !== null) e.quantity = Number(r.quantity);
  if (r.price !== null) e.price = Number(r.price);
  if (r.value !== null) e.value = Number(r.value);
  if (r.recommendation_id !== null) e.recommendationId = r.recommendation_id;
  if (r.context !== null) e.context = json<Record<string, AttributeValue>>(r.context);
  return e;
}

export interface AuditRow {
  seq: number | string;
  at: number | string;
  role: string;
  key_id: string | null;
  action: string;
  target: string | null;
  detail: string | Record<string, AttributeValue | null> | null;
}

export interface ChangeRow {
  seq: number | string;
  at: number | string;
  change: string | Change;
}

export function auditFromRow(r: AuditRow): StoredAuditEntry {
  const entry: StoredAuditEntry = {
    seq: Number(r.seq),
    at: Number(r.at),
    role: r.role,
    keyId: r.key_id,
    action: r.action,
    target: r.target,
  };
  if (r.detail !== null) entry.detail = json<Record<string, AttributeValue | null>>(r.detail);
  return entry;
}

export function changeFromRow(r: ChangeRow): StoredChange {
  return { seq: Number(r.seq), at: Number(r.at), change: json<Change>(r.change) };
}

/** `user` (or a new profile created `now`) with `patch` applied. */
export function patched(user: User | null, userId: string, patch: UserPatch, now: number): User {
  const base = user ?? { userId, attributes: {}, createdAt: now, consent: { personalization: true } };
  return {
    ...base,
    attributes: { ...base.attributes, ...patch.attributes },
    consent: patch.consent ?? base.consent,
  };
}

/** Distinct user ids of a batch (events, lists). */
export function userIdsOf(events: readonly { userId?: string }[]): string[] {
  return [...new Set(events.flatMap((e) => (e.userId === undefined ? [] : [e.userId])))];
}

/** Whether no item, user or event is stored (`isEmpty`): a row read of each table at most. */
export const IS_EMPTY_SQL =
  'SELECT NOT (EXISTS (SELECT 1 FROM items) OR EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM events)) AS empty';

/** Audit entries and changes read per page at most. */
export const MAX_LOG_PAGE = 1000;

/** The change log's entries older than $1 (epoch ms), all but the newest (`pruneChanges`). */
export const PRUNE_CHANGES_SQL = 'DELETE FROM changes WHERE at < $1 AND seq < (SELECT max(seq) FROM changes)';

/** The first time each user appears in a batch of events (profile rows made on the fly). */
export function usersFirstSeen(events: readonly ShelfEvent[]): Map<string, number> {
  const first = new Map<string, number>();
  for (const e of events) {
    if (e.userId === undefined) continue;
    const t = first.get(e.userId);
    if (t === undefined || e.timestamp < t) first.set(e.userId, e.timestamp);
  }
  return first;
}

export const DEFAULT_STREAM_BATCH = 5000;

/** Where a time-ordered read of events goes on from: after (ts, seq). */
export interface EventCursor {
  ts: number;
  seq: number;
}

/**
 * The pages of a read of events in (ts, seq) order within `query`'s window, only the rows of
 * `query.types` kept, `fetch` reading the next page after a cursor (keyset paging, so memory
 * stays bounded by the page): what `streamEvents` and `streamInteractions` share in both stores.
 */
export async function* eventPages<R>(
  query: InteractionQuery,
  fetch: (after: EventCursor, to: number, limit: number) => R[] | Promise<R[]>,
  cursorOf: (last: R) => EventCursor,
  typeOf: (row: R) => EventType,
): AsyncIterable<R[]> {
  const limit = query.batchSize ?? DEFAULT_STREAM_BATCH;
  const to = query.to ?? Number.MAX_SAFE_INTEGER;
  const types = query.types ? new Set<EventType>(query.types) : null;
  let after: EventCursor = { ts: (query.from ?? Number.MIN_SAFE_INTEGER) - 1, seq: Number.MAX_SAFE_INTEGER };
  for (;;) {
    const rows = await fetch(after, to, limit);
    yield types ? rows.filter((r) => types.has(typeOf(r))) : rows;
    if (rows.length < limit) return;
    after = cursorOf(rows[rows.length - 1]!);
  }
}

const NUL = 'must not contain the NUL character (U+0000): PostgreSQL cannot store it';

/**
 * Why the database cannot hold `e`, or null. Validation (validate.ts) rejects all of this
 * before; a store checks again so that no other path (a benchmark, a test, a future importer)
 * can fail a whole batch for one row. Both stores refuse the same events.
 */
export function unstorable(e: ShelfEvent): Omit<InvalidEvent, 'index'> | null {
  for (const field of ['eventId', 'type', 'userId', 'sessionId', 'itemId', 'recommendationId'] as const) {
    const v = e[field];
    if (v !== undefined && v.includes('\u0000')) return { field, reason: NUL };
  }
  for (const [k, v] of Object.entries(e.context ?? {})) {
    if (k.includes('\u0000') || (typeof v === 'string' && v.includes('\u0000')))
      return { field: 'context', reason: NUL };
  }
  if (!Number.isSafeInteger(e.timestamp))
    return { field: 'timestamp', reason: 'must be a whole number of epoch milliseconds' };
  return null;
}

/** The events a store can hold, with their indices in `events`, and why the others cannot be. */
export function storableOf(events: readonly ShelfEvent[]): {
  kept: ShelfEvent[];
  keptAt: number[];
  invalid: InvalidEvent[];
} {
  const kept: ShelfEvent[] = [];
  const keptAt: number[] = [];
  const invalid: InvalidEvent[] = [];
  events.forEach((e, index) => {
    const problem = unstorable(e);
    if (problem) invalid.push({ index, ...problem });
    else {
      kept.push(e);
      keptAt.push(index);
    }
  });
  return { kept, keptAt, invalid };
}
