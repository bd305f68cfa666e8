/**
 * The cold-start item figure: how well items that no one had touched in train are ranked for
 * the users who go on to meet them. Cold items are the items with at least one test
 * interaction and no train interaction (online-retail: first bought at or after the cutoff;
 * MovieLens: rated only inside users' test tails). Test users are the users with a train row
 * (so that a collaborative user vector exists) and at least one cold item in test; their truth
 * is the distinct cold items they met. Each user ranks ONLY the cold items, and Recall@K and
 * NDCG@K (training/metrics.ts) are averaged over those users.
 */
import type { Rng } from '../models/random.ts';
import { topK } from '../models/top-k.ts';
import type { InteractionLog } from './datasets/interaction-dataset.ts';
import { meanRankingMetrics } from './evaluate.ts';
import type { EvalSplit } from './split.ts';

export interface ColdStartTargets {
  /** Log item index of each cold item, ascending; position p in this array is cold item p. */
  items: Int32Array;
  /** Train rows of the test users, ascending. */
  testUsers: Int32Array;
  /** Truth of `testUsers[t]`: `truthItems[truthIndptr[t] .. truthIndptr[t+1])`, cold positions ascending. */
  truthIndptr: Int32Array;
  truthItems: Int32Array;
  /** Users who met a cold item in test but have no train row (no user vector): left out. */
  usersWithoutTrainRow: number;
}

export interface ColdStartResult {
  k: number;
  /** Cold items ranked. */
  items: number;
  /** Test users averaged over. */
  users: number;
  recall: number;
  ndcg: number;
  /** Standard error of the mean NDCG (sample standard deviation over users / √users). */
  ndcgSe: number;
}

/** Writes a score for every cold item (position order of `ColdStartTargets.items`) for one user. */
export type ColdScorer = (userRow: number, out: Float32Array) => void;

/** The cold items of `split` and the test users who met them (see the module comment). */
export function coldStartTargets(log: InteractionLog, split: EvalSplit): ColdStartTargets {
  const positionOf = new Int32Array(log.itemCount).fill(-1);
  for (const k of split.testRows) {
    const i = log.items[k]!;
    if (split.colOfItem[i] === -1) positionOf[i] = 0;
  }
  const cold: number[] = [];
  for (let i = 0; i < log.itemCount; i++) if (positionOf[i] === 0) positionOf[i] = cold.push(i) - 1;

  // (train row, cold position) pairs, and users without a train row.
  const pairs = new Map<number, Set<number>>();
  const orphans = new Set<number>();
  for (const k of split.testRows) {
    const p = positionOf[log.items[k]!]!;
    if (p < 0) continue;
    const u = log.users[k]!;
    const row = split.rowOfUser[u]!;
    if (row < 0) {
      orphans.add(u);
      continue;
    }
    let set = pairs.get(row);
    if (!set) pairs.set(row, (set = new Set()));
    set.add(p);
  }
  const rows = [...pairs.keys()].sort((a, b) => a - b);
  const truthIndptr = new Int32Array(rows.length + 1);
  const truthItems: number[] = [];
  rows.forEach((row, t) => {
    truthItems.push(...[...pairs.get(row)!].sort((a, b) => a - b));
    truthIndptr[t + 1] = truthItems.length;
  });
  return {
    items: Int32Array.from(cold),
    testUsers: Int32Array.from(rows),
    truthIndptr,
    truthItems: Int32Array.from(truthItems),
    usersWithoutTrainRow: orphans.size,
  };
}

/**
 * Ranks the cold items for every test user by `score` (descending, ties by position) and
 * averages Recall@K and NDCG@K against their truth.
 */
export function evaluateColdStart(targets: ColdStartTargets, score: ColdScorer, k = 20): ColdStartResult {
  const n = targets.items.length;
  const scores = new Float32Array(n);
  const means = meanRankingMetrics(targets, n, k, (row) => {
    score(row, scores);
    return topK(scores, k).indices;
  });
  return { k, items: n, ...means };
}

/**
 * Score = user vector · item vector: `userFactors` is rows × f (train rows), `itemVectors` is
 * cold items × f in position order (e.g. the content encoder's output for each cold item).
 */
export function dotScorer(userFactors: Float32Array, itemVectors: Float32Array, f: number): ColdScorer {
  if (userFactors.length % f !== 0 || itemVectors.length % f !== 0)
    throw new RangeError(`factor arrays are not multiples of ${f}`);
  const rows = userFactors.length / f;
  const n = itemVectors.length / f;
  return (userRow, out) => {
    if (!(userRow >= 0 && userRow < rows)) throw new RangeError(`user row ${userRow} out of range`);
    if (out.length !== n) throw new RangeError(`out has length ${out.length}, expected ${n}`);
    const x = userFactors.subarray(userRow * f, (userRow + 1) * f);
    for (let i = 0, o = 0; i < n; i++, o += f) {
      let s = 0;
      for (let a = 0; a < f; a++) s += x[a]! * itemVectors[o + a]!;
      out[i] = s;
    }
  };
}

/**
 * A fresh seeded random order for every call (a Fisher–Yates shuffle, scores n, n − 1, … down
 * the order): the chance baseline, with neither popularity nor content.
 */
export function randomScorer(rng: Rng): ColdScorer {
  let order = new Int32Array(0);
  return (_userRow, out) => {
    const n = out.length;
    if (order.length !== n) order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    for (let r = 0; r < n; r++) out[order[r]!] = n - r;
  };
}
