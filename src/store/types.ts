/** The data model of ../shared/DESIGN.md and the `Store` contract every backend implements. */

export const EVENT_TYPES = [
  'view',
  'click',
  'add_to_cart',
  'remove_from_cart',
  'purchase',
  'return',
  'rating',
  'dislike',
  /** "Not interested": like a dislike, the item leaves that visitor's lists. */
  'hide',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type AttributeValue = string | number | boolean;

/** One (item, event type) of a user's history; `at`: the newest such event, epoch ms. */
export interface UserItem {
  itemId: string;
  type: EventType;
  at: number;
}

export interface Item {
  itemId: string;
  title: string;
  description?: string;
  /** Category paths such as `Home > Kitchen > Mugs`. */
  categories: string[];
  brand?: string;
  price?: number;
  currency?: string;
  /** Units in stock; 0 = out of stock; absent = not tracked. */
  stock?: number;
  status: 'active' | 'delisted';
  /** Epoch milliseconds. */
  publishedAt: number;
  repurchasable: boolean;
  attributes: Record<string, AttributeValue>;
}

export interface User {
  /** Pseudonymous id; never an e-mail. */
  userId: string;
  attributes: Record<string, AttributeValue>;
  /** Epoch milliseconds. */
  createdAt: number;
  consent: { personalization: boolean };
}

export interface ShelfEvent {
  /** Client-made idempotency key. */
  eventId: string;
  type: EventType;
  userId?: string;
  sessionId?: string;
  itemId: string;
  quantity?: number;
  price?: number;
  /** Rating value for `rating` events. */
  value?: number;
  recommendationId?: string;
  /** Epoch milliseconds. */
  timestamp: number;
  context?: Record<string, AttributeValue>;
}

/**
 * Per-event outcome of an insert, aligned with the input array; `invalid`: the database cannot
 * hold the event (a NUL character, a timestamp outside BIGINT), so it is not stored and the
 * rest of the batch is.
 */
export type InsertStatus = 'stored' | 'duplicate' | 'invalid';

/** Why an event of a batch was not stored; `index` into the input array. */
export interface InvalidEvent {
  index: number;
  field: string;
  reason: string;
}

export interface InsertResult {
  stored: number;
  duplicates: number;
  invalid: InvalidEvent[];
  statuses: InsertStatus[];
}

export interface UpsertResult {
  /** Rows inserted or changed; a record equal to the stored one is not counted. */
  written: number;
}

export interface InteractionQuery {
  /** Inclusive lower bound, epoch ms. */
  from?: number;
  /** Exclusive upper bound, epoch ms. */
  to?: number;
  types?: readonly EventType[];
  /** Rows fetched per round trip; memory stays bounded by it. @defaultValue 5000 */
  batchSize?: number;
}

export interface StoreStats {
  items: number;
  activeItems: number;
  users: number;
  events: number;
  eventsByType: Partial<Record<EventType, number>>;
  /** Epoch ms of the oldest and newest event; null when there are none. */
  firstEventAt: number | null;
  lastEventAt: number | null;
}

/**
 * What one user did over a window of events: the input of segment classification
 * (`src/segments/`). Only events carrying the userId count; a session's anonymous events count
 * once merged into the user.
 */
export interface UserActivity {
  userId: string;
  /** Epoch ms of the user's oldest and newest event in the window; null when there is none. */
  firstEventAt: number | null;
  lastEventAt: number | null;
  /** Events of every type. */
  events: number;
  /**
   * Purchase occasions: distinct UTC days with at least one `purchase` event. Events carry no
   * order id and a checkout writes one event per line, so counting events would make a single
   * five-line basket a "loyal" customer.
   */
  purchases: number;
  /** Σ price × (quantity ?? 1) over `purchase` events minus the same over `return` events; no price counts 0. */
  revenue: number;
}

export interface ActivityQuery {
  /** Inclusive lower bound on event time, epoch ms; absent: all of the user's history. */
  since?: number;
  /** Users fetched per round trip; memory stays bounded by it. @defaultValue 5000 */
  batchSize?: number;
}

export interface ItemQuery {
  /** Items whose itemId sorts after this one (keyset paging). */
  after?: string;
  limit?: number;
}

/**
 * Where items, users and events live. SQLite (embedded) and PostgreSQL implement it and pass
 * the same suite (`test/helpers/describe-store.ts`).
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Runs pending schema migrations; safe to call on every start. */
  migrate(): Promise<void>;
  upsertItems(items: readonly Item[]): Promise<UpsertResult>;
  getItem(itemId: string): Promise<Item | null>;
  getItems(itemIds: readonly string[]): Promise<Item[]>;
  /** Items in itemId order, a page at a time. */
  listItems(query?: ItemQuery): Promise<Item[]>;
  upsertUsers(users: readonly User[]): Promise<UpsertResult>;
  getUser(userId: string): Promise<User | null>;
  /**
   * Stores events not seen before (by eventId); the user of each event gets a profile row if new.
   * One event the database cannot hold never fails the others (status `invalid`, with the reason).
   */
  insertEvents(events: readonly ShelfEvent[]): Promise<InsertResult>;
  /** Events in time order (ties by insertion order), streamed in batches with bounded memory. */
  streamEvents(query?: InteractionQuery): AsyncIterable<ShelfEvent>;
  /** A user's most recent events, newest first. */
  recentEvents(userId: string, limit: number): Promise<ShelfEvent[]>;
  /**
   * The distinct (item, event type) pairs of a user's whole history with a type of `types`,
   * in item order, with the newest such event's time: what serving keeps out of the user's
   * lists (bought, rated, disliked…) and the history EASE scores from.
   */
  userItems(userId: string, types: readonly EventType[]): Promise<UserItem[]>;
  /** Gives a session's anonymous events to a user; returns how many moved. */
  mergeSession(sessionId: string, userId: string): Promise<number>;
  /** Removes the user's profile and every event of the user; returns what was removed. */
  deleteUser(userId: string): Promise<{ user: boolean; events: number }>;
  /** One user's activity since `since` (inclusive, epoch ms); zeros and nulls when there is none. */
  userActivity(userId: string, since?: number): Promise<UserActivity>;
  /**
   * The activity of every user with an event in the window, in userId order (the database's
   * collation), fetched a page of users at a time; events without a userId are skipped.
   */
  usersActivity(query?: ActivityQuery): AsyncIterable<UserActivity>;
  stats(): Promise<StoreStats>;
  close(): Promise<void>;
}
