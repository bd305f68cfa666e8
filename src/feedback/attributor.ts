/**
 * Attribution (issue #13): credits clicks, add-to-carts and purchases to the list that showed
 * the item, and a return to the list its purchase was credited to.
 *
 * Where it runs: right after the store accepted a batch (the events route, the importer), on the
 * events the store reported `stored` only. A duplicate (same eventId) is never `stored`, so it is
 * never attributed; and attributions are keyed by eventId (insert-if-absent), so even a retry of
 * the same batch cannot count twice. Not inside `insertEvents`: the rules and windows are
 * feedback's, and both stores would have to carry them; the cost is that a crash between the two
 * writes leaves those events without credit.
 *
 * An event naming a list the store does not hold yet is tried again a little later: behind a
 * load balancer the click reaches one replica while the list it names may still sit in the
 * impression buffer of another (flushed within a second), or in this one's, should the store be
 * slow to take it (`settleMs`). After the last try it gets no credit. For the same reason, where
 * replicas share the store an event naming no list waits one retry before it looks for the
 * newest list that showed its item (`awaitReplicas`).
 */
import type { Attribution, AttributedType, ShelfEvent, Store, StoredImpression } from '../store/types.ts';
import { impressionVisitor } from '../store/types.ts';
import { settlesWithin } from '../time-bound.ts';
import type { FeedbackCounters } from './feedback-counters.ts';

const HOUR = 3_600_000;

/** How far back an event without a recommendationId looks for the list that showed its item, ms. */
export interface AttributionWindows {
  /** @defaultValue 24 h */
  click: number;
  /** @defaultValue 7 days */
  addToCart: number;
  /** @defaultValue 7 days */
  purchase: number;
}

export const DEFAULT_WINDOWS: Readonly<AttributionWindows> = Object.freeze({
  click: 24 * HOUR,
  addToCart: 7 * 24 * HOUR,
  purchase: 7 * 24 * HOUR,
});

/** How long after an event's time a list may have been shown and still take its credit, ms. */
export const DEFAULT_CLOCK_SKEW_MS = 5000;

export interface AttributorOptions {
  store: Pick<
    Store,
    'impressions' | 'latestImpressionWith' | 'insertAttributions' | 'purchaseAttribution' | 'getItems'
  >;
  windows?: AttributionWindows;
  /**
   * An event without a recommendationId takes the newest list shown up to this long after its
   * time, ms. The event's time is the storefront's clock, often in whole seconds, the list's
   * Shelf's: a purchase 300 ms after its list, sent as 10:00:44Z for 10:00:44.6, passed over
   * the list the visitor bought from, for one shown days before or for none. The cost: a list
   * holding the item shown within that time after the event takes the credit from the list
   * before it (a storefront that shows the same list again the moment an item of it is clicked).
   * @defaultValue 5000
   */
  clockSkewMs?: number;
  /** Called before impressions are looked up (the recorder's flush). */
  settle?: () => Promise<void>;
  /**
   * How long an attribution waits for `settle` at most, ms. The events route awaits it, and the
   * flush waits on the store: one that stops taking impressions (a lock on their table, a slow
   * disk) held every click, add-to-cart and purchase posted until it took them again. A list
   * still unwritten then is found by the retries.
   * @defaultValue 1000
   */
  settleMs?: number;
  counters?: FeedbackCounters;
  /** How long an event naming an unknown list waits before its next try, ms. @defaultValue 1500 */
  retryMs?: number;
  /** Tries after the first for such an event. @defaultValue 2 */
  retries?: number;
  /**
   * Whether other processes write lists to this store (replicas over PostgreSQL). An event naming
   * no list is then credited only after `retryMs`, once every replica's buffer has been written:
   * at once, a click or a purchase reaching one replica within ~0.3 s of the list another served
   * went to an older list of this one, or to none (13 of 69 such events in a two-replica trial).
   * @defaultValue false
   */
  awaitReplicas?: boolean;
}

const CREDITED = new Set<string>(['click', 'add_to_cart', 'purchase', 'return']);

