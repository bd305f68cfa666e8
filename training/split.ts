import type { Csr } from '../models/sparse.ts';
import type { InteractionLog } from './datasets/interaction-dataset.ts';

/**
 * How a dataset is split for evaluation (/work/shared/EVALUATION.md):
 * - `temporal`: one global cutoff; train = before it, test = at or after it. The validation
 *   split applies the same rule to the train part with `validationCutoff`.
 * - `user-tail`: per user, interactions sorted by timestamp (ties by item index); the last
 *   `fraction` (rounded up, at least 1) are test. Validation applies it again to each user's
 *   train part.
 */
export type SplitRule =
  { kind: 'temporal'; cutoff: number; validationCutoff: number } | { kind: 'user-tail'; fraction: number };

/**
 * A train/test split of an {@link InteractionLog}, with train re-indexed to the users and items
 * that have at least one train interaction (the "train space" every model is fitted and ranked
 * in), and each test user's ground truth in that space.
 */
export interface EvalSplit {
  /** Interaction indices (into the log) on each side. */
  trainRows: Int32Array;
  testRows: Int32Array;
  /** Train row → log user index, ascending. */
  userOf: Int32Array;
  /** Train column → log item index, ascending. */
  itemOf: Int32Array;
  /** Log user index → train row, or −1. */
  rowOfUser: Int32Array;
  /** Log item index → train column, or −1. */
  colOfItem: Int32Array;
  /** Train rows of the test users, ascending. */
  testUsers: Int32Array;
  /**
   * Truth of `testUsers[t]` is `truthItems[truthIndptr[t] .. truthIndptr[t+1])` (train columns,
   * ascending): the distinct test items that exist in train and that this user has no train
   * interaction with (online-retail's "discovery" rule; for MovieLens, one rating per pair, the
   * last clause never binds). Test users are the users with a train row and non-empty truth.
   */
  truthIndptr: Int32Array;
  truthItems: Int32Array;
}

/** Online-retail test cutoff, 2011-11-09 00:00:00 (file time read as UTC). */
export const ONLINE_RETAIL_CUTOFF = Date.UTC(2011, 10, 9) / 1000;
/** Online-retail validation cutoff: 31 days earlier, 2011-10-09 00:00:00, a test window of the same length. */
export const ONLINE_RETAIL_VALIDATION_CUTOFF = Date.UTC(2011, 9, 9) / 1000;

export const ONLINE_RETAIL_RULE: SplitRule = {
  kind: 'temporal',
  cutoff: ONLINE_RETAIL_CUTOFF,
  validationCutoff: ONLINE_RETAIL_VALIDATION_CUTOFF,
};
export const MOVIELENS_RULE: SplitRule = { kind: 'user-tail', fraction: 0.2 };

/** Splits by the rule's test boundary. */
export function splitByRule(log: InteractionLog, rule: SplitRule): EvalSplit {
  return rule.kind === 'temporal' ? temporalSplit(log, rule.cutoff) : userTailSplit(log, rule.fraction);
}

/**
 * The validation split: the rule applied again inside `split`'s train part (test rows are
 * dropped before anything is computed, so tuning never sees them). Returns the train part
 * as its own log (same user/item indices as `log`) and the split of it.
 */
export function validationSplit(
  log: InteractionLog,
  split: EvalSplit,
  rule: SplitRule,
): { log: InteractionLog; split: EvalSplit } {
  const inner = subsetLog(log, split.trainRows);
  const innerSplit =
    rule.kind === 'temporal'
      ? temporalSplit(inner, rule.validationCutoff)
      : userTailSplit(inner, rule.fraction);
  return { log: inner, split: innerSplit };
}

/** Train = timestamp < cutoff, test = timestamp ≥ cutoff. */
export function temporalSplit(log: InteractionLog, cutoff: number): EvalSplit {
  const n = log.users.length;
  const isTest = new Uint8Array(n);
  for (let k = 0; k < n; k++) isTest[k] = log.timestamps[k]! >= cutoff ? 1 : 0;
  return buildSplit(log, isTest);
}

/**
 * Per user: sort by (timestamp, item index), the last `ceil(fraction · n)` (at least 1) are
 * test. A user with a single interaction ends up with no train part and so is no test user.
 */
