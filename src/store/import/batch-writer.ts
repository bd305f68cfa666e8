/**
 * Collects what mappers emit and writes it to the store in batches (each store call is one
 * transaction). One batch is written while the next is parsed; at most two batches (plus one
 * input chunk's worth of rows) are held at a time.
 *
 * Items and users are upserts, so to report "nothing new" on re-import and to avoid rewriting
 * identical rows, each batch is first compared with the stored rows: only new or changed ones
 * are written (`stored`), identical ones count as `duplicates`. When one id occurs several
 * times in a batch its records are applied in order as one (kept-fields.ts `mergeRepeats`), the
 * id counted once and its other rows as `repeatedItemRows`; a user's last record wins.
 */
import { keepStoredFields, mergeRepeats, NEW_ITEM_TITLE } from '../kept-fields.ts';
import type { KeptField } from '../kept-fields.ts';
import type { Attribution, Item, ShelfEvent, Store, User } from '../types.ts';
import type { EntityCounts, ImportError, ImportKind, ImportSink, ItemOptions } from './types.ts';

export interface BatchWriterOptions {
  /** @defaultValue 5000 */
  batchSize?: number;
  /** Error entries kept for the summary; the rest are only counted. @defaultValue 1000 */
  maxErrors?: number;
  /**
   * Called with each batch of items or users written (new or changed), and of events stored:
   * the change feed.
   */
  onWritten?: (written: { items: Item[] } | { users: User[] } | { events: ShelfEvent[] }) => Promise<void>;
  /**
   * Credits the events of each batch the store reported `stored` to the lists that showed their
   * items, as the events route does (src/feedback/attributor.ts): an imported click or purchase
   * carrying a recommendationId, or within the window of an impression, counts in the metrics.
   */
  attributor?: { attribute(stored: readonly ShelfEvent[]): Promise<readonly Attribution[]> };
  /**
   * Called with the users of each batch whose personalization consent the import changed (a new
   * user's counts as given before): the audit log records each, as it does the API's.
   */
  onConsent?: (changed: readonly ConsentChange[]) => Promise<void>;
}

export interface ConsentChange {
  userId: string;
  personalization: boolean;
}

export class BatchWriter implements ImportSink {
  readonly batchSize: number;
  private readonly maxErrors: number;
  private readonly onWritten: BatchWriterOptions['onWritten'];
  private readonly attributor: BatchWriterOptions['attributor'];
  private readonly onConsent: BatchWriterOptions['onConsent'];
  private items: Item[] = [];
  private users: User[] = [];
  private events: ShelfEvent[] = [];
  /** The line of each queued event, for the store's refusals. */
  private eventLines: number[] = [];
  private inflight: Promise<void> | null = null;
  /** Items an events file implies: written only when their id is new to the store (`ImportSink.item`). */
  private readonly implied = new WeakSet<Item>();
  /** The ids of implied items this import wrote as new: later rows may complete them. */
  private readonly created = new Set<string>();
  /**
   * The ids of implied items counted (stored or duplicate): one emitted again (a later row gave
   * its first title or price) is written, not counted again, so `stored` + `duplicates` is the
   * number of items the file names.
   */
  private readonly counted = new Set<string>();
  /** The fields each item's record left out: a stored item keeps its own. */
  private readonly leftOut = new WeakMap<Item, readonly KeptField[]>();
  /** The line of each item's record, for a refusal made when it is written. */
  private readonly lines = new WeakMap<Item, number>();

  readonly counts: Record<ImportKind, EntityCounts> = {
    items: { stored: 0, duplicates: 0 },
    users: { stored: 0, duplicates: 0 },
    events: { stored: 0, duplicates: 0 },
  };
  rejected = 0;
  skipped = 0;
  readonly skippedReasons: Record<string, number> = {};
  readonly flagged: Record<string, number> = {};
  readonly extra: Record<string, number> = {};
  readonly errors: ImportError[] = [];
  errorsOmitted = 0;

