/**
 * The per-visitor cap of every non-personal list (storefront trending, segment lists): one
 * visitor (user or session) counts at most once per item, event type and UTC day of the
 * event's time. A thousand views of one item by one visitor on one day weigh as one view; over
 * a window the most one visitor adds to one item is Σ_type weight(type) · Σ_day decay(day) —
 * with a two-day half-life about 3.4 × the weights, whatever they send. Without it, one user's
 * 1,000 views put an item first for every first-time visitor (issue #12, reproduction 5).
 */
import type { EventType } from './types.ts';

export const CAP_PERIOD_MS = 86_400_000;

/** The cap's period (UTC day number) of an event time. */
export const capPeriodOf = (timestamp: number): number => Math.floor(timestamp / CAP_PERIOD_MS);

/**
 * The cap's key of a visit: a visitor's first engagement with an item in a period, whatever its
 * type. Visits are what a non-personal list's reach counts (`minVisitors`): an item one visitor
 * alone engaged with ranks for nobody else.
 */
export const VISIT = '*';

/** One (visitor, item, type) as a string, unambiguous whatever the ids hold. */
export function capKey(visitor: string, itemId: string, type: EventType | typeof VISIT): string {
  return `${type}|${itemId.length}:${itemId}|${visitor}`;
}

/**
 * Applies the cap to events read in time order (a store's `streamEvents`): only the current
 * day's keys are held, so memory is one day's distinct (visitor, item, type), whatever the window.
 */
export class OncePerPeriod {
  private period = Number.NaN;
  private readonly seen = new Set<string>();

  /** True the first time (visitor, item, type) is met in the period of `timestamp`. */
  first(visitor: string, itemId: string, type: EventType | typeof VISIT, timestamp: number): boolean {
    const period = capPeriodOf(timestamp);
    if (period !== this.period) {
      this.period = period;
      this.seen.clear();
    }
    const key = capKey(visitor, itemId, type);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}
