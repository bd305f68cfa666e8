/**
 * From events to the confidence matrix ALS trains on: each event type carries a weight
 * (purchase > add_to_cart > click > view), older events count less (exponential decay with a
 * half-life, down to `OLDEST_WEIGHT`), a return takes its purchase back and a dislike or a hide
 * removes the pair altogether.
 */
import { csrFromCoo } from '../models/sparse.ts';
import type { Csr } from '../models/sparse.ts';
import { EVENT_WEIGHTS, RATING_MAX, REJECTIONS } from '../src/store/event-weights.ts';
import type { EventType } from '../src/store/types.ts';
import { EVENT_TYPES } from '../src/store/types.ts';
import type { Snapshot } from './snapshot.ts';

export interface WeightOptions {
  /** Weight per event type; a rating's weight is multiplied by its value / RATING_MAX. */
  weights: Record<EventType, number>;
  /** Half-life of an event's weight in days; 0 turns decay off. @defaultValue 90 */
  halfLifeDays: number;
}

export const DEFAULT_WEIGHTS: WeightOptions = { weights: EVENT_WEIGHTS, halfLifeDays: 90 };

/**
 * The least an event counts for, however old, against a fresh one (five half-lives: 450 days at
 * the default 90). Without a floor, a store whose history is years older than its newest events
 * (a shop's past imported beside this month's traffic: Online Retail's 2011 beside 2026 events)
 * weighed that history at 2^-60, and the published fit had zero vectors for 98.7% of the items
 * while the gate, fitted at its cutoff, scored it well.
 */
export const OLDEST_WEIGHT = 1 / 32;

const REJECTED = new Set(REJECTIONS.map((t) => EVENT_TYPES.indexOf(t)));
const RATING = EVENT_TYPES.indexOf('rating');

/**
 * Builds the users × items matrix from the snapshot's events with index in [start, end),
 * decayed relative to `now` (epoch ms; defaults to the last event used).
 */
export function interactionMatrix(
  s: Snapshot,
  options: WeightOptions = DEFAULT_WEIGHTS,
  start = 0,
  end = s.length,
  now?: number,
): Csr {
  const typeWeight = Float32Array.from(EVENT_TYPES, (t) => options.weights[t]);
  const ref = now ?? (end > start ? s.timestamps[end - 1]! : 0);
  const lambda = options.halfLifeDays > 0 ? Math.LN2 / (options.halfLifeDays * 86_400_000) : 0;
  const n = end - start;
  const rows = new Int32Array(n);
  const cols = new Int32Array(n);
  const vals = new Float32Array(n);
  const disliked = new Set<number>();
  for (let k = 0; k < n; k++) {
    const e = start + k;
    const type = s.types[e]!;
    rows[k] = s.users[e]!;
    cols[k] = s.items[e]!;
    if (REJECTED.has(type)) disliked.add(s.users[e]! * s.itemIds.length + s.items[e]!);
    // A rating stored before values were checked (validate.ts) counts within the scale.
    const base =
      type === RATING ? (typeWeight[type]! * clampRating(s.amounts[e]!)) / RATING_MAX : typeWeight[type]!;
    vals[k] = base * Math.max(OLDEST_WEIGHT, Math.exp(-lambda * Math.max(0, ref - s.timestamps[e]!)));
  }
  const summed = csrFromCoo(s.userIds.length, s.itemIds.length, rows, cols, vals);
  return dropNonPositive(summed, (u, i) => disliked.has(u * s.itemIds.length + i));
}

/** Within [0, RATING_MAX]; a value beyond float32 (1e300 reads as Infinity) counts as the top. */
const clampRating = (v: number) => (Number.isNaN(v) ? 0 : Math.min(RATING_MAX, Math.max(0, v)));

/** Keeps entries with a positive sum that `drop` does not name. */
function dropNonPositive(m: Csr, drop: (row: number, col: number) => boolean): Csr {
  const indptr = new Int32Array(m.rows + 1);
  const indices = new Int32Array(m.indices.length);
  const values = new Float32Array(m.values.length);
  let out = 0;
  for (let r = 0; r < m.rows; r++) {
    for (let p = m.indptr[r]!; p < m.indptr[r + 1]!; p++) {
      if (m.values[p]! > 1e-6 && !drop(r, m.indices[p]!)) {
        indices[out] = m.indices[p]!;
        values[out++] = m.values[p]!;
      }
    }
    indptr[r + 1] = out;
  }
  return { rows: m.rows, cols: m.cols, indptr, indices: indices.slice(0, out), values: values.slice(0, out) };
}
