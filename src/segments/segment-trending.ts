/**
 * Trending per user segment (issue #4: "a user with no history gets trending for their
 * segment"): what users of each segment engage with now, scored like storefront trending —
 * Σ weight(type) · 2^(−(now − ts) / halfLife) over the events of a window ending at `now`.
 * The serving layer passes its own weights and half-life; src/segments never imports
 * src/serving (imports go serving → segments).
 *
 * An event counts for the segment its user is in **at `now`**, classified over the user's whole
 * history as the segments job does (`computeSegments`), not the segment the user was in when the
 * event happened: the lists answer "what do today's `new` users engage with", the question the
 * engine asks for a cold user today, and one classification per user keeps it to two scans.
 * Consequence: with a window shorter than `churningDays` (14 vs 30 days by default) every user
 * with a window event is recent, so `churning` and `churned` get empty lists.
 *
 * One user counts at most once per item, event type and UTC day (src/store/engagement-cap.ts),
 * as in storefront trending: one user's 1,000 views must not top a segment's list. And, as
 * there, an item is listed once `minVisitors` visits (a user's first engagement with it in a UTC
 * day) count for it: one user alone does not make a segment's list.
 */
import { OncePerPeriod, VISIT } from '../store/engagement-cap.ts';
import type { EventType, Store, UserActivity } from '../store/types.ts';
import { EVENT_TYPES } from '../store/types.ts';
import type { Segment, SegmentRules } from './segments.ts';
import { SEGMENTS, classify } from './segments.ts';

export interface SegmentTrendingOptions {
  /** Complete rules, e.g. `(await computeSegments(store, now)).rules`. */
  rules: SegmentRules;
  /** Weight of an event type; types absent (or 0) are ignored. Finite; negative undoes. */
  weights: Partial<Record<EventType, number>>;
  /** Half-life of an event's weight in ms; > 0 (`Infinity`: no decay). */
  halfLifeMs: number;
  /** Events with `now − windowMs ≤ ts ≤ now` count; finite, > 0. */
  windowMs: number;
  /** Visits an item needs in the window to be listed; an integer ≥ 1. @defaultValue 1 */
  minVisitors?: number;
  /** Items kept per segment; an integer ≥ 1. @defaultValue 500 */
  perSegment?: number;
}

export interface TrendingItem {
  itemId: string;
  score: number;
}

export interface SegmentTrending {
  /** The `now` the scores are decayed to, epoch ms. */
  computedAt: number;
  rules: SegmentRules;
  /** Users with at least one event in the window (of any type), per segment. */
  users: Record<Segment, number>;
  /**
   * Per segment, items with a positive score, best first, ties by itemId (code-unit order);
   * empty for a segment without window events.
   */
  items: Record<Segment, TrendingItem[]>;
}

const DEFAULT_PER_SEGMENT = 500;
/** Marks, in the user map's value, a user already counted in `users`. */
const COUNTED = 8;

/**
 * Two scans: `usersActivity()` (every user's whole history, as `computeSegments` reads it) to
 * classify the users who can have window events, then `streamEvents` over the window.
 *
 * Memory, besides one store page and the cap's keys of one day: a map userId → segment for the users whose last event is in
 * the window (only they can have a window event; everyone else would cost memory for nothing),
 * about 50–100 bytes each (Map slot + the id string), so ~10 MB per 100k such users; and one
 * itemId → score map per segment, ~50–100 bytes per (segment, item) pair with a weighted window
 * event, i.e. at most a few times the number of items touched in the window.
 *
 * The scans are not one snapshot: a user deleted between them loses their events (not
 * counted); events stored after the first scan count only for users it already classified.
 * Deterministic for a given store content: events are summed in the store's (ts, seq) order.
 */
