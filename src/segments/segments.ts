/**
 * User segments and lifecycle stages: the profile route's `segment`/`lifecycle` and the counts
 * the "compute segments" job reports (../shared/DESIGN.md). Pure: activity in, labels out.
 *
 * One user, with a threshold the job already found:
 * `classify(await store.userActivity(userId), now, summary.rules)`. Pass no `since` there:
 * the job reads every user's whole history, and `new` means "first event ever is recent".
 */
import type { UserActivity } from '../store/types.ts';

export type { UserActivity } from '../store/types.ts';

export const SEGMENTS = ['new', 'active', 'high_value', 'churning', 'churned'] as const;
export type Segment = (typeof SEGMENTS)[number];

export const LIFECYCLES = ['prospect', 'first_time_buyer', 'repeat_buyer', 'loyal'] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];

export interface Classification {
  segment: Segment;
  lifecycle: Lifecycle;
}

/**
 * Day counts compare whole milliseconds: an event exactly N days old is "within N days",
 * one a millisecond older is "older than N days".
 */
export interface SegmentRules {
  /** A user whose first event is at most this old and who never bought is `new`. @defaultValue 30 */
  newDays: number;
  /** Last event older than this: `churning`. At most `churnedDays`. @defaultValue 30 */
  churningDays: number;
  /** Last event older than this: `churned`. @defaultValue 90 */
  churnedDays: number;
  /**
   * Revenue at or above this makes a recently active user `high_value`; above 0. It is an amount
   * of the shop's currency, so it has no fixed default: `summarize` derives it from the
   * population. `Infinity`: nobody is high-value.
   */
  highValueRevenue: number;
  /** Purchase occasions that make a buyer `loyal`; an integer ≥ 2. @defaultValue 5 */
  loyalPurchases: number;
}

export const DEFAULT_SEGMENT_RULES: Readonly<Omit<SegmentRules, 'highValueRevenue'>> = Object.freeze({
  newDays: 30,
  churningDays: 30,
  churnedDays: 90,
  loyalPurchases: 5,
});

/** Rules for `summarize`; what is absent comes from `DEFAULT_SEGMENT_RULES`. */
export interface SegmentOptions extends Partial<Omit<SegmentRules, 'highValueRevenue'>> {
  /**
   * An amount, or `'p90'`: the 90th percentile of revenue among users whose revenue is above 0
   * (most users never buy, so a percentile over everyone would be 0 and make every buyer
   * high-value). Linear interpolation between closest ranks (Hyndman–Fan type 7: numpy's default,
   * Excel's PERCENTILE.INC): about the top tenth of buyers reach it, and everyone tied
   * at it counts. With no buyer at all it is `Infinity`.
   * @defaultValue 'p90'
   */
  highValueRevenue?: number | 'p90';
}

export interface SegmentSummary {
  /** Users classified (for the job: users with at least one event). */
  users: number;
  bySegment: Record<Segment, number>;
  byLifecycle: Record<Lifecycle, number>;
  /** The threshold used; `Infinity` when it was `'p90'` and nobody had revenue (JSON shows null). */
  highValueRevenue: number;
  /** The complete rules the counts were made with: give them to `classify` to agree with them. */
  rules: SegmentRules;
  /** The handbook's KPIs per segment (see `SegmentKpis`). */
  kpis: Record<Segment, SegmentKpis>;
}

/**
 * Per segment, from each user's whole history: 30-day retention — of the users whose first event
 * is more than 30 days old (`cohort`), the share with an event in the last 30 days; and the
 * repurchase rate — of the users who bought (`buyers`), the share who bought on two days or more.
 * Null when the denominator is 0.
 */
export interface SegmentKpis {
  cohort: number;
  retention30: number | null;
  buyers: number;
  repurchaseRate: number | null;
}

/** A user's part in the KPIs, as bits (kept per undecided user until the threshold is known). */
const IN_COHORT = 1;
const RETAINED = 2;
const BUYER = 4;
const REPEAT = 8;

const DAY_MS = 86_400_000;

