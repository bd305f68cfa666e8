/**
 * Stage 1, who asks: identity, consent, history (real-time state, warmed from the store on
 * first sight) and what the visitor consumed over their whole stored history (the items a
 * filter keeps out: read once per user or session, then kept current by the events recorded
 * here, for a bounded number of visitors). Also where a visitor's state changes: events
 * recorded, a session merged, a user forgotten or changed.
 */
import type { Logger } from 'pino';
import { SparseWarning } from '../sparse-warning.ts';
import type { RealtimeState, RecentEvent, Subject } from '../realtime/types.ts';
import { subjectKey } from '../realtime/types.ts';
import type { EventType, ShelfEvent, Store } from '../store/types.ts';
import { EVENT_TYPES } from '../store/types.ts';
import type { RecommendRequest } from './types.ts';

export interface Visitor {
  userId?: string;
  subject: Subject | null;
  /** Personalization allowed (consent). */
  personal: boolean;
  /** Deleted since the served model was trained: their vector is never used. */
  forgotten: boolean;
  /** Newest first, at most `HISTORY`. */
  history: readonly RecentEvent[];
  /**
   * Item id → the consumed event types the visitor has for it over their whole stored history (a
   * session: its anonymous events), and the newest one's time; empty without consent. Recent
   * events are in `history` too, but only the last `HISTORY`.
   */
  consumed: ReadonlyMap<string, Consumed>;
  /** Items rotation demotes for this visitor now (shown again and again without engagement). */
  demoted: ReadonlySet<string>;
}

export interface Consumed {
  /** Event types, as bits by `typeBit`. */
  types: number;
  /** The newest of them, epoch ms. */
  at: number;
}

/** Recent events read per request (history, exclusions, neighbour seeds). */
export const HISTORY = 50;
/** Visitors whose stored history was added to real-time state, at most (then the set starts over). */
const WARMED_MAX = 1_000_000;
/** Visitors whose consumed items are held at once (the least recently read go first). */
const CONSUMED_VISITORS = 100_000;
/** Users whose consent is held at once (the first read go first: read again when asked). */
const CONSENT_USERS = 200_000;
/** Lists read back per visitor for rotation (embedded mode, first sight since start), at most. */
const RESTORED_LISTS = 500;
const NOTHING: ReadonlyMap<string, Consumed> = new Map();
const NONE: ReadonlySet<string> = new Set();
/** Events that end a rotation streak: the visitor engaged with the item. */
const ENGAGEMENT: ReadonlySet<EventType> = new Set<EventType>(['click', 'add_to_cart', 'purchase']);

/** The bit of an event type in `Visitor.consumed`. */
export const typeBit = (type: EventType): number => 1 << EVENT_TYPES.indexOf(type);

export interface VisitorsOptions {
  /** The event types whose items stay out of a user's lists (the default configuration's). */
  consumed?: readonly EventType[];
  /** Users whose consent is held at once. @defaultValue 200,000 */
  consentUsers?: number;
  /** Where a real-time state that does not answer is said (once every 30 s at most). */
  log?: Logger;
}

export class Visitors {
  private readonly consent = new Map<string, boolean>();
  /**
   * Visitors (subjectKey) whose stored history is in the real-time state (not read again;
   * bounded): users and anonymous sessions alike, so that a session's purchase before a restart
   * of an embedded server (its real-time state in memory) still keeps the item out after it.
   */
  private readonly warmed = new Set<string>();
  private readonly forgotten = new Set<string>();
  /**
   * Per visitor read (subjectKey), their consumed items (see `Visitor.consumed`); insertion order
   * is recency.
   */
  private readonly consumed = new Map<string, Map<string, Consumed>>();

  /**
   * Users erased or no longer consenting whose real-time state could not be deleted (Redis did
   * not answer): deleted when it answers again (`realtimeBack`). Nothing of theirs is served
   * meanwhile: the erasure and the consent are this process's and the store's.
   */
  private readonly undeleted = new Map<string, 'erase' | 'forget'>();
  private readonly consumedTypes: readonly EventType[];
  private readonly consentUsers: number;
  private readonly downWarning: SparseWarning;

  constructor(
    private readonly store: Store,
    private readonly realtime: RealtimeState,
    private readonly o: VisitorsOptions = {},
  ) {
    this.consumedTypes = o.consumed ?? [];
    this.consentUsers = o.consentUsers ?? CONSENT_USERS;
    this.downWarning = new SparseWarning(
      o.log,
      'the real-time state does not answer: lists are made from the stored history, without rotation, until it does',
    );
  }

