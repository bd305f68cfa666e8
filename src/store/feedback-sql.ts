/**
 * Row mapping and SQL shared by the two stores for impressions, attributions and the feedback
 * aggregates; `$n` placeholders (SQLite takes them too, numbered from 1).
 */
import type {
  Attribution,
  AttributedType,
  EncodedIds,
  FeedbackKey,
  FeedbackQuery,
  FeedbackTotals,
  NewImpression,
  PositionLog,
  StoredImpression,
  UnitTotals,
} from './types.ts';

export interface ImpressionRow {
  seq: number | string;
  recommendation_id: string;
  ts: number | string;
  tier: string;
  user_id: string | null;
  session_id: string | null;
  experiment: string | null;
  variant: string | null;
  config: string;
  probability: number;
  model_version: string | null;
  item_ids: string | string[];
  positions: string | PositionLog | null;
  session_unit: number | boolean | null;
}

export interface AttributionRow {
  seq: number | string;
  event_id: string;
  type: string;
  item_id: string;
  user_id: string | null;
  session_id: string | null;
  ts: number | string;
  recommendation_id: string;
  position: number;
  units: number;
  revenue: number;
  tier: string;
  model_version: string;
  config: string;
  variant: string;
  day: string;
  visitor: string;
}

export const IMPRESSION_COLUMNS =
  'seq, recommendation_id, ts, tier, user_id, session_id, experiment, variant, config, probability, model_version, item_ids, positions, session_unit';

/** A list's ids as stored: JSON array text, and their count. */
export function encodedIds(i: NewImpression): EncodedIds {
  const ids = i.itemIds;
  return 'json' in ids ? ids : { json: JSON.stringify(ids), count: ids.length };
}

export function impressionFromRow(r: ImpressionRow): StoredImpression & { seq: number } {
  const out: StoredImpression & { seq: number } = {
    seq: Number(r.seq),
    recommendationId: r.recommendation_id,
    tier: r.tier,
    config: r.config,
    probability: Number(r.probability),
    modelVersion: r.model_version,
    itemIds: typeof r.item_ids === 'string' ? (JSON.parse(r.item_ids) as string[]) : r.item_ids,
    timestamp: Number(r.ts),
  };
  if (r.user_id !== null) out.userId = r.user_id;
  if (r.session_id !== null) out.sessionId = r.session_id;
  if (r.experiment !== null) out.experiment = r.experiment;
  if (r.variant !== null) out.variant = r.variant;
  if (r.session_unit) out.sessionUnit = true;
  if (r.positions !== null)
    out.positions = typeof r.positions === 'string' ? (JSON.parse(r.positions) as PositionLog) : r.positions;
  return out;
}

export function attributionFromRow(r: AttributionRow): Attribution & { seq: number } {
  const out: Attribution & { seq: number } = {
    seq: Number(r.seq),
    eventId: r.event_id,
    type: r.type as AttributedType,
    itemId: r.item_id,
    at: Number(r.ts),
    recommendationId: r.recommendation_id,
    position: Number(r.position),
    units: Number(r.units),
    revenue: Number(r.revenue),
    tier: r.tier,
    modelVersion: r.model_version,
    config: r.config,
    variant: r.variant,
    day: r.day,
    visitor: r.visitor,
  };
  if (r.user_id !== null) out.userId = r.user_id;
  if (r.session_id !== null) out.sessionId = r.session_id;
  return out;
}

/** The attribution columns in insert order, and one attribution's values in that order. */
export const ATTRIBUTION_COLUMNS =
  'event_id, type, item_id, user_id, session_id, ts, recommendation_id, position, units, revenue, tier, model_version, config, variant, day, visitor';

/**
 * The return `a` as stored, given `net`, what its list's purchases of the item took in less the
 * returns stored so far: it takes back no more than that, and is not stored once that is 0. Read
 * and written in one transaction, under the lock every attribution write takes: read before it
 * (the attributor did), concurrent returns of one purchase each saw the whole of it, and four of
 * them took back 45 of a purchase of 15.
 */
export function cappedReturn(a: Attribution, net: number): Attribution | null {
  const back = Math.min(-a.revenue, Math.max(0, net));
  return back > 0 ? { ...a, revenue: -back } : null;
}

/** What `cappedReturn` reads: a list's ($1) attributed purchases of an item ($2), less its returns. */
export const NET_REVENUE_SQL = `SELECT coalesce(sum(revenue), 0) AS net FROM attributions
  WHERE recommendation_id = $1 AND item_id = $2 AND type IN ('purchase', 'return')`;

