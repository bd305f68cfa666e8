/**
 * Trending counters in this process (embedded mode): see trending-counters.ts for what counts.
 * Memory: one number per (epoch, item) for the two epochs a read needs, the cap's keys of today
 * and yesterday by visitor (~105 bytes per distinct visitor, item and type of those two days,
 * and ~260 per visitor, counters included: 157 MB for 200k visitors of 5 keys, 73 MB for 200k
 * of one; dropped after), and one version per item counted in those epochs, for reads of what
 * changed. An erased user's keys go at once (`forgetVisitor`).
 */
import { capPeriodOf, CAP_PERIOD_MS } from '../store/engagement-cap.ts';
import type {
  Engagement,
  TrendingCounters,
  TrendingCountersOptions,
  TrendingRead,
} from './trending-counters.ts';
import { oldestLiveDay, TrendingEpochs } from './trending-counters.ts';

export class MemoryTrending implements TrendingCounters {
  private readonly epochs: TrendingEpochs;
  /** Epoch → item → counter. */
  private readonly counters = new Map<number, Map<string, number>>();
  /**
   * UTC day → visitor → the (event type, item) counted for them that day (today's and
   * yesterday's only): by visitor, so that an erased user's go at once, not at the day's end.
   */
  private readonly seen = new Map<number, Map<string, Set<string>>>();
  /** Item → the version at which it last changed; `version` counts changes. */
  private readonly changed = new Map<string, number>();
  private version = 0;
  private seeded = false;

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
      if (day < oldest || !this.firstOf(day, e)) continue;
      this.count(e, ts);
      counted++;
    }
    return counted;
  }

  async claimSeed(): Promise<boolean> {
    if (this.seeded) return false;
    this.seeded = true;
    return true;
  }

  async seed(events: readonly Engagement[], now: number): Promise<void> {
    this.forgetBefore(now);
    const oldest = oldestLiveDay(now, CAP_PERIOD_MS);
    for (const e of events) {
      const ts = Math.min(e.timestamp, now);
      const day = capPeriodOf(ts);
      if (day >= oldest && !this.firstOf(day, e)) continue;
      this.count(e, ts);
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
    const score = (itemId: string) => (current?.get(itemId) ?? 0) * fc + (previous?.get(itemId) ?? 0) * fp;
    const scores = new Map<string, number>();
    if (since === null) {
      for (const items of [previous, current])
        for (const itemId of items?.keys() ?? []) scores.set(itemId, score(itemId));
    } else {
      for (const [itemId, v] of this.changed) if (v > since) scores.set(itemId, score(itemId));
    }
    return { scores, full: since === null, cursor: this.version };
  }

  /** Drops what the cap holds of `visitor` (a `subjectKey`): an erased user's. */
  forgetVisitor(visitor: string): void {
    for (const visitors of this.seen.values()) visitors.delete(visitor);
  }

  private firstOf(day: number, e: Engagement): boolean {
    let visitors = this.seen.get(day);
    if (!visitors) this.seen.set(day, (visitors = new Map()));
    let keys = visitors.get(e.visitor);
    if (!keys) visitors.set(e.visitor, (keys = new Set()));
    const key = `${e.type}|${e.itemId}`;
    if (keys.has(key)) return false;
    keys.add(key);
    return true;
  }

  private count(e: Engagement, ts: number): void {
    const epoch = this.epochs.epochOf(ts);
    let items = this.counters.get(epoch);
    if (!items) this.counters.set(epoch, (items = new Map()));
    items.set(e.itemId, (items.get(e.itemId) ?? 0) + this.epochs.increment(ts, e.weight));
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