/** The UTC day of `ms`, YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class Attributor {
  private readonly windows: AttributionWindows;
  /** Events naming a list not stored yet, with the tries left. */
  private pending: { event: ShelfEvent; left: number }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: AttributorOptions) {
    this.windows = o.windows ?? DEFAULT_WINDOWS;
  }

  /**
   * Attributes `stored` (events the store has just stored, in batch order); the attributions made
   * now (with `awaitReplicas`, those of events naming no list, and returns, come `retryMs` later).
   */
  attribute(stored: readonly ShelfEvent[]): Promise<Attribution[]> {
    if (!this.o.awaitReplicas) return this.attributeWith(stored, this.o.retries ?? 2);
    // A return looks for its purchase's credit: it waits with the events naming no list.
    const now: ShelfEvent[] = [];
    const later: ShelfEvent[] = [];
    for (const e of stored) {
      if (!CREDITED.has(e.type)) continue;
      (e.recommendationId === undefined || e.type === 'return' ? later : now).push(e);
    }
    if (later.length) this.wait(later, 0);
    return this.attributeWith(now, this.o.retries ?? 2);
  }

  /** One more try for the events waiting on their list, then no more waiting (on close). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const last = this.pending.map((p) => p.event);
    this.pending = [];
    if (last.length) await this.attributeWith(last, 0);
  }

  private async retry(): Promise<void> {
    const due = this.pending;
    this.pending = [];
    const byLeft = new Map<number, ShelfEvent[]>();
    for (const p of due) byLeft.set(p.left, [...(byLeft.get(p.left) ?? []), p.event]);
    for (const [left, events] of byLeft) await this.attributeWith(events, left);
    if (!this.pending.length && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** `retries`: how many more tries an event naming a list not stored yet may have. */
  private async attributeWith(stored: readonly ShelfEvent[], retries: number): Promise<Attribution[]> {
    const events = stored.filter((e) => CREDITED.has(e.type));
    if (!events.length) return [];
    // The recorder's flush, or `settleMs`, whichever comes first.
    if (this.o.settle) await settlesWithin(this.o.settle(), this.o.settleMs ?? 1000);
    const ids = events.flatMap((e) => (e.recommendationId === undefined ? [] : [e.recommendationId]));
    const byId = new Map((await this.o.store.impressions(ids)).map((i) => [i.recommendationId, i]));
    const waiting =
      retries > 0
        ? events.filter((e) => e.recommendationId !== undefined && !byId.has(e.recommendationId))
        : [];
    if (waiting.length) this.wait(waiting, retries - 1);
    const prices = await this.catalogPrices(events);
    // What this batch credits so far: a return looks for its purchase and for earlier returns here too.
    const out: Attribution[] = [];
    for (const e of events) {
      if (waiting.includes(e)) continue;
      const a =
        e.type === 'return' ? await this.forReturn(e, out) : await this.forEngagement(e, byId, prices);
      if (a) out.push(a);
    }
    const made = await this.o.store.insertAttributions(out);
    for (const a of made) this.o.counters?.attributed(a);
    return made;
  }

  private wait(events: readonly ShelfEvent[], left: number): void {
    for (const event of events) this.pending.push({ event, left });
    this.timer ??= setInterval(() => {
      this.retry().catch(() => undefined);
    }, this.o.retryMs ?? 1500).unref();
  }

  /**
   * The catalogue's unit price of each item a purchase without a `price` bought: its revenue is
   * counted at that price (a storefront sending purchases without one credited 0 revenue).
   */
  private async catalogPrices(events: readonly ShelfEvent[]): Promise<Map<string, number>> {
    const ids = new Set(
      events.flatMap((e) => (e.type === 'purchase' && e.price === undefined ? [e.itemId] : [])),
    );
    const prices = new Map<string, number>();
    if (!ids.size) return prices;
    for (const item of await this.o.store.getItems([...ids]))
      if (item.price !== undefined) prices.set(item.itemId, item.price);
    return prices;
  }

  private async forEngagement(
    e: ShelfEvent,
    byId: ReadonlyMap<string, StoredImpression>,
    prices: ReadonlyMap<string, number>,
  ): Promise<Attribution | null> {
    let impression: StoredImpression | null;
    if (e.recommendationId !== undefined) {
      // The list named is the one credited, or none: an unknown id or an item that list did not
      // show gets no credit (another list must not take it).
      impression = byId.get(e.recommendationId) ?? null;
    } else {
      const window =
        e.type === 'click'
          ? this.windows.click
          : e.type === 'add_to_cart'
            ? this.windows.addToCart
            : this.windows.purchase;
      const skew = this.o.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
      impression = await this.o.store.latestImpressionWith(
        e,
        e.itemId,
        e.timestamp - window,
        e.timestamp + skew,
      );
    }
    const position = impression ? impression.itemIds.indexOf(e.itemId) : -1;
    if (!impression || position < 0) return null;
    const units = e.type === 'purchase' ? (e.quantity ?? 1) : 0;
    return {
      ...visitorOf(e),
      eventId: e.eventId,
      type: e.type as AttributedType,
      itemId: e.itemId,
      at: e.timestamp,
      recommendationId: impression.recommendationId,
      position,
      units,
      revenue: e.type === 'purchase' ? (e.price ?? prices.get(e.itemId) ?? 0) * units : 0,
      tier: impression.tier,
      modelVersion: impression.modelVersion ?? '',
      config: impression.config,
      variant: impression.variant ?? '',
      day: utcDay(impression.timestamp),
      visitor: impressionVisitor(impression),
    };
  }

  /**
   * A return takes its revenue back from the impression its purchase (the latest before it) was
   * credited to; `batch`: what this batch credited before it.
   */
  private async forReturn(e: ShelfEvent, batch: readonly Attribution[]): Promise<Attribution | null> {
    const same = (a: Attribution) =>
      a.type === 'purchase' &&
      a.itemId === e.itemId &&
      a.at <= e.timestamp &&
      ((e.userId !== undefined && a.userId === e.userId) ||
        (e.sessionId !== undefined && a.sessionId === e.sessionId));
    const inBatch = batch.filter(same).at(-1);
    const purchase = inBatch ?? (await this.o.store.purchaseAttribution(e, e.itemId, e.timestamp));
    if (!purchase) return null;
    const quantity = e.quantity ?? 1;
    // Without a price on the return, the purchase's unit price.
    const unitPrice = e.price ?? (purchase.units ? purchase.revenue / purchase.units : 0);
    // What it asks back; the store takes back no more than the list's purchases of the item took
    // in, less earlier returns, reading them where it writes (`insertAttributions`).
    const revenue = unitPrice * quantity;
    if (revenue <= 0) return null;
    return {
      ...purchase,
      ...visitorOf(e),
      eventId: e.eventId,
      type: 'return',
      at: e.timestamp,
      units: 0,
      revenue: -revenue,
    };
  }
}

function visitorOf(e: ShelfEvent): { userId?: string; sessionId?: string } {
  return {
    ...(e.userId !== undefined ? { userId: e.userId } : {}),
    ...(e.sessionId !== undefined ? { sessionId: e.sessionId } : {}),
  };
}