export function attributionValues(a: Attribution): (string | number | null)[] {
  return [
    a.eventId,
    a.type,
    a.itemId,
    a.userId ?? null,
    a.sessionId ?? null,
    a.at,
    a.recommendationId,
    a.position,
    a.units,
    a.revenue,
    a.tier,
    a.modelVersion,
    a.config,
    a.variant,
    a.day,
    a.visitor,
  ];
}

const COLUMN: Record<FeedbackKey, string> = {
  tier: 'tier',
  modelVersion: 'model_version',
  config: 'config',
  experiment: 'experiment',
  variant: 'variant',
  day: 'day',
  position: 'position',
};

/**
 * A key's value where it is not a column: a variant's experiment is its configuration's name less
 * `:<variant>` (`variantConfigName`); '' (none) for lists of no experiment.
 */
const COMPUTED: Partial<Record<FeedbackKey, string>> = {
  experiment: `CASE WHEN variant = '' THEN '' ELSE substr(config, 1, length(config) - length(variant) - 1) END`,
};
const selected = (k: FeedbackKey) => (COMPUTED[k] ? `${COMPUTED[k]} AS ${COLUMN[k]}` : COLUMN[k]);

/** The per-visitor-day aggregates with their groups' columns (day, tier, model_version, config, variant). */
const VISITOR_DAYS_OF_GROUPS = 'feedback_groups JOIN feedback_visitor_days ON group_id = id';
/** The visitor key of a list with neither a user nor a session (`impressionVisitor`). */
const NOBODY = 's:';
const SUMS = `SUM(items_shown) AS items_shown, SUM(clicks) AS clicks, SUM(add_to_carts) AS add_to_carts,
  SUM(purchases) AS purchases, SUM(units) AS units, SUM(revenue) AS revenue`;

/**
 * The totals query for `q` with `$1`, `$2` the first and last day. Group keys come from the
 * closed list `FEEDBACK_KEYS` (never from the request's text). Without position: per visitor
 * first, then per group, so that visitors are counted once and each one's CTR is averaged.
 */
export function feedbackTotalsSql(q: FeedbackQuery): string {
  const cols = q.groupBy.map((k) => COLUMN[k]);
  const keys = cols.map((c) => `${c}, `).join('');
  // Where the rows are read from the tables: computed keys by their expressions, named as columns.
  const read = q.groupBy.map((k) => `${selected(k)}, `).join('');
  const groupBy = (extra: string[]) => {
    const all = [...cols, ...extra];
    return all.length ? `GROUP BY ${all.join(', ')}` : '';
  };
  if (q.groupBy.includes('position')) {
    // A list reaches a position once: the lists reaching it are the items shown there.
    return `SELECT ${read}SUM(items_shown) AS impressions, ${SUMS}, NULL AS visitors, NULL AS visitor_ctr
      FROM feedback_positions WHERE day >= $1 AND day <= $2 ${groupBy([])}`;
  }
  // Lists asked for by nobody (no user, no session: the key 's:') count as lists, not as one
  // visitor who saw them all.
  return `SELECT ${keys}SUM(impressions) AS impressions, ${SUMS},
      SUM(CASE WHEN impressions > 0 AND visitor <> '${NOBODY}' THEN 1 ELSE 0 END) AS visitors,
      AVG(CASE WHEN impressions > 0 AND visitor <> '${NOBODY}' THEN clicks * 1.0 / impressions END) AS visitor_ctr
    FROM (SELECT ${read}visitor, SUM(impressions) AS impressions, ${SUMS}
          FROM ${VISITOR_DAYS_OF_GROUPS} WHERE day >= $1 AND day <= $2 ${groupBy(['visitor'])}) AS v
    ${groupBy([])}`;
}

export type TotalsRow = Record<string, string | number | null>;

export function totalsFromRows(q: FeedbackQuery, rows: readonly TotalsRow[]): FeedbackTotals[] {
  const num = (v: string | number | null | undefined) => (v === null || v === undefined ? 0 : Number(v));
  const out: FeedbackTotals[] = [];
  for (const r of rows) {
    // No GROUP BY over no rows answers one row of NULL sums.
    if (r.impressions === null && r.clicks === null) continue;
    const keys: FeedbackTotals['keys'] = {};
    for (const k of q.groupBy) {
      const v = r[COLUMN[k]];
      // '' stands for "none" in the key columns (they are part of a primary key).
      keys[k] = k === 'position' ? Number(v) : v === '' || v === null || v === undefined ? null : String(v);
    }
    out.push({
      keys,
      impressions: num(r.impressions),
      itemsShown: num(r.items_shown),
      clicks: num(r.clicks),
      addToCarts: num(r.add_to_carts),
      purchases: num(r.purchases),
      units: num(r.units),
      revenue: num(r.revenue),
      visitors: r.visitors === null || r.visitors === undefined ? null : Number(r.visitors),
      visitorCtr: r.visitor_ctr === null || r.visitor_ctr === undefined ? null : Number(r.visitor_ctr),
    });
  }
  return out;
}

