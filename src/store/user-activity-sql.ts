/**
 * The per-user activity aggregate both SQL stores run, written once so the backends agree on
 * what a purchase occasion and revenue are (`UserActivity` in types.ts).
 */
import type { UserActivity } from './types.ts';

const DAY_MS = 86_400_000;
const LINE_AMOUNT = 'coalesce(price, 0) * coalesce(quantity, 1)';

/**
 * Select-list over `events`. `ts / DAY_MS` is integer division in both SQLite (INTEGER) and
 * PostgreSQL (BIGINT), so a purchase occasion is a UTC day on either backend.
 */
export const ACTIVITY_AGGREGATES = `count(*) AS events, min(ts) AS first_ts, max(ts) AS last_ts,
  count(DISTINCT CASE WHEN type = 'purchase' THEN ts / ${DAY_MS} END) AS purchases,
  coalesce(sum(CASE type WHEN 'purchase' THEN ${LINE_AMOUNT} WHEN 'return' THEN -${LINE_AMOUNT} END), 0)
    AS revenue`;

/** A row of `ACTIVITY_AGGREGATES`; PostgreSQL returns BIGINT aggregates as strings. */
export interface ActivityRow {
  events: number | string;
  first_ts: number | string | null;
  last_ts: number | string | null;
  purchases: number | string;
  revenue: number | string;
}

export function activityFromRow(userId: string, r: ActivityRow): UserActivity {
  return {
    userId,
    firstEventAt: r.first_ts === null ? null : Number(r.first_ts),
    lastEventAt: r.last_ts === null ? null : Number(r.last_ts),
    events: Number(r.events),
    purchases: Number(r.purchases),
    // `+ 0` turns the -0 of a return without price into 0.
    revenue: Number(r.revenue) + 0,
  };
}

/**
 * Purchases and net revenue per user or session over a window (CUPED's pre-exposure covariate);
 * `$IDS` is the backend's list, `$1`/`$2` the window.
 */
export function preExposureSql(column: 'user_id' | 'session_id'): string {
  return `SELECT ${column} AS id, count(CASE WHEN type = 'purchase' THEN 1 END) AS purchases,
    coalesce(sum(CASE type WHEN 'purchase' THEN ${LINE_AMOUNT} WHEN 'return' THEN -${LINE_AMOUNT} END), 0) AS revenue
    FROM events WHERE ${column} IN ($IDS) AND ts >= $1 AND ts < $2 AND type IN ('purchase', 'return')
    GROUP BY ${column}`;
}

export interface PreExposureRow {
  id: string;
  purchases: number | string;
  revenue: number | string;
}

/** Ids per query: bounded statements on either backend. */
export const PRE_EXPOSURE_PAGE = 5000;
