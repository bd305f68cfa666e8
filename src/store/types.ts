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
 * Per-event outcome of an insert, aligned with the input array; `erased`: the event's user was
 * deleted (a tombstone); `invalid`: the database cannot hold the event (a NUL character, a
 * timestamp outside BIGINT). Neither is stored, and the rest of the batch is.
 */
export type InsertStatus = 'stored' | 'duplicate' | 'erased' | 'invalid';

/** Why an event of a batch was not stored; `index` into the input array. */
export interface InvalidEvent {
  index: number;
  field: string;
  reason: string;
}

export interface InsertResult {
  stored: number;
  duplicates: number;
  erased: number;
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

/**
 * A user's event as training reads it (`Store.streamInteractions`); a store may leave columns
 * of its own after these (its paging cursor).
 */
export type InteractionRow = readonly [
  userId: string,
  itemId: string,
  type: EventType,
  value: number | null,
  quantity: number | null,
  timestamp: number,
  ...store: unknown[],
];

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

/** A profile change (`PATCH /v1/users/:userId`): given fields replace, attributes key by key. */
export interface UserPatch {
  consent?: { personalization: boolean };
  attributes?: Record<string, AttributeValue>;
}

/**
 * A change every replica applies (the change feed, src/changes/): items to read again; users
 * whose profile changed (consent, attributes, a merged session), `withdrawn` the ones that no
 * longer consent to personalization; a user erased; a version made current.
 */
export type Change =
  | { kind: 'items'; itemIds: string[] }
  | { kind: 'users'; userIds: string[]; withdrawn: string[] }
  | { kind: 'erased'; userId: string }
  /**
   * Events stored for them outside the servers (an import): their history and consumed items
   * are read again.
   */
  | { kind: 'visitors'; userIds: string[]; sessionIds: string[] }
  | { kind: 'version'; version: string | null }
  | { kind: 'experiment'; id: string }
  /** The merchandising rules were replaced: read them again. */
  | { kind: 'rules' }
  /** A worker computed a segment report; it is in Redis (src/segments/shared-segment-report.ts). */
  | { kind: 'segments'; computedAt: number };

export interface StoredChange {
  /** The feed's sequence: gap-free in commit order, never reused. */
  seq: number;
  /** Epoch ms. */
  at: number;
  change: Change;
}

/**
 * One entry of the append-only audit log: who (the key's role and its non-secret id; `cli` for
 * the command line, `job` for scheduled work) did what to which subject. No personal data
 * beyond the pseudonymous user id.
 */
export interface AuditEntry {
  /** Epoch ms. */
  at: number;
  role: string;
  keyId: string | null;
  /** e.g. `user.erase`, `user.consent`, `items.change`, `model.promote`. */
  action: string;
  /** The user id, item id or version acted on. */
  target: string | null;
  detail?: Record<string, AttributeValue | null>;
}

export interface StoredAuditEntry extends AuditEntry {
  seq: number;
}

export interface AuditQuery {
  /** Entries with a smaller seq than this (newest first paging). */
  before?: number;
  /** @defaultValue 100 */
  limit?: number;
}

export interface ItemQuery {
  /** Items whose itemId sorts after this one (keyset paging). */
  after?: string;
  limit?: number;
}

/**
 * One list served (DESIGN.md "Impression"); `probability`: the chance the serving configuration
 * was chosen with (1 when deterministic); `itemIds` by position.
 */
export interface StoredImpression {
  recommendationId: string;
  tier: string;
  userId?: string;
  sessionId?: string;
  experiment?: string;
  variant?: string;
  config: string;
  probability: number;
  modelVersion: string | null;
  itemIds: readonly string[];
  /** Epoch ms. */
  timestamp: number;
  /** Per position, the arms of the stochastic policy that served it (absent when deterministic). */
  positions?: PositionLog;
  /**
   * It counts by its session (`impressionVisitor`): served in an experiment that randomises by
   * session, or to a session since merged into `userId` (so that a list aggregated before the
   * merge and a credit to it after count for one visitor).
   */
  sessionUnit?: true;
}

/**
 * A list to write. Its ids may come as JSON array text with their count, as the impression writer
 * thread is handed them: the text is made once per cached list and written as is.
 */
export type NewImpression = StoredImpression | (Omit<StoredImpression, 'itemIds'> & { itemIds: EncodedIds });

/** A list's ids as the JSON array text the stores keep, and how many they are. */
export interface EncodedIds {
  json: string;
  count: number;
}

/**
 * What each arm of a stochastic policy (a bandit, exploration) would have shown, position by
 * position: the data the item-position estimator of off-policy evaluation needs. `masks[k]` has
 * bit `a` set when arm `a` would have shown the list's item at position `k` there.
 */
export interface PositionLog {
  /** The arms' configuration names. */
  arms: string[];
  /** The chance each arm had. */
  probabilities: number[];
  masks: number[];
}

/** One visitor: a user, or an anonymous session. */
export type Subject = { userId: string } | { sessionId: string };

/** A list as rotation replays it: the items shown, and when. */
export interface ShownList {
  itemIds: string[];
  at: number;
}

/** Who an event or an impression belongs to: a user, a session, or both. */
export interface VisitorRef {
  userId?: string;
  sessionId?: string;
}

/** The event types an impression can be credited with (a return takes back its purchase's revenue). */
export type AttributedType = 'click' | 'add_to_cart' | 'purchase' | 'return';

/**
 * An event credited to an impression and a position in it; the impression's group keys are
 * copied so the aggregation reads one table. Absent model version and variant are ''.
 */
export interface Attribution {
  eventId: string;
  type: AttributedType;
  itemId: string;
  /** The event's visitor (a merge moves a session's attributions to the user). */
  userId?: string;
  sessionId?: string;
  /** The event's time, epoch ms. */
  at: number;
  recommendationId: string;
  /** 0-based position of the item in the impression. */
  position: number;
  units: number;
  /** price × quantity; negative for a return. */
  revenue: number;
  tier: string;
  modelVersion: string;
  config: string;
  variant: string;
  /** The impression's UTC day, YYYY-MM-DD. */
  day: string;
  /** The impression's visitor key (see `visitorKey`). */
  visitor: string;
}

/** How far the aggregation has read: the last impression and attribution seq added. */
export interface FeedbackWatermark {
  impressionSeq: number;
  attributionSeq: number;
}

/** The group keys of a feedback aggregate row. */
/** The metrics' group keys; `experiment` is the one a variant's configuration names (variant names are per experiment). */
export const FEEDBACK_KEYS = [
  'tier',
  'modelVersion',
  'config',
  'experiment',
  'variant',
  'day',
  'position',
] as const;
export type FeedbackKey = (typeof FEEDBACK_KEYS)[number];

/** Additive counts of one aggregate row. */
export interface FeedbackCounts {
  itemsShown: number;
  clicks: number;
  addToCarts: number;
  purchases: number;
  units: number;
  revenue: number;
}

export interface FeedbackQuery {
  /** Inclusive UTC days, YYYY-MM-DD. */
  from: string;
  to: string;
  groupBy: readonly FeedbackKey[];
}

/**
 * Sums of one group; `visitors` and `visitorCtr` (each visitor's CTR averaged) are null when
 * grouped by position (positions are not kept per visitor). Keys absent from `groupBy` are absent.
 */
export interface FeedbackTotals extends FeedbackCounts {
  keys: Partial<Record<FeedbackKey, string | number | null>>;
  impressions: number;
  visitors: number | null;
  visitorCtr: number | null;
}

/** The visitor key of aggregates: `u:<userId>` or `s:<sessionId>` (the two cannot collide). */
export function visitorKey(v: VisitorRef): string {
  return v.userId !== undefined ? `u:${v.userId}` : `s:${v.sessionId ?? ''}`;
}

/** Whom an impression counts for in the per-visitor aggregates: its session when `sessionUnit`. */
export function impressionVisitor(i: Pick<StoredImpression, 'userId' | 'sessionId' | 'sessionUnit'>): string {
  return i.sessionUnit ? visitorKey({ sessionId: i.sessionId ?? '' }) : visitorKey(i);
}

/**
 * An experiment's lifecycle: draft → running ⇄ paused → stopped; `shipped` once a variant was made
 * the default, `stopped` again once unshipped.
 */
export type ExperimentState = 'draft' | 'running' | 'paused' | 'stopped' | 'shipped';

/** What a variant changes in the tiers' default configuration (partial: the rest stays the default's). */
export interface VariantConfig {
  /** A registered model version this variant is served from, beside the current one. */
  modelVersion?: string;
  weights?: Partial<Record<'vector' | 'neighbours' | 'complements' | 'trending' | 'ease', number>>;
  rules?: { maxPerCategory?: number; mmrLambda?: number; newItemSlot?: number };
}

export interface ExperimentVariant {
  name: string;
  /** Of the experiment's units, in (0, 1]; the variants' shares sum to 1. */
  share: number;
  config: VariantConfig;
  /**
   * The variant's buckets of the experiment's 10,000 (half-open ranges), once shares were
   * changed (`reshare` in assignment.ts); absent: contiguous ranges from the shares, in order.
   */
  buckets?: [number, number][];
}

/**
 * A pinned promotion: `itemId` sits at `slot` (0-based) of every list of `tiers` (tier names;
 * absent: every tier) it may appear in — never when it is out of stock, delisted or otherwise
 * filtered out of that list.
 */
export interface Pin {
  itemId: string;
  slot: number;
  tiers?: string[];
  /** Only in the lists asked for with this `category` (that exact path). */
  category?: string;
}

/** Multipliers applied to blended scores, by item id, brand or category subtree. */
export interface Boosts {
  itemIds?: Record<string, number>;
  brands?: Record<string, number>;
  categories?: Record<string, number>;
}

/** The shop's merchandising rules (`PUT /v1/admin/rules`): every replica serves the stored ones. */
export interface MerchantRules {
  pins: Pin[];
  boosts: Boosts;
}

/**
 * An A/B experiment (DESIGN.md "Experiment"); the first variant is the control. `salt` seeds
 * assignment; `range` is the slice of the layer's 10,000 buckets it holds while running or
 * paused (given at start), so experiments of one layer never share a visitor.
 */
export interface Experiment {
  id: string;
  name: string;
  tiers: string[];
  unit: 'user' | 'session';
  layer: string;
  /** Share of the layer's traffic the experiment takes when it starts, in (0, 1]. */
  traffic: number;
  audience?: { segments?: string[] };
  variants: ExperimentVariant[];
  state: ExperimentState;
  salt: string;
  range: [number, number] | null;
  /** Epoch ms. */
  createdAt: number;
  startedAt: number | null;
  stoppedAt: number | null;
  /** The variant made the tiers' default, and when. */
  shipped: { variant: string; at: number } | null;
}

/** One randomisation unit's sums in one experiment variant (the variant's config name), over all days. */
export interface UnitTotals {
  config: string;
  visitor: string;
  impressions: number;
  clicks: number;
  purchases: number;
  revenue: number;
}

/** One visitor's purchases (events) and net revenue (purchases less returns) in a window before exposure (CUPED). */
export interface PreExposure {
  /** The user or session id. */
  id: string;
  purchases: number;
  revenue: number;
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
  /**
   * Creates or replaces profiles; a known user's `createdAt` never moves. An erased user's is not
   * made again (looked up in the transaction that writes) and not counted.
   */
  upsertUsers(users: readonly User[]): Promise<UpsertResult>;
  getUser(userId: string): Promise<User | null>;
  /**
   * Changes a profile, creating it (created now) when new; the profile as it now is. Throws
   * `ErasedError`, writing nothing, for an erased user (looked up in the transaction that writes).
   */
  patchUser(userId: string, patch: UserPatch, now: number): Promise<User>;
  /**
   * Stores events not seen before (by eventId); the user of each event gets a profile row if new.
   * Events of an erased user are not stored (status `erased`); one event the database cannot
   * hold never fails the others (status `invalid`, with the reason).
   */
  insertEvents(events: readonly ShelfEvent[]): Promise<InsertResult>;
  /** Events in time order (ties by insertion order), streamed in batches with bounded memory. */
  streamEvents(query?: InteractionQuery): AsyncIterable<ShelfEvent>;
  /**
   * The users' events (a session's anonymous ones left out) as training reads them, in the
   * order `streamEvents` gives, a batch at a time: only the columns a snapshot keeps, with no
   * event object made per row (a third of the time on the demo store's 424k events).
   */
  streamInteractions(query?: InteractionQuery): AsyncIterable<readonly InteractionRow[]>;
  /** A user's most recent events, newest first. */
  recentEvents(userId: string, limit: number): Promise<ShelfEvent[]>;
  /** A session's most recent anonymous events (those of no user), newest first. */
  sessionEvents(sessionId: string, limit: number): Promise<ShelfEvent[]>;
  /**
   * The distinct (item, event type) pairs of a user's whole history with a type of `types`,
   * in item order, with the newest such event's time: what serving keeps out of the user's
   * lists (bought, rated, disliked…) and the history EASE scores from.
   */
  userItems(userId: string, types: readonly EventType[]): Promise<UserItem[]>;
  /** `userItems` of a session's anonymous events (those of no user). */
  sessionItems(sessionId: string, types: readonly EventType[]): Promise<UserItem[]>;
  /**
   * Gives a session's anonymous events, impressions and attributions to a user; returns how many
   * events moved. Throws `ErasedError`, moving nothing, for an erased user (as `patchUser`).
   */
  mergeSession(sessionId: string, userId: string): Promise<number>;
  /**
   * Right to erasure: leaves a tombstone, then removes the user's profile, every event, impression,
   * attribution and per-visitor aggregate of the user, in one transaction; returns what was removed.
   */
  deleteUser(userId: string, now?: number): Promise<{ user: boolean; events: number }>;
  /** The ids of `userIds` that were erased. */
  erasedAmong(userIds: readonly string[]): Promise<Set<string>>;
  /** The stored personalization consent of those of `userIds` that have a profile. */
  consentOf(userIds: readonly string[]): Promise<Map<string, boolean>>;
  /** Every erased user id (a version loading drops their vectors). */
  erasedUsers(): Promise<string[]>;
  /** Appends to the change feed's log; returns the last seq given. */
  appendChanges(changes: readonly Change[], now: number): Promise<number>;
  /** Changes after `seq`, in order, at most `limit`. */
  changesSince(seq: number, limit: number): Promise<StoredChange[]>;
  /** The newest change's seq (0: none). */
  lastChangeSeq(): Promise<number>;
  /**
   * Deletes the changes appended before `before` (epoch ms), all but the newest; returns how many
   * went. A process reads the log from where it stands, and one starting from the newest seq.
   */
  pruneChanges(before: number): Promise<number>;
  appendAudit(entries: readonly AuditEntry[]): Promise<void>;
  /** Audit entries, newest first. */
  audit(query?: AuditQuery): Promise<StoredAuditEntry[]>;
  /** One user's activity since `since` (inclusive, epoch ms); zeros and nulls when there is none. */
  userActivity(userId: string, since?: number): Promise<UserActivity>;
  /**
   * The activity of every user with an event in the window, in userId order (the database's
   * collation), fetched a page of users at a time; events without a userId are skipped.
   */
  usersActivity(query?: ActivityQuery): AsyncIterable<UserActivity>;
  /** Counts every item, user and event: an operator's figures, not a probe (it reads whole tables). */
  stats(): Promise<StoreStats>;
  /** Resolves when the store answers a query (one that reads no table): readiness probes. */
  ping(): Promise<void>;
  /** Whether any event is stored: one row read, where `stats` counts every table. */
  hasEvents(): Promise<boolean>;
  /** Whether no item, user or event is stored (nothing a shop put there): a row read of each at most. */
  isEmpty(): Promise<boolean>;
  /** Stores impressions not seen before (by recommendationId); returns how many were new. */
  insertImpressions(impressions: readonly NewImpression[]): Promise<number>;
  /** The impressions of `recommendationIds` that are stored. */
  impressions(recommendationIds: readonly string[]): Promise<StoredImpression[]>;
  /**
   * The lists shown to a visitor since `from` (a user's: those naming them; a session's: its
   * anonymous ones), the newest `limit`, oldest first: what rotation rebuilds its streaks from
   * when its state lived in a process that restarted.
   */
  listsShownTo(visitor: Subject, from: number, limit: number): Promise<ShownList[]>;
  /** The visitor's newest impression showing `itemId` with `from` ≤ time ≤ `to`, or null. */
  latestImpressionWith(
    visitor: VisitorRef,
    itemId: string,
    from: number,
    to: number,
  ): Promise<StoredImpression | null>;
  /**
   * Stores attributions not seen before (by eventId), and a click only if the list's item has
   * none yet (one click-through per shown item); a return takes back at most what the list's
   * purchases of the item took in, less the returns stored before it, and nothing (not stored)
   * once that is 0. Returns the attributions newly stored, as stored, in the order given.
   */
  insertAttributions(attributions: readonly Attribution[]): Promise<Attribution[]>;
  /** The visitor's newest purchase attribution of `itemId` at or before `before`, or null. */
  purchaseAttribution(visitor: VisitorRef, itemId: string, before: number): Promise<Attribution | null>;
  /** Impressions with seq > `after`, in seq order, at most `limit`. */
  impressionsAfter(after: number, limit: number): Promise<(StoredImpression & { seq: number })[]>;
  /** Attributions with seq > `after`, in seq order, at most `limit`. */
  attributionsAfter(after: number, limit: number): Promise<(Attribution & { seq: number })[]>;
  feedbackWatermark(): Promise<FeedbackWatermark>;
  /** The newest impression and attribution seq stored (0: none). */
  feedbackHorizon(): Promise<FeedbackWatermark>;
  /**
   * Adds the impressions and attributions past `from` up to `to` (seq) to the aggregates, summed
   * by the database, and moves the watermark to `to`, in one transaction, only when the
   * watermark still is `from` (else null and nothing changes): two runs at once never add the
   * same rows twice. Returns how many of each were added.
   */
  addFeedbackBetween(
    from: FeedbackWatermark,
    to: FeedbackWatermark,
  ): Promise<{ impressions: number; attributions: number } | null>;
  /** Aggregates summed by `groupBy` over the days of the query. */
  feedbackTotals(query: FeedbackQuery): Promise<FeedbackTotals[]>;
  /** Per visitor sums of the aggregates served under each of `configs` (an experiment's variants), in config then visitor order. */
  unitTotals(configs: readonly string[]): Promise<UnitTotals[]>;
  /** Purchases and net revenue of each of `ids` (users or sessions) with `from` ≤ time < `to`; visitors with none are absent. */
  preExposure(
    by: 'user' | 'session',
    ids: readonly string[],
    from: number,
    to: number,
  ): Promise<PreExposure[]>;
  /** Creates or replaces an experiment. */
  saveExperiment(experiment: Experiment): Promise<void>;
  /** Every experiment, in id order. */
  experiments(): Promise<Experiment[]>;
  /** The merchandising rules stored last and when (epoch ms); null: never set. */
  merchantRules(): Promise<{ rules: MerchantRules; updatedAt: number } | null>;
  /** Replaces the merchandising rules. */
  saveMerchantRules(rules: MerchantRules, at: number): Promise<void>;
  /**
   * The API keys generated for this store (no `SHELF_API_KEYS`): the first pair ever offered,
   * kept, so that every process on the store, and every restart, accepts the same ones.
   */
  generatedKeys(offer: GeneratedKeys): Promise<GeneratedKeys>;
  close(): Promise<void>;
}

/** A storefront and an admin key, as `npm start` generates them. */
export interface GeneratedKeys {
  storefront: string;
  admin: string;
}