/** Segment and lifecycle of one user at `now` (epoch ms). Throws RangeError on nonsense rules. */
export function classify(activity: UserActivity, now: number, rules: SegmentRules): Classification {
  checkNow(now);
  checkRules(rules);
  checkThreshold(rules.highValueRevenue);
  const segment =
    recencySegment(activity, now, rules) ??
    (activity.revenue >= rules.highValueRevenue ? 'high_value' : 'active');
  return { segment, lifecycle: lifecycle(activity.purchases, rules.loyalPurchases) };
}

/** Counts of every segment and lifecycle over `activities`, read once. */
export function summarize(
  activities: Iterable<UserActivity>,
  now: number,
  options: SegmentOptions = {},
): SegmentSummary {
  const tally = new SegmentTally(now, options);
  for (const a of activities) tally.add(a);
  return tally.summary();
}

/**
 * `summarize` one user at a time, for streams (`computeSegments` feeds it from the store). It
 * keeps counts and, while the threshold is `'p90'`, the revenues above 0 as float64 — 8 bytes
 * per buyer, never the activities themselves.
 */
export class SegmentTally {
  private readonly now: number;
  private readonly rules: Omit<SegmentRules, 'highValueRevenue'>;
  /** null: the 90th percentile, known once every user has been added. */
  private readonly threshold: number | null;
  private users = 0;
  private readonly bySegment = zeros(SEGMENTS);
  private readonly byLifecycle = zeros(LIFECYCLES);
  /** Revenue > 0 of every user: the percentile's population. */
  private readonly buyers = new Float64List();
  /** Revenue > 0 of users whom only the threshold splits into `active` and `high_value`. */
  private readonly undecided = new Float64List();
  /** Their KPI bits, aligned with `undecided`. */
  private readonly undecidedKpi = new Float64List();
  /** Per segment: users in the retention cohort, retained, buyers, repeat buyers. */
  private readonly kpi = Object.fromEntries(SEGMENTS.map((s) => [s, [0, 0, 0, 0]])) as Record<
    Segment,
    [number, number, number, number]
  >;

  constructor(now: number, options: SegmentOptions = {}) {
    checkNow(now);
    const { highValueRevenue = 'p90', ...days } = options;
    this.rules = { ...DEFAULT_SEGMENT_RULES, ...withoutUndefined(days) };
    checkRules(this.rules);
    if (highValueRevenue === 'p90') this.threshold = null;
    else {
      checkThreshold(highValueRevenue);
      this.threshold = highValueRevenue;
    }
    this.now = now;
  }

  add(activity: UserActivity): void {
    this.users++;
    this.byLifecycle[lifecycle(activity.purchases, this.rules.loyalPurchases)]++;
    const revenue = activity.revenue;
    if (this.threshold === null && revenue > 0) this.buyers.push(revenue);
    const segment = recencySegment(activity, this.now, this.rules);
    const bits = kpiBits(activity, this.now);
    const count = (s: Segment) => {
      this.bySegment[s]++;
      addKpi(this.kpi[s], bits);
    };
    if (segment) count(segment);
    else if (this.threshold !== null) count(revenue >= this.threshold ? 'high_value' : 'active');
    // Any percentile of positive revenues is above 0, so revenue ≤ 0 is `active` whatever it is.
    else if (revenue > 0) {
      this.undecided.push(revenue);
      this.undecidedKpi.push(bits);
    } else count('active');
  }

  summary(): SegmentSummary {
    const threshold = this.threshold ?? p90(this.buyers.sorted());
    const bySegment = { ...this.bySegment };
    const kpi = Object.fromEntries(SEGMENTS.map((s) => [s, [...this.kpi[s]]])) as typeof this.kpi;
    if (this.threshold === null) {
      const undecided = this.undecided.values();
      const bits = this.undecidedKpi.values();
      for (let i = 0; i < undecided.length; i++) {
        const s: Segment = undecided[i]! >= threshold ? 'high_value' : 'active';
        bySegment[s]++;
        addKpi(kpi[s], bits[i]!);
      }
    }
    const ratio = (a: number, b: number) => (b ? a / b : null);
    return {
      users: this.users,
      bySegment,
      byLifecycle: { ...this.byLifecycle },
      highValueRevenue: threshold,
      rules: { ...this.rules, highValueRevenue: threshold },
      kpis: Object.fromEntries(
        SEGMENTS.map((s) => {
          const [cohort, retained, buyers, repeat] = kpi[s];
          return [
            s,
            { cohort, retention30: ratio(retained, cohort), buyers, repurchaseRate: ratio(repeat, buyers) },
          ];
        }),
      ) as Record<Segment, SegmentKpis>,
    };
  }
}