  /**
   * Who asks. Without a promise when nothing has to be awaited (consent and consumed items
   * known, real-time state in this process, nothing to read from the store), which is every
   * list-cache hit of a returning visitor in embedded mode.
   */
  of(req: RecommendRequest, now: number): Visitor | Promise<Visitor> {
    const userId = req.userId;
    const rt = this.realtime;
    const personal = userId === undefined ? true : this.consent.get(userId);
    if (personal === undefined || !rt.recentNow || !rt.rotation.demotedNow) return this.read(req, now);
    const subject = subjectOf(req);
    // Made once: this runs for every request, list-cache hits included.
    const key = subject && subjectKey(subject);
    if (key && personal && this.needsConsumed(key, userId)) return this.read(req, now);
    const history = subject && personal ? rt.recentNow(subject, HISTORY) : [];
    if (key && personal && this.mayWarm(key, userId)) return this.read(req, now);
    const demoted = subject && personal ? rt.rotation.demotedNow(subject, now) : NONE;
    return this.make(userId, subject, key, personal, history, demoted);
  }

  /** Lists shown to a visitor, for rotation (none kept without consent, nothing of an erased user). */
  shown(who: Visitor, itemIds: readonly string[], at: number): Promise<void> {
    if (!who.subject || !who.personal || who.forgotten || !itemIds.length) return Promise.resolve();
    return this.realtime.rotation
      .shown(who.subject, itemIds, at)
      .catch((err: unknown) => void this.down(err));
  }

  /**
   * Records stored events in the visitors' real-time state (and consumed items), none of a user
   * erased meanwhile. The route stores the events, then calls this: an erasure in between (here,
   * or heard from another replica) had cleared the user's state before these wrote it again.
   */
  async record(events: readonly ShelfEvent[]): Promise<void> {
    for (const e of events) {
      if (this.isForgotten(e.userId)) continue;
      const subject: Subject | null = e.userId
        ? { userId: e.userId }
        : e.sessionId
          ? { sessionId: e.sessionId }
          : null;
      if (!subject) continue;
      const key = subjectKey(subject);
      const items = this.consumed.get(key);
      if (items && this.consumedTypes.includes(e.type)) add(items, e.itemId, e.type, e.timestamp);
      try {
        await this.realtime.record(subject, [{ itemId: e.itemId, type: e.type, timestamp: e.timestamp }]);
        if (ENGAGEMENT.has(e.type)) await this.realtime.rotation.engaged(subject, [e.itemId]);
      } catch (err) {
        // Stored: the visitor's history is read from the store again once the state answers.
        this.down(err);
        this.warmed.delete(key);
      }
    }
    // Erased while these were being written: a write may have landed after the erasure's.
    await this.eraseAgain(events.map((e) => e.userId));
  }

  /** Right to deletion: no real-time state, no vector, cold from now on. */
  async forget(userId: string): Promise<void> {
    this.forgotten.add(userId);
    this.consent.delete(userId);
    this.consumed.delete(subjectKey({ userId }));
    await this.deleteState(userId, 'erase');
  }

  /** Deletes the user's real-time state, or keeps the deletion for `realtimeBack`. */
  private async deleteState(userId: string, how: 'erase' | 'forget'): Promise<void> {
    try {
      await (how === 'erase' ? this.realtime.erase({ userId }) : this.realtime.forget({ userId }));
      this.undeleted.delete(userId);
    } catch (err) {
      this.down(err);
      // An erasure stays one, whatever the user's consent did since.
      if (this.undeleted.get(userId) !== 'erase') this.undeleted.set(userId, how);
    }
  }

  /**
   * The real-time state answers again (Redis reconnected): what it could not delete is deleted,
   * and every visitor's stored history is added to it again at their next request (recording is
   * idempotent; a Redis restarted empty had lost it all).
   */
  async realtimeBack(): Promise<void> {
    this.warmed.clear();
    await this.retryDeletes();
  }

  /**
   * Deletes the real-time state it could not delete before. Also on a timer: a Redis that hung
   * and then answered again never dropped the connection, so no reconnection says it is back.
   */
  async retryDeletes(): Promise<void> {
    for (const [userId, how] of [...this.undeleted]) await this.deleteState(userId, how);
  }