export function userTailSplit(log: InteractionLog, fraction: number): EvalSplit {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`fraction must be in (0, 1), got ${fraction}`);
  const n = log.users.length;
  const byUser = groupByUser(log);
  const isTest = new Uint8Array(n);
  const order: number[] = [];
  for (let u = 0; u < log.userCount; u++) {
    const start = byUser.indptr[u]!;
    const end = byUser.indptr[u + 1]!;
    if (end === start) continue;
    order.length = 0;
    for (let p = start; p < end; p++) order.push(byUser.rows[p]!);
    order.sort((a, b) => log.timestamps[a]! - log.timestamps[b]! || log.items[a]! - log.items[b]! || a - b);
    // The epsilon keeps float error from rounding an exact product up (0.1 · 30 = 3.000…04).
    const testCount = Math.max(1, Math.ceil(fraction * order.length - 1e-9));
    for (let p = order.length - testCount; p < order.length; p++) isTest[order[p]!] = 1;
  }
  return buildSplit(log, isTest);
}

/**
 * How the train matrix's values are made from a user's interactions with an item:
 * - `binary`: 1;
 * - `lines`: the number of interactions (purchase lines);
 * - `log-quantity`: log(1 + total value), e.g. units bought;
 * - `recency`: 0.5^(age / half-life) of the user's latest interaction with the item, where
 *   age is counted back from the last train timestamp of the split (`recencyFrom:
 *   'split-end'`, for a global temporal cutoff) or of that user (`'user-last'`, for per-user
 *   splits). Only train timestamps are read, so no test time leaks in.
 */
export type Weighting = 'binary' | 'lines' | 'log-quantity' | 'recency';

export interface WeightingOptions {
  /** Half-life of the `recency` weighting, in days. @defaultValue 30 */
  halfLifeDays?: number;
  /** Where `recency` counts age from. @defaultValue 'split-end' */
  recencyFrom?: 'split-end' | 'user-last';
}

/**
 * The user × item train matrix in the split's train space (rows = `userOf`, columns =
 * `itemOf`), one entry per (user, item) with the value given by `weighting`.
 */
export function trainMatrix(
  log: InteractionLog,
  split: EvalSplit,
  weighting: Weighting,
  options: WeightingOptions = {},
): Csr {
  const halfLife = (options.halfLifeDays ?? 30) * 86400;
  if (weighting === 'recency' && !(halfLife > 0)) throw new RangeError('halfLifeDays must be > 0');
  const m = split.trainRows.length;
  const rowOf = new Int32Array(m);
  const colOf = new Int32Array(m);
  const perUser = options.recencyFrom === 'user-last';
  const ends = new Float64Array(perUser ? split.userOf.length : 1).fill(-Infinity);
  for (let p = 0; p < m; p++) {
    const k = split.trainRows[p]!;
    const r = split.rowOfUser[log.users[k]!]!;
    rowOf[p] = r;
    colOf[p] = split.colOfItem[log.items[k]!]!;
    const at = perUser ? r : 0;
    ends[at] = Math.max(ends[at]!, log.timestamps[k]!);
  }
  // Order the entries by (row, column) with two stable counting passes, then merge runs.
  const byCol = countingOrder(colOf, split.itemOf.length, null);
  const order = countingOrder(rowOf, split.userOf.length, byCol);
  const rows = split.userOf.length;
  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(m);
  const values = new Float32Array(m);
  let nnz = 0;
  let lastRow = -1;
  let lastCol = -1;
  let acc = 0;
  const flush = () => {
    if (lastRow < 0) return;
    indices[nnz] = lastCol;
    values[nnz] =
      weighting === 'binary'
        ? 1
        : weighting === 'log-quantity'
          ? Math.log1p(acc)
          : weighting === 'recency'
            ? Math.pow(0.5, (ends[perUser ? lastRow : 0]! - acc) / halfLife)
            : acc;
    nnz++;
    indptr[lastRow + 1] = nnz;
  };
  for (let q = 0; q < m; q++) {
    const p = order[q]!;
    const r = rowOf[p]!;
    const c = colOf[p]!;
    const k = split.trainRows[p]!;
    // lines: count; log-quantity: total value; recency: latest timestamp.
    const v =
      weighting === 'log-quantity' ? log.values[k]! : weighting === 'recency' ? log.timestamps[k]! : 1;
    if (r === lastRow && c === lastCol) {
      acc = weighting === 'recency' ? Math.max(acc, v) : acc + v;
      continue;
    }
    flush();
    lastRow = r;
    lastCol = c;
    acc = v;
  }
  flush();
  // Rows without entries carry the previous row's end forward.
  for (let r = 0; r < rows; r++) if (indptr[r + 1]! < indptr[r]!) indptr[r + 1] = indptr[r]!;
  return {
    rows,
    cols: split.itemOf.length,
    indptr,
    indices: indices.slice(0, nnz),
    values: values.slice(0, nnz),
  };
}

