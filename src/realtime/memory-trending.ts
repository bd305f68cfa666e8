/**
 * Trending counters in this process (embedded mode): see trending-counters.ts for what counts.
 * Memory: two numbers per (epoch, item) for the two epochs a read needs (counter, visits); the
 * cap's entries of today and yesterday by visitor, one per distinct visitor and item with a bit
 * per event type (~50 bytes each and ~290 per visitor, counters included: 98 MB for 200k
 * visitors of 5 items, 58 MB for 200k of one, where a key per type took 125 and 60 MB; dropped
 * after); and one version per item counted in those epochs, for reads of what changed. An erased
 * user's entries go at once (`forgetVisitor`).
 */
import { capPeriodOf, CAP_PERIOD_MS } from '../store/engagement-cap.ts';
import { EVENT_TYPES } from '../store/types.ts';
import type { EventType } from '../store/types.ts';
import type {
  Engagement,
  TrendingCounters,
  TrendingCountersOptions,
  TrendingRead,
} from './trending-counters.ts';
import { oldestLiveDay, TrendingEpochs } from './trending-counters.ts';

/** An event type's bit in a day's entry of (visitor, item). */
const TYPE_BIT = Object.fromEntries(EVENT_TYPES.map((t, k) => [t, 1 << k])) as Record<EventType, number>;

/** What the cap says of an event: not counted; counted; counted, and its visitor's visit of the item. */
const NOT_FIRST = 0;
const TYPE_FIRST = 1;
const VISIT_FIRST = 2;
type First = typeof NOT_FIRST | typeof TYPE_FIRST | typeof VISIT_FIRST;

export class MemoryTrending implements TrendingCounters {
  private readonly epochs: TrendingEpochs;
  /** Epoch → item → counter. */
  private readonly counters = new Map<number, Map<string, number>>();
  /** Epoch → item → visits counted (`minVisitors`). */
  private readonly visits = new Map<number, Map<string, number>>();
  /**
   * UTC day → visitor → item → the event types counted for them that day, one bit each
   * (today's and yesterday's only): by visitor, so that an erased user's go at once, not at the
   * day's end. An item's first entry of the day is the visitor's visit of it.
   */
  private readonly seen = new Map<number, Map<string, Map<string, number>>>();
  /** Item → the version at which it last changed; `version` counts changes. */
  private readonly changed = new Map<string, number>();
  private version = 0;
  private seeded = false;
  /** Settled once the claimed seed is counted (`seedDone`). */
  private seedCounting: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(options: TrendingCountersOptions) {
    this.epochs = new TrendingEpochs(options);
  }

  async add(events: readonly Engagement[], now: number): Promise<number> {
    this.forgetBefore(now);
    const oldest = oldestLiveDay(now, CAP_PERIOD_MS);
    let counted = 0;
    for (const e of events) {
      const ts = Math.min(e.timestamp, now);
      const day = capPeriodOf(ts);
      if (day < oldest) continue;
      const first = this.firstOf(day, e);
      if (first === NOT_FIRST) continue;
      this.count(e, ts, first === VISIT_FIRST);
      counted++;
    }
    return counted;
  }

  async claimSeed(): Promise<boolean> {
    if (this.seeded) return false;
    this.seeded = true;
    let done = () => {};
    this.seedCounting = { promise: new Promise<void>((resolve) => (done = resolve)), resolve: () => done() };
    return true;
  }

  async seedDone(): Promise<void> {
    this.seedCounting?.resolve();
  }

  async seedCounted(timeoutMs: number): Promise<void> {
    if (!this.seedCounting) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()));
    await Promise.race([this.seedCounting.promise, late]);
    clearTimeout(timer);
  }

  async seed(events: readonly Engagement[], now: number): Promise<void> {
    this.forgetBefore(now);
    const oldest = oldestLiveDay(now, CAP_PERIOD_MS);
    for (const e of events) {
      const ts = Math.min(e.timestamp, now);
      const day = capPeriodOf(ts);
      if (day < oldest) {
        this.count(e, ts, e.visit !== false);
        continue;
      }
      const first = this.firstOf(day, e);
      if (first !== NOT_FIRST) this.count(e, ts, first === VISIT_FIRST);
    }
  }

  async read(at: number, since: number | null): Promise<TrendingRead> {
    return this.readNow(at, since);
  }

  readNow(at: number, since: number | null): TrendingRead {
    const e = this.epochs.epochOf(at);
    const current = this.counters.get(e);
    const previous = this.counters.get(e - 1);
    const fc = this.epochs.factor(e, at);
    const fp = this.epochs.factor(e - 1, at);
    const visitsNow = this.visits.get(e);
    const visitsBefore = this.visits.get(e - 1);
    const score = (itemId: string) =>
      (visitsNow?.get(itemId) ?? 0) + (visitsBefore?.get(itemId) ?? 0) < this.epochs.minVisitors
        ? 0
        : (current?.get(itemId) ?? 0) * fc + (previous?.get(itemId) ?? 0) * fp;
    const scores = new Map<string, number>();
    if (since === null) {
      for (const items of [previous, current]) {
        for (const itemId of items?.keys() ?? []) {
          const v = score(itemId);
          if (v) scores.set(itemId, v);
        }
      }
    } else {
      for (const [itemId, v] of this.changed) if (v > since) scores.set(itemId, score(itemId));
    }
    return { scores, full: since === null, cursor: this.version };
  }

  /** Drops what the cap holds of `visitor` (a `subjectKey`): an erased user's. */
  forgetVisitor(visitor: string): void {
    for (const visitors of this.seen.values()) visitors.delete(visitor);
  }

  /** Whether `e` counts that day (the cap), and whether it is its visitor's visit of the item. */
  private firstOf(day: number, e: Engagement): First {
    let visitors = this.seen.get(day);
    if (!visitors) this.seen.set(day, (visitors = new Map()));
    let items = visitors.get(e.visitor);
    if (!items) visitors.set(e.visitor, (items = new Map()));
    const types = items.get(e.itemId);
    const bit = TYPE_BIT[e.type];
    if (types === undefined) {
      items.set(e.itemId, bit);
      return VISIT_FIRST;
    }
    if (types & bit) return NOT_FIRST;
    items.set(e.itemId, types | bit);
    return TYPE_FIRST;
  }

  private count(e: Engagement, ts: number, visit: boolean): void {
    const epoch = this.epochs.epochOf(ts);
    let items = this.counters.get(epoch);
    if (!items) this.counters.set(epoch, (items = new Map()));
    items.set(e.itemId, (items.get(e.itemId) ?? 0) + this.epochs.increment(ts, e.weight));
    if (visit) {
      let visits = this.visits.get(epoch);
      if (!visits) this.visits.set(epoch, (visits = new Map()));
      visits.set(e.itemId, (visits.get(e.itemId) ?? 0) + 1);
    }
    this.changed.set(e.itemId, ++this.version);
  }

  /** Drops the cap's days before yesterday and the epochs no read at `now` or later needs. */
  private forgetBefore(now: number): void {
    const oldest = oldestLiveDay(now, CAP_PERIOD_MS);
    for (const day of this.seen.keys()) if (day < oldest) this.seen.delete(day);
    const epoch = this.epochs.epochOf(now) - 1;
    let dropped = false;
    for (const e of this.counters.keys()) {
      if (e < epoch) {
        this.counters.delete(e);
        this.visits.delete(e);
        dropped = true;
      }
    }
    if (dropped) {
      for (const itemId of this.changed.keys()) {
        if (![...this.counters.values()].some((items) => items.has(itemId))) this.changed.delete(itemId);
      }
    }
  }
}