/** The columns of `feedback_groups` besides its id: the group a visitor-day aggregate adds to. */
const GROUP = 'day, tier, model_version, config, variant';

/** Per visitor sums of the visitor-day aggregates of some configs (an experiment's variants); `$CONFIGS` is the backend's list. */
export const UNIT_TOTALS_SQL = `
  SELECT config, visitor, sum(impressions) AS impressions, sum(clicks) AS clicks,
    sum(purchases) AS purchases, sum(revenue) AS revenue
  FROM ${VISITOR_DAYS_OF_GROUPS} WHERE config IN ($CONFIGS)
  GROUP BY config, visitor ORDER BY config, visitor`;

export interface UnitTotalsRow {
  config: string;
  visitor: string;
  impressions: number | string;
  clicks: number | string;
  purchases: number | string;
  revenue: number | string;
}

export function unitTotalsFromRow(r: UnitTotalsRow): UnitTotals {
  return {
    config: r.config,
    visitor: r.visitor,
    impressions: Number(r.impressions),
    clicks: Number(r.clicks),
    purchases: Number(r.purchases),
    revenue: Number(r.revenue),
  };
}

/** How a store spells what the aggregation's SQL needs beyond the common dialect. */
export interface AggregationDialect {
  /** The UTC day, YYYY-MM-DD, of `days`, a whole number of days since the epoch. */
  dayOf(days: string): string;
}

/** The longest list an impression may hold (serving answers at most 100): positions counted. */
const MAX_POSITIONS = 1000;
/** An impression's visitor key (`impressionVisitor` in types.ts). */
const VISITOR = `CASE WHEN user_id IS NOT NULL AND NOT coalesce(session_unit, FALSE) THEN 'u:' || user_id
  ELSE 's:' || coalesce(session_id, '') END`;
const COUNTS = `sum(CASE WHEN type = 'click' THEN 1 ELSE 0 END), sum(CASE WHEN type = 'add_to_cart' THEN 1 ELSE 0 END),
  sum(CASE WHEN type = 'purchase' THEN 1 ELSE 0 END), sum(units), sum(revenue)`;
const ADD_COUNTS = `clicks = t.clicks + excluded.clicks, add_to_carts = t.add_to_carts + excluded.add_to_carts,
  purchases = t.purchases + excluded.purchases, units = t.units + excluded.units, revenue = t.revenue + excluded.revenue`;
const VISITOR_DAYS = `INSERT INTO feedback_visitor_days AS t (group_id, visitor,
  impressions, items_shown, clicks, add_to_carts, purchases, units, revenue)`;
const VISITOR_DAY_KEY = 'ON CONFLICT (group_id, visitor) DO UPDATE SET';
/** `feedback_groups` joined on the group columns of `rows` (day: an expression over `rows`). */
const JOIN_GROUP = (rows: string, day: string) =>
  `JOIN feedback_groups g ON g.day = ${day} AND g.tier = ${rows}.tier AND g.model_version = ${rows}.model_version
    AND g.config = ${rows}.config AND g.variant = ${rows}.variant`;
const POSITIONS = `INSERT INTO feedback_positions AS t (tier, model_version, config, variant, day, position,
  items_shown, clicks, add_to_carts, purchases, units, revenue)`;
const POSITION_KEY = 'ON CONFLICT (tier, model_version, config, variant, day, position) DO UPDATE SET';
const GROUPS = `INSERT INTO feedback_groups (${GROUP})`;
const GROUP_KEY = `ON CONFLICT (${GROUP}) DO NOTHING`;

/**
 * The statements that add impressions with $1 < seq ≤ $2, then attributions with $1 < seq ≤ $2,
 * to the per-visitor-day and per-position aggregates: summed by the database, so no row leaves
 * it. The impressions are read once, grouped by visitor, day and list length into the temporary
 * table `feedback_lists` (each store makes it with `FEEDBACK_LISTS_COLUMNS`; `fillLists` fills
 * it, `clearLists` empties it); both aggregates are summed from that. A list of n items adds one
 * to each of positions 0 … n − 1: a row per group and length, not per item. The groups go in
 * first (`listGroups`, `attributionGroups`): the visitor-day rows hold their ids.
 */