  /**
   * A login: the session's events become the user's (read the user's consumed items again); not
   * for a user erased since the store merged (as `record`).
   */
  async mergeSession(sessionId: string, userId: string): Promise<void> {
    if (this.isForgotten(userId)) return;
    this.consumed.delete(subjectKey({ userId }));
    this.consumed.delete(subjectKey({ sessionId }));
    this.warmed.delete(subjectKey({ userId }));
    // Not merged in a state that does not answer: the user's stored history, merged, is read
    // into it at their next request.
    await this.realtime.mergeSession(sessionId, userId).catch((err: unknown) => this.down(err));
    await this.eraseAgain([userId]);
  }

  /** Erases again the real-time state of those of `userIds` forgotten by now. */
  private async eraseAgain(userIds: readonly (string | undefined)[]): Promise<void> {
    for (const userId of new Set(userIds))
      if (userId !== undefined && this.isForgotten(userId)) await this.deleteState(userId, 'erase');
  }

  /**
   * A profile changed (consent, attributes) or a session was merged, maybe on another replica:
   * consent, consumed items and stored history are read again.
   */
  changed(userId: string): void {
    this.consent.delete(userId);
    this.readAgain({ userId });
  }

  /**
   * The visitor's stored history and consumed items are read again at their next request (their
   * profile changed, or events of theirs were stored elsewhere: an import).
   */
  readAgain(subject: Subject): void {
    const key = subjectKey(subject);
    this.consumed.delete(key);
    this.warmed.delete(key);
  }

  /** Consent to personalization withdrawn: no real-time state is kept for the user. */
  async withdrawn(userId: string): Promise<void> {
    this.changed(userId);
    await this.deleteState(userId, 'forget');
  }

  /** Whether `userId` is an erased user: nothing of theirs is read or kept. */
  private isForgotten(userId: string | undefined): boolean {
    return userId !== undefined && this.forgotten.has(userId);
  }

  /**
   * Whether the visitor's events may still have to be read from the store (first sight since
   * start); `key` is their subjectKey, `userId` theirs if a user.
   */
  private mayWarm(key: string, userId: string | undefined): boolean {
    return !this.isForgotten(userId) && !this.warmed.has(key);
  }

  /** Whether the visitor's consumed items have yet to be read from the store (as `mayWarm`). */
  private needsConsumed(key: string, userId: string | undefined): boolean {
    return this.consumedTypes.length > 0 && !this.isForgotten(userId) && !this.consumed.has(key);
  }

  private async read(req: RecommendRequest, now: number): Promise<Visitor> {
    const userId = req.userId;
    let personal = true;
    if (userId !== undefined) {
      let allowed = this.consent.get(userId);
      if (allowed === undefined) {
        const user = await this.store.getUser(userId);
        // The store's tombstone, not only this process's memory: a user erased before a restart
        // or through another replica is forgotten here too.
        if (!user && !this.forgotten.has(userId) && (await this.store.erasedAmong([userId])).size) {
          this.forgotten.add(userId);
        }
        allowed = user?.consent.personalization ?? true;
        // Bounded: every user id a request names came here, made-up ones too (the storefront's
        // key is in every visitor's browser), and each stayed for good.
        if (this.consent.size >= this.consentUsers) this.consent.delete(this.consent.keys().next().value!);
        this.consent.set(userId, allowed);
      }
      personal = allowed;
    }
    const subject = subjectOf(req);
    const key = subject && subjectKey(subject);
    let history: readonly RecentEvent[] = [];
    let demoted = NONE;
    if (subject && key && personal) {
      // Side by side: with Redis, one round trip's wait instead of two in a row.
      const [live] = await Promise.all([
        Promise.all([
          this.realtime.rotation.demoted(subject, now),
          this.realtime.recent(subject, HISTORY),
        ]).catch((err: unknown) => this.down(err)),
        this.needsConsumed(key, userId) ? this.readConsumed(subject, key) : undefined,
      ]);
      // The real-time state does not answer (Redis down): the stored history, nothing demoted.
      if (!live) return this.make(userId, subject, key, personal, await this.storedHistory(subject), NONE);
      [demoted, history] = live;
      if (this.mayWarm(key, userId)) {
        // First sight since start: add the stored history to the real-time state, whatever came
        // first (a request, an event, a merged session: then the real-time state holds only
        // that). Recording is idempotent, so another replica doing the same adds nothing.
        const stored = await this.storedHistory(subject);
        if (stored.length) {
          try {
            await this.realtime.record(subject, stored);
            history = await this.realtime.recent(subject, HISTORY);
          } catch (err) {
            // Warmed at a later request.
            this.down(err);
            return this.make(userId, subject, key, personal, stored, demoted);
          }
        }
        const rotation = this.realtime.rotation;
        if (rotation.restore) {
          // Rotation in this process's memory began empty at its start: the lists that could
          // still count (a window, then a demotion) are read back, so a restart does not show
          // an embedded shop's visitors again what they were shown again and again before it.
          const span = rotation.policy.windowMs + rotation.policy.forMs;
          await rotation.restore(subject, async () => ({
            lists: await this.store.listsShownTo(subject, now - span, RESTORED_LISTS),
            engaged: stored
              .filter((e) => ENGAGEMENT.has(e.type))
              .reverse()
              .map((e) => ({ itemId: e.itemId, at: e.timestamp })),
          }));
          demoted = await rotation.demoted(subject, now);
        }
        if (this.warmed.size >= WARMED_MAX) this.warmed.clear();
        this.warmed.add(key);
      }
    }
    return this.make(userId, subject, key, personal, history, demoted);
  }

