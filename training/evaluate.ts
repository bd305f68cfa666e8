import type { Recommender } from '../models/recommender.ts';
import type { Csr } from '../models/sparse.ts';
import { topK } from '../models/top-k.ts';
import { rankingMetrics } from './metrics.ts';

/** The test users and their truth, in train space (the part of an `EvalSplit` evaluation reads). */
export interface EvalTargets {
  testUsers: Int32Array;
  truthIndptr: Int32Array;
  truthItems: Int32Array;
}

/** Mean metrics over the test users. */
export interface EvalResult {
  k: number;
  /** Number of test users averaged over. */
  users: number;
  recall: number;
  ndcg: number;
  /** Distinct items over all top-K lists / train items. */
  coverage: number;
}

/**
 * Full-catalogue ranking evaluation (/work/shared/EVALUATION.md): for each test user, score
 * every train item from the user's train row, drop the user's own train items, keep the top K
 * (score descending, index ascending) and compare with the truth.
 */
export function evaluateRecommender(
  model: Recommender,
  train: Csr,
  targets: EvalTargets,
  k = 20,
): EvalResult {
  const n = train.cols;
  const scores = new Float32Array(n);
  const excluded = new Uint8Array(n);
  const listed = new Uint8Array(n);
  let listedCount = 0;
  // Models that rank in blocks give every test user's list at once (the same lists).
  const batch = model.recommendBatch?.(targets.testUsers, k, train) ?? null;
  const means = meanRankingMetrics(targets, n, k, (row, t) => {
    if (batch) {
      const top = batch.indices.subarray(t * batch.k, t * batch.k + batch.lengths[t]!);
      for (const i of top) {
        if (!listed[i]) {
          listed[i] = 1;
          listedCount++;
        }
      }
      return top;
    }
    const start = train.indptr[row]!;
    const end = train.indptr[row + 1]!;
    const items = train.indices.subarray(start, end);
    model.scoreInto(row, items, train.values.subarray(start, end), scores);
    for (const i of items) excluded[i] = 1;
    const top = topK(scores, k, excluded);
    for (const i of items) excluded[i] = 0;
    for (const i of top.indices) {
      if (!listed[i]) {
        listed[i] = 1;
        listedCount++;
      }
    }
    return top.indices;
  });
  return {
    k,
    users: means.users,
    recall: means.recall,
    ndcg: means.ndcg,
    coverage: n ? listedCount / n : 0,
  };
}

/** Recall@K and NDCG@K averaged over the test users, with the standard error of the NDCG. */
export interface MeanRankingMetrics {
  users: number;
  recall: number;
  ndcg: number;
  /** Standard error of the mean NDCG (sample standard deviation over users / √users). */
  ndcgSe: number;
  /** Each test user's NDCG, in `testUsers` order (paired comparisons of two rankings). */
  ndcgByUser: Float64Array;
}

/**
 * The per-user metric loop of every offline evaluation: `rank(testUsers[t], t)` returns the
 * user's top-K (indices into a catalogue of `itemCount` items, the space of `truthItems`),
 * which is scored against the user's truth.
 */
export function meanRankingMetrics(
  targets: EvalTargets,
  itemCount: number,
  k: number,
  rank: (row: number, t: number) => ArrayLike<number>,
): MeanRankingMetrics {
  const relevant = new Uint8Array(itemCount);
  const users = targets.testUsers.length;
  let recallSum = 0;
  let ndcgSum = 0;
  let ndcgSquares = 0;
  const ndcgByUser = new Float64Array(users);
  for (let t = 0; t < users; t++) {
    const top = rank(targets.testUsers[t]!, t);
    const truth = targets.truthItems.subarray(targets.truthIndptr[t]!, targets.truthIndptr[t + 1]!);
    for (const i of truth) relevant[i] = 1;
    const m = rankingMetrics(top, relevant, truth.length, k);
    for (const i of truth) relevant[i] = 0;
    recallSum += m.recall;
    ndcgSum += m.ndcg;
    ndcgSquares += m.ndcg * m.ndcg;
    ndcgByUser[t] = m.ndcg;
  }
  const mean = users ? ndcgSum / users : 0;
  const variance = users > 1 ? Math.max(0, (ndcgSquares - users * mean * mean) / (users - 1)) : 0;
  return {
    users,
    recall: users ? recallSum / users : 0,
    ndcg: mean,
    ndcgSe: users ? Math.sqrt(variance / users) : 0,
    ndcgByUser,
  };
}