/** Stable counting sort of positions by `keys` (visiting `within` order, or 0..n−1). */
function countingOrder(keys: Int32Array, keyCount: number, within: Int32Array | null): Int32Array {
  const n = keys.length;
  const start = new Int32Array(keyCount + 1);
  for (let p = 0; p < n; p++) start[keys[p]! + 1]!++;
  for (let k = 0; k < keyCount; k++) start[k + 1]! += start[k]!;
  const order = new Int32Array(n);
  for (let q = 0; q < n; q++) {
    const p = within ? within[q]! : q;
    order[start[keys[p]!]!++] = p;
  }
  return order;
}

/** A log restricted to the given interaction indices (same user and item indices). */
export function subsetLog(log: InteractionLog, rows: Int32Array): InteractionLog {
  const n = rows.length;
  const out: InteractionLog = {
    userCount: log.userCount,
    itemCount: log.itemCount,
    users: new Int32Array(n),
    items: new Int32Array(n),
    timestamps: new Float64Array(n),
    values: new Float32Array(n),
  };
  for (let p = 0; p < n; p++) {
    const k = rows[p]!;
    out.users[p] = log.users[k]!;
    out.items[p] = log.items[k]!;
    out.timestamps[p] = log.timestamps[k]!;
    out.values[p] = log.values[k]!;
  }
  return out;
}

function buildSplit(log: InteractionLog, isTest: Uint8Array): EvalSplit {
  const n = log.users.length;
  let testCount = 0;
  for (let k = 0; k < n; k++) testCount += isTest[k]!;
  const trainRows = new Int32Array(n - testCount);
  const testRows = new Int32Array(testCount);
  const rowOfUser = new Int32Array(log.userCount).fill(-1);
  const colOfItem = new Int32Array(log.itemCount).fill(-1);
  for (let k = 0, a = 0, b = 0; k < n; k++) {
    if (isTest[k]) testRows[b++] = k;
    else {
      trainRows[a++] = k;
      rowOfUser[log.users[k]!] = 0;
      colOfItem[log.items[k]!] = 0;
    }
  }
  const userOf = denseRenumber(rowOfUser);
  const itemOf = denseRenumber(colOfItem);

  // Each user's train items (as a mark per train column) and test items.
  const byUser = groupByUser(log);
  const seen = new Int32Array(itemOf.length).fill(-1);
  const testUsers: number[] = [];
  const truthIndptr: number[] = [0];
  const truthItems: number[] = [];
  const found: number[] = [];
  for (let row = 0; row < userOf.length; row++) {
    const u = userOf[row]!;
    const start = byUser.indptr[u]!;
    const end = byUser.indptr[u + 1]!;
    for (let p = start; p < end; p++) {
      const k = byUser.rows[p]!;
      if (!isTest[k]) seen[colOfItem[log.items[k]!]!] = row;
    }
    found.length = 0;
    for (let p = start; p < end; p++) {
      const k = byUser.rows[p]!;
      if (!isTest[k]) continue;
      const col = colOfItem[log.items[k]!]!;
      // In train, not the user's own train item, counted once.
      if (col < 0 || seen[col] === row) continue;
      if (seen[col] === -2 - row) continue;
      seen[col] = -2 - row;
      found.push(col);
    }
    if (found.length === 0) continue;
    found.sort((a, b) => a - b);
    testUsers.push(row);
    for (const c of found) truthItems.push(c);
    truthIndptr.push(truthItems.length);
  }
  return {
    trainRows,
    testRows,
    userOf,
    itemOf,
    rowOfUser,
    colOfItem,
    testUsers: Int32Array.from(testUsers),
    truthIndptr: Int32Array.from(truthIndptr),
    truthItems: Int32Array.from(truthItems),
  };
}

/** Turns a map holding 0 (present) / −1 (absent) into dense ids in index order; returns the inverse. */
function denseRenumber(map: Int32Array): Int32Array {
  let count = 0;
  for (let i = 0; i < map.length; i++) if (map[i] === 0) count++;
  const inverse = new Int32Array(count);
  for (let i = 0, next = 0; i < map.length; i++) {
    if (map[i] !== 0) continue;
    inverse[next] = i;
    map[i] = next++;
  }
  return inverse;
}

/** Interaction indices grouped by user (CSR over users), file order within a user. */
function groupByUser(log: InteractionLog): { indptr: Int32Array; rows: Int32Array } {
  const n = log.users.length;
  const indptr = new Int32Array(log.userCount + 1);
  for (let k = 0; k < n; k++) indptr[log.users[k]! + 1]!++;
  for (let u = 0; u < log.userCount; u++) indptr[u + 1]! += indptr[u]!;
  const fill = indptr.slice(0, log.userCount);
  const rows = new Int32Array(n);
  for (let k = 0; k < n; k++) rows[fill[log.users[k]!]!++] = k;
  return { indptr, rows };
}