  constructor(
    private readonly store: Store,
    options: BatchWriterOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 5000;
    this.maxErrors = options.maxErrors ?? 1000;
    this.onWritten = options.onWritten;
    this.attributor = options.attributor;
    this.onConsent = options.onConsent;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1)
      throw new RangeError('batchSize must be ≥ 1');
  }

  item(item: Item, options?: ItemOptions): void {
    if (options?.implied) this.implied.add(item);
    if (options?.leftOut?.length) this.leftOut.set(item, options.leftOut);
    if (options?.line !== undefined) this.lines.set(item, options.line);
    this.items.push(item);
  }

  user(user: User): void {
    this.users.push(user);
  }

  event(event: ShelfEvent, line: number): void {
    this.events.push(event);
    this.eventLines.push(line);
  }

  reject(line: number, errors: readonly { field: string; reason: string }[]): void {
    this.rejected++;
    for (const e of errors) {
      if (this.errors.length < this.maxErrors) this.errors.push({ line, field: e.field, reason: e.reason });
      else this.errorsOmitted++;
    }
  }

  skip(reason: string): void {
    this.skipped++;
    this.skippedReasons[reason] = (this.skippedReasons[reason] ?? 0) + 1;
  }

  flag(name: string): void {
    this.flagged[name] = (this.flagged[name] ?? 0) + 1;
  }

  count(name: string, n = 1): void {
    this.extra[name] = (this.extra[name] ?? 0) + n;
  }

  /**
   * Starts writing every full batch queued so far (after the previous write finished); the rest
   * stays queued. Resolves once the previous write is done, so the caller can keep parsing
   * while this one runs.
   */
  async flushFull(): Promise<void> {
    const b = this.batchSize;
    if (this.items.length < b && this.users.length < b && this.events.length < b) return;
    await this.write(false);
  }

  /** Writes everything queued and waits for it. */
  async drain(): Promise<void> {
    await this.write(true);
    await this.inflight;
  }

  /** Waits for the write in flight, ignoring its error (used when aborting). */
  async settle(): Promise<void> {
    await this.inflight?.catch(() => undefined);
  }

  private async write(all: boolean): Promise<void> {
    const b = this.batchSize;
    const take = <T>(q: T[], whole: boolean): T[][] => {
      const full = whole ? q.length : q.length - (q.length % b);
      const out: T[][] = [];
      for (let i = 0; i < full; i += b) out.push(q.slice(i, Math.min(i + b, full)));
      return out;
    };
    const events = take(this.events, all);
    const lines = take(this.eventLines, all);
    // Events go out only after every item and user queued before them, partial batches included.
    const items = take(this.items, all || events.length > 0);
    const users = take(this.users, all || events.length > 0);
    const rest = <T>(q: T[], batches: T[][]) =>
      batches.length ? q.slice(batches.reduce((n, x) => n + x.length, 0)) : q;
    this.items = rest(this.items, items);
    this.users = rest(this.users, users);
    this.events = rest(this.events, events);
    this.eventLines = rest(this.eventLines, lines);
    if (!items.length && !users.length && !events.length) return;
    const previous = this.inflight;
    if (previous) await previous;
    const job = (async () => {
      // Items and users first: events may refer to them.
      for (const batch of items) await this.writeItems(batch);
      for (const batch of users) await this.writeUsers(batch);
      for (const [b, batch] of events.entries()) {
        const r = await this.store.insertEvents(batch);
        this.counts.events.stored += r.stored;
        this.counts.events.duplicates += r.duplicates;
        for (let k = 0; k < r.erased; k++) this.skip(ERASED);
        // Validation refuses what a store cannot hold; should one get through, it is a bad row.
        for (const e of r.invalid) this.reject(lines[b]![e.index]!, [e]);
        const stored = r.stored ? batch.filter((_, k) => r.statuses[k] === 'stored') : [];
        if (stored.length) await this.onWritten?.({ events: stored });
        // Only what was stored: a duplicate of an earlier import is never credited again.
        if (this.attributor && stored.length) {
          const made = (await this.attributor.attribute(stored)).length;
          // In the summary's counts: how many imported events the metrics now credit.
          if (made) this.count('attributed', made);
        }
      }
    })();
    // Marked handled now; the error is rethrown by the next `await this.inflight`.
    job.catch(() => undefined);
    this.inflight = job;
  }

  private async writeItems(batch: Item[]): Promise<void> {
    // An id named again in the batch: its rows in order as one (implied items leave nothing out,
    // so the last, the most complete, is the one kept).
    const merged = mergeRepeats(batch, (i) => this.leftOut.get(i));
    const repeats = merged.reduce((n, m) => n + m.records - 1, 0);
    if (repeats) this.count('repeatedItemRows', repeats);
    const items = merged.map((m) => m.item);
    const implied = items.filter((i) => this.implied.has(i));
    const lookUp = implied.filter((i) => !this.created.has(i.itemId)).map((i) => i.itemId);
    const stored = new Map((await this.store.getItems(lookUp)).map((i) => [i.itemId, i]));
    const known = new Set(stored.keys());
    const { items: toWrite, untitled } = await keepStoredFields(
      this.store,
      merged.filter((m) => !known.has(m.item.itemId)),
    );
    for (const i of implied) {
      const completed = completion(stored.get(i.itemId), i);
      if (completed) toWrite.push(completed);
    }
    for (const m of untitled) this.reject(this.lines.get(m.first) ?? 0, [NEW_ITEM_TITLE]);
    const refused = new Set(untitled.map((m) => m.item));
    for (const i of implied) if (!known.has(i.itemId)) this.created.add(i.itemId);
    const repeated = new Set(implied.filter((i) => this.counted.has(i.itemId)).map((i) => i.itemId));
    const again = (i: Item) => repeated.has(i.itemId);
    const upsert = async (some: Item[]) => (some.length ? (await this.store.upsertItems(some)).written : 0);
    const written = await upsert(toWrite.filter((i) => !again(i)));
    const completed = await upsert(toWrite.filter(again));
    this.counts.items.stored += written;
    const counted = items.filter((i) => !again(i) && !refused.has(i));
    this.counts.items.duplicates += counted.length - written;
    for (const i of implied) this.counted.add(i.itemId);
    if (written + completed) await this.onWritten?.({ items: toWrite });
  }

  private async writeUsers(batch: User[]): Promise<void> {
    const latest = lastById(batch, (u) => u.userId);
    // An erased user's profile is not made again: counted as skipped here, and refused by the
    // store in the transaction that writes (an erasure landing in between: counted unchanged).
    const erased = await this.store.erasedAmong([...latest.keys()]);
    for (const id of erased) {
      latest.delete(id);
      this.skip(ERASED);
    }
    const users = [...latest.values()];
    // Without a profile, a user's consent counts as given (events alone personalize).
    const before = this.onConsent && users.length ? await this.store.consentOf([...latest.keys()]) : null;
    const { written } = users.length ? await this.store.upsertUsers(users) : { written: 0 };
    this.counts.users.stored += written;
    this.counts.users.duplicates += latest.size - written;
    if (written) await this.onWritten?.({ users });
    const changed = before
      ? users
          .filter((u) => (before.get(u.userId) ?? true) !== u.consent.personalization)
          .map((u) => ({ userId: u.userId, personalization: u.consent.personalization }))
      : [];
    if (changed.length) await this.onConsent?.(changed);
  }
}

const ERASED = 'the user was erased (right to erasure)';

/**
 * A stored item an earlier import implied without a title or a price (its first rows had neither:
 * an Online Retail file imported in parts, or resumed after a crash) with what a later row gives:
 * filled in, never overwritten; null when there is nothing to fill.
 */
function completion(stored: Item | undefined, implied: Item): Item | null {
  if (!stored) return null;
  const out: Item = { ...stored };
  if (stored.title === stored.itemId && implied.title !== implied.itemId) out.title = implied.title;
  if (stored.price === undefined && implied.price !== undefined) {
    out.price = implied.price;
    if (implied.currency !== undefined) out.currency = implied.currency;
  }
  return out.title === stored.title && out.price === stored.price ? null : out;
}

/** Last record per id, in first-seen order (a repeat inside a batch supersedes the earlier one). */
function lastById<T>(batch: readonly T[], id: (x: T) => string): Map<string, T> {
  const out = new Map<string, T>();
  for (const x of batch) out.set(id(x), x);
  return out;
}