export function aggregationSql(d: AggregationDialect): {
  fillLists: string;
  listGroups: string;
  clearLists: string;
  impressionVisitorDays: string;
  impressionPositions: string;
  attributionGroups: string;
  attributionVisitorDays: string;
  attributionPositions: string;
} {
  return {
    fillLists: `INSERT INTO feedback_lists (tier, model_version, config, variant, days, visitor, len, n)
      SELECT tier, coalesce(model_version, ''), config, coalesce(variant, ''), ts / 86400000, ${VISITOR},
        shown, count(*)
      FROM impressions WHERE seq > $1 AND seq <= $2 GROUP BY 6, 5, 1, 2, 3, 4, 7`,
    // The groups the aggregates hold: erasure and experiment readouts seek each one.
    listGroups: `${GROUPS} SELECT DISTINCT ${d.dayOf('days')}, tier, model_version, config, variant FROM feedback_lists
      WHERE true ${GROUP_KEY}`,
    clearLists: 'DELETE FROM feedback_lists',
    impressionVisitorDays: `${VISITOR_DAYS}
      SELECT g.id, l.visitor, sum(l.n), sum(l.n * l.len), 0, 0, 0, 0, 0
      FROM feedback_lists l ${JOIN_GROUP('l', d.dayOf('l.days'))}
      GROUP BY g.id, l.visitor
      ${VISITOR_DAY_KEY} impressions = t.impressions + excluded.impressions,
        items_shown = t.items_shown + excluded.items_shown`,
    impressionPositions: `WITH RECURSIVE positions (p) AS (
        SELECT 0 UNION ALL SELECT p + 1 FROM positions WHERE p < ${MAX_POSITIONS - 1}),
      lengths AS (SELECT tier, model_version, config, variant, days, len, sum(n) AS n FROM feedback_lists
                  GROUP BY tier, model_version, config, variant, days, len)
      ${POSITIONS}
      SELECT tier, model_version, config, variant, ${d.dayOf('days')}, p, sum(n), 0, 0, 0, 0, 0
      FROM lengths JOIN positions ON p < len
      GROUP BY tier, model_version, config, variant, days, p
      ${POSITION_KEY} items_shown = t.items_shown + excluded.items_shown`,
    attributionGroups: `${GROUPS} SELECT DISTINCT ${GROUP} FROM attributions
      WHERE seq > $1 AND seq <= $2 ${GROUP_KEY}`,
    attributionVisitorDays: `${VISITOR_DAYS}
      SELECT g.id, a.visitor, 0, 0, ${COUNTS}
      FROM attributions a ${JOIN_GROUP('a', 'a.day')}
      WHERE a.seq > $1 AND a.seq <= $2
      GROUP BY g.id, a.visitor
      ${VISITOR_DAY_KEY} ${ADD_COUNTS}`,
    attributionPositions: `${POSITIONS}
      SELECT tier, model_version, config, variant, day, position, 0, ${COUNTS}
      FROM attributions WHERE seq > $1 AND seq <= $2
      GROUP BY tier, model_version, config, variant, day, position
      ${POSITION_KEY} ${ADD_COUNTS}`,
  };
}

/** The columns of the temporary table `feedback_lists` (each store makes it its own way). */
export const FEEDBACK_LISTS_COLUMNS =
  'tier TEXT, model_version TEXT, config TEXT, variant TEXT, days BIGINT, visitor TEXT, len INTEGER, n BIGINT';

/** The newest impression and attribution seq stored. */
export const FEEDBACK_HORIZON_SQL = `SELECT (SELECT coalesce(max(seq), 0) FROM impressions) AS impression_seq,
  (SELECT coalesce(max(seq), 0) FROM attributions) AS attribution_seq`;
/**
 * How many impressions and attributions ($1 < seq ≤ $2) a run adds: the impressions summed
 * from `feedback_lists` while it holds them (not a second pass over the impressions' pages).
 */
export const FEEDBACK_ADDED_SQL = `SELECT (SELECT coalesce(sum(n), 0) FROM feedback_lists) AS impressions,
  (SELECT count(*) FROM attributions WHERE seq > $1 AND seq <= $2) AS attributions`;

/**
 * A visitor's per-visitor-day rows ($1 its key), found through the primary key one group at a
 * time: the table has no visitor index (each new row wrote it at a random place).
 */
export const ERASE_VISITOR_DAYS_SQL = `DELETE FROM feedback_visitor_days
  WHERE group_id IN (SELECT id FROM feedback_groups) AND visitor = $1`;
