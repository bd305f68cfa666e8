/**
 * `GET /v1/admin/metrics`: the aggregates over a range of UTC days, grouped by any subset of the
 * keys, with the derived rates of issue #13 (a rate over zero impressions is 0).
 */
import { ValidationError } from '../errors.ts';
import type { FeedbackKey, FeedbackTotals, Store } from '../store/types.ts';
import { FEEDBACK_KEYS } from '../store/types.ts';

/** The group keys asked for ('' in the store is null here), then the sums and rates. */
export interface MetricsRow extends Partial<Record<Exclude<FeedbackKey, 'position'>, string | null>> {
  position?: number;
  impressions: number;
  itemsShown: number;
  visitors: number | null;
  clicks: number;
  addToCarts: number;
  purchases: number;
  units: number;
  revenue: number;
  ctr: number;
  itemCtr: number;
  addToCartRate: number;
  conversionRate: number;
  revenuePerMille: number;
  /** Each visitor's CTR averaged (an experiment randomises visitors); null by position. */
  visitorCtr: number | null;
}

export interface MetricsQuery {
  from: string;
  to: string;
  /** Comma-separated keys; absent or empty: one row for the whole range. */
  groupBy?: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function day(field: 'from' | 'to', value: string): string {
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (!DAY.test(value) || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value)
    throw new ValidationError([{ field: `querystring/${field}`, reason: 'must be a date YYYY-MM-DD' }]);
  return value;
}

/** The query checked: real dates, from ≤ to, known distinct keys; else a 400 naming the field. */
export function parseMetricsQuery(q: MetricsQuery): { from: string; to: string; groupBy: FeedbackKey[] } {
  const from = day('from', q.from);
  const to = day('to', q.to);
  if (from > to) throw new ValidationError([{ field: 'querystring/to', reason: 'must not be before from' }]);
  const keys = (q.groupBy ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const known = new Set<string>(FEEDBACK_KEYS);
  for (const k of keys) {
    if (!known.has(k))
      throw new ValidationError([
        {
          field: 'querystring/groupBy',
          reason: `unknown key ${JSON.stringify(k)}: one of ${FEEDBACK_KEYS.join(', ')}`,
        },
      ]);
  }
  // A variant is grouped with its experiment: two experiments' `b` are not one variant.
  if (keys.includes('variant')) keys.push('experiment');
  // In the canonical order, once each.
  return { from, to, groupBy: FEEDBACK_KEYS.filter((k) => keys.includes(k)) };
}

const rate = (n: number, d: number) => (d > 0 ? n / d : 0);

export function metricsRow(t: FeedbackTotals): MetricsRow {
  const keys: Partial<Record<Exclude<FeedbackKey, 'position'>, string | null>> & { position?: number } = {};
  for (const [k, v] of Object.entries(t.keys) as [FeedbackKey, string | number | null][]) {
    if (k === 'position') keys.position = Number(v);
    else keys[k] = v === null ? null : String(v);
  }
  return {
    ...keys,
    impressions: t.impressions,
    itemsShown: t.itemsShown,
    visitors: t.visitors,
    clicks: t.clicks,
    addToCarts: t.addToCarts,
    purchases: t.purchases,
    units: t.units,
    revenue: t.revenue,
    ctr: rate(t.clicks, t.impressions),
    itemCtr: rate(t.clicks, t.itemsShown),
    addToCartRate: rate(t.addToCarts, t.impressions),
    conversionRate: rate(t.purchases, t.impressions),
    revenuePerMille: rate(t.revenue * 1000, t.impressions),
    visitorCtr: t.visitorCtr,
  };
}

/** The metrics answer for `q`, rows in key order. */
export async function feedbackMetrics(
  store: Pick<Store, 'feedbackTotals'>,
  q: MetricsQuery,
): Promise<{ from: string; to: string; rows: MetricsRow[] }> {
  const query = parseMetricsQuery(q);
  const totals = await store.feedbackTotals(query);
  const rows = totals.map(metricsRow);
  const cmp = (a: string | number | null | undefined, b: string | number | null | undefined) =>
    typeof a === 'number' && typeof b === 'number'
      ? a - b
      : String(a ?? '') < String(b ?? '')
        ? -1
        : String(a ?? '') > String(b ?? '')
          ? 1
          : 0;
  rows.sort((a, b) => {
    for (const k of query.groupBy) {
      const c = cmp(a[k], b[k]);
      if (c) return c;
    }
    return 0;
  });
  return { from: query.from, to: query.to, rows };
}