/** Counts one user's KPI bits into a segment's [cohort, retained, buyers, repeat buyers]. */
function addKpi(k: [number, number, number, number], bits: number): void {
  if (bits & IN_COHORT) k[0]++;
  if (bits & RETAINED) k[1]++;
  if (bits & BUYER) k[2]++;
  if (bits & REPEAT) k[3]++;
}

/** A user's KPI bits at `now` (see `SegmentKpis`). */
function kpiBits(a: UserActivity, now: number): number {
  const window = 30 * DAY_MS;
  let bits = 0;
  if (a.firstEventAt !== null && now - a.firstEventAt > window) {
    bits |= IN_COHORT;
    if (a.lastEventAt !== null && now - a.lastEventAt <= window) bits |= RETAINED;
  }
  if (a.purchases >= 1) bits |= BUYER;
  if (a.purchases >= 2) bits |= REPEAT;
  return bits;
}

/** `new`, `churned` or `churning` when recency alone decides; null when revenue must. */
function recencySegment(
  a: UserActivity,
  now: number,
  rules: Omit<SegmentRules, 'highValueRevenue'>,
): Segment | null {
  if (a.events === 0 || a.firstEventAt === null || a.lastEventAt === null) return 'new';
  if (a.purchases === 0 && now - a.firstEventAt <= rules.newDays * DAY_MS) return 'new';
  const idle = now - a.lastEventAt;
  if (idle > rules.churnedDays * DAY_MS) return 'churned';
  if (idle > rules.churningDays * DAY_MS) return 'churning';
  return null;
}

function lifecycle(purchases: number, loyalPurchases: number): Lifecycle {
  if (purchases >= loyalPurchases) return 'loyal';
  if (purchases >= 2) return 'repeat_buyer';
  return purchases >= 1 ? 'first_time_buyer' : 'prospect';
}

/** Type 7 on sorted values, with the rank's fraction in exact integer arithmetic. */
function p90(sorted: Float64Array): number {
  const n = sorted.length;
  if (n === 0) return Infinity;
  const tenths = (n - 1) * 9; // rank (n - 1) × 0.9, in tenths
  const lo = Math.floor(tenths / 10);
  const frac = (tenths % 10) / 10;
  return frac === 0 ? sorted[lo]! : sorted[lo]! + frac * (sorted[lo + 1]! - sorted[lo]!);
}

function checkNow(now: number): void {
  if (typeof now !== 'number' || !Number.isFinite(now)) {
    throw new RangeError(`segments: now must be a finite epoch-ms number, got ${String(now)}`);
  }
}

function checkRules(r: Omit<SegmentRules, 'highValueRevenue'>): void {
  for (const field of ['newDays', 'churningDays', 'churnedDays'] as const) {
    const v = r[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`segment rules: ${field} must be a finite number ≥ 0, got ${String(v)}`);
    }
  }
  if (r.churningDays > r.churnedDays) {
    throw new RangeError(
      `segment rules: churningDays (${r.churningDays}) must not exceed churnedDays (${r.churnedDays})`,
    );
  }
  if (!Number.isInteger(r.loyalPurchases) || r.loyalPurchases < 2) {
    throw new RangeError(
      `segment rules: loyalPurchases must be an integer ≥ 2, got ${String(r.loyalPurchases)}`,
    );
  }
}

function checkThreshold(v: number): void {
  if (typeof v !== 'number' || Number.isNaN(v) || v <= 0) {
    throw new RangeError(
      `segment rules: highValueRevenue must be a number > 0 (or 'p90' for summarize), got ${String(v)}`,
    );
  }
}

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** `{ a: undefined }` must not override a default when spread. */
function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** An append-only float64 buffer that doubles as it grows. */
class Float64List {
  private data = new Float64Array(1024);
  private length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  values(): Float64Array {
    return this.data.subarray(0, this.length);
  }

  /** Sorts in place (insertion order does not matter here) and returns the values. */
  sorted(): Float64Array {
    return this.values().sort();
  }
}