export async function computeSegmentTrending(
  store: Pick<Store, 'usersActivity' | 'streamEvents'>,
  now: number,
  options: SegmentTrendingOptions,
): Promise<SegmentTrending> {
  const { rules, weights, halfLifeMs, windowMs, minVisitors = 1, perSegment = DEFAULT_PER_SEGMENT } = options;
  checkOptions(weights, halfLifeMs, windowMs, perSegment, minVisitors);
  classify(NO_ACTIVITY, now, rules); // bad `now` or rules fail before the scans, with classify's message
  const from = now - windowMs;

  const segmentOf = new Map<string, number>(); // segment index, | COUNTED once counted in `users`
  for await (const a of store.usersActivity()) {
    if (a.lastEventAt !== null && a.lastEventAt >= from) {
      segmentOf.set(a.userId, SEGMENTS.indexOf(classify(a, now, rules).segment));
    }
  }

  const users = SEGMENTS.map(() => 0);
  const scores = SEGMENTS.map(() => new Map<string, number>());
  const visits = SEGMENTS.map(() => new Map<string, number>());
  const cap = new OncePerPeriod();
  // `to` is exclusive; floor + 1 keeps ts = now for any `now`, the check below drops the rest.
  for await (const e of store.streamEvents({ from, to: Math.floor(now) + 1 })) {
    const ts = e.timestamp;
    if (!(ts >= from && ts <= now) || e.userId === undefined) continue; // anonymous: no segment
    const code = segmentOf.get(e.userId);
    if (code === undefined) continue; // unknown to the first scan (deleted, or new since)
    const segment = code & ~COUNTED;
    if (code === segment) {
      segmentOf.set(e.userId, code | COUNTED);
      users[segment]!++;
    }
    const w = weights[e.type];
    if (!w || !cap.first(e.userId, e.itemId, e.type, ts)) continue;
    const items = scores[segment]!;
    items.set(e.itemId, (items.get(e.itemId) ?? 0) + w * 2 ** ((ts - now) / halfLifeMs));
    if (cap.first(e.userId, e.itemId, VISIT, ts))
      visits[segment]!.set(e.itemId, (visits[segment]!.get(e.itemId) ?? 0) + 1);
  }

  return {
    computedAt: now,
    rules: { ...rules },
    users: Object.fromEntries(SEGMENTS.map((s, i) => [s, users[i]!])) as Record<Segment, number>,
    items: Object.fromEntries(
      SEGMENTS.map((s, i) => [s, best(scores[i]!, visits[i]!, minVisitors, perSegment)]),
    ) as Record<Segment, TrendingItem[]>,
  };
}

const NO_ACTIVITY: UserActivity = {
  userId: '',
  firstEventAt: null,
  lastEventAt: null,
  events: 0,
  purchases: 0,
  revenue: 0,
};

/** The `k` best positive scores of items with `minVisitors` visits, descending, ties by itemId. */
function best(
  scores: Map<string, number>,
  visits: Map<string, number>,
  minVisitors: number,
  k: number,
): TrendingItem[] {
  const out: TrendingItem[] = [];
  for (const [itemId, score] of scores)
    if (score > 0 && (visits.get(itemId) ?? 0) >= minVisitors) out.push({ itemId, score });
  out.sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
  return out.length > k ? out.slice(0, k) : out;
}

function checkOptions(
  weights: Partial<Record<EventType, number>>,
  halfLifeMs: number,
  windowMs: number,
  perSegment: number,
  minVisitors: number,
): void {
  if (typeof windowMs !== 'number' || !(windowMs > 0 && Number.isFinite(windowMs))) {
    throw new RangeError(`segment trending: windowMs must be a finite number > 0, got ${String(windowMs)}`);
  }
  if (typeof halfLifeMs !== 'number' || !(halfLifeMs > 0)) {
    throw new RangeError(`segment trending: halfLifeMs must be a number > 0, got ${String(halfLifeMs)}`);
  }
  if (!Number.isInteger(perSegment) || perSegment < 1) {
    throw new RangeError(`segment trending: perSegment must be an integer ≥ 1, got ${String(perSegment)}`);
  }
  if (!Number.isInteger(minVisitors) || minVisitors < 1) {
    throw new RangeError(`segment trending: minVisitors must be an integer ≥ 1, got ${String(minVisitors)}`);
  }
  for (const [type, w] of Object.entries(weights)) {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) {
      throw new RangeError(`segment trending: weights.${type} is not an event type`);
    }
    if (w !== undefined && (typeof w !== 'number' || !Number.isFinite(w))) {
      throw new RangeError(`segment trending: weights.${type} must be a finite number, got ${String(w)}`);
    }
  }
}
