/**
 * Visitors' segments for experiment audiences: a user's segment as the latest report's rules
 * classify it, remembered for a while (a segment moves over days, not seconds) in a bounded map,
 * so a returning visitor costs one map read. A visitor without a user id is `new` (no history),
 * as serving treats it; a user who does not consent to personalization has no segment (null:
 * in no audience), as the profile route gives them none.
 */
import type { Store } from '../store/types.ts';
import type { SegmentReports } from './segment-reports.ts';
import type { Segment } from './segments.ts';

export interface SegmentCacheOptions {
  reports: Pick<SegmentReports, 'classifyUser'>;
  /** Where consent is read; without it everyone is classified. */
  store?: Pick<Store, 'getUser'>;
  now?: () => number;
  /** How long a user's segment is reused. @defaultValue 600,000 (10 minutes) */
  ttlMs?: number;
  /** Users remembered at most (the oldest go first). @defaultValue 100,000 */
  entries?: number;
}

export class SegmentCache {
  private readonly seen = new Map<string, { segment: Segment | null; at: number }>();
  private readonly pending = new Map<string, Promise<Segment | null>>();
  private readonly now: () => number;

  constructor(private readonly o: SegmentCacheOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The segment of `userId` (`new` without one, null without consent): at once when remembered, else a promise. */
  of(userId: string | undefined): Segment | null | Promise<Segment | null> {
    if (userId === undefined) return 'new';
    const hit = this.seen.get(userId);
    const now = this.now();
    if (hit && now - hit.at < (this.o.ttlMs ?? 600_000)) return hit.segment;
    let p = this.pending.get(userId);
    if (!p) {
      p = this.classify(userId)
        .then((segment) => {
          this.remember(userId, segment, now);
          return segment;
        })
        .finally(() => this.pending.delete(userId));
      this.pending.set(userId, p);
    }
    return p;
  }

  /** Forgets `userId` (erased, or their profile changed). */
  forget(userId: string): void {
    this.seen.delete(userId);
  }

  private async classify(userId: string): Promise<Segment | null> {
    const user = this.o.store ? await this.o.store.getUser(userId) : null;
    if (user && !user.consent.personalization) return null;
    return (await this.o.reports.classifyUser(userId)).segment;
  }

  private remember(userId: string, segment: Segment | null, at: number): void {
    this.seen.delete(userId);
    this.seen.set(userId, { segment, at });
    const max = this.o.entries ?? 100_000;
    if (this.seen.size > max) this.seen.delete(this.seen.keys().next().value!);
  }
}