  /** The visitor's newest stored events, newest first. */
  private async storedHistory(subject: Subject): Promise<RecentEvent[]> {
    const events = await ('userId' in subject
      ? this.store.recentEvents(subject.userId, HISTORY)
      : this.store.sessionEvents(subject.sessionId, HISTORY));
    return events.map((e) => ({ itemId: e.itemId, type: e.type, timestamp: e.timestamp }));
  }

  /** Says (at most every 30 s) that the real-time state does not answer; undefined, to serve without it. */
  private down(err: unknown): undefined {
    this.downWarning.say(err);
    return undefined;
  }

  private async readConsumed(subject: Subject, key: string): Promise<void> {
    const items = new Map<string, Consumed>();
    const rows = await ('userId' in subject
      ? this.store.userItems(subject.userId, this.consumedTypes)
      : this.store.sessionItems(subject.sessionId, this.consumedTypes));
    for (const r of rows) add(items, r.itemId, r.type, r.at);
    if (this.consumed.size >= CONSUMED_VISITORS) this.consumed.delete(this.consumed.keys().next().value!);
    this.consumed.set(key, items);
  }

  private make(
    userId: string | undefined,
    subject: Subject | null,
    /** The subject's subjectKey. */
    key: string | null,
    personal: boolean,
    history: readonly RecentEvent[],
    demoted: ReadonlySet<string>,
  ): Visitor {
    // Assigned, not spread: this runs for every request, list-cache hits included.
    const who: Visitor = { subject, personal, forgotten: false, history, consumed: NOTHING, demoted };
    if (userId !== undefined) {
      who.userId = userId;
      who.forgotten = this.isForgotten(userId);
    }
    if (key && personal && !who.forgotten) who.consumed = this.consumed.get(key) ?? NOTHING;
    return who;
  }
}

function add(items: Map<string, Consumed>, itemId: string, type: EventType, at: number): void {
  const c = items.get(itemId);
  if (c) {
    c.types |= typeBit(type);
    if (at > c.at) c.at = at;
  } else items.set(itemId, { types: typeBit(type), at });
}

function subjectOf(req: RecommendRequest): Subject | null {
  return req.userId !== undefined
    ? { userId: req.userId }
    : req.sessionId !== undefined
      ? { sessionId: req.sessionId }
      : null;
}

/**
 * What a cached list depends on in the visitor's state: personalization allowed, deleted, their
 * recent events (count, newest, and the sum of timestamps, so a late event counts too), and how
 * many items rotation demotes (an item newly demoted makes the list stale).
 */
export function historyStamp(who: Visitor): string {
  // Exact: the history holds at most HISTORY (50) millisecond timestamps, and their sum stays
  // far below 2^53.
  let sum = 0;
  for (const e of who.history) sum += e.timestamp;
  const newest = who.history[0];
  return `${who.personal ? 1 : 0}${who.forgotten ? 1 : 0}:${who.history.length}:${sum}:${newest ? `${newest.type}:${newest.itemId}` : ''}:${who.demoted.size}`;
}
