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
  const relevant = new Uint8Array(n);
  const listed = new Uint8Array(n);
  let listedCount = 0;
  let recallSum = 0;
  let ndcgSum = 0;
  const users = targets.testUsers.length;
  for (let t = 0; t < users; t++) {
    const row = targets.testUsers[t]!;
    const start = train.indptr[row]!;
    const end = train.indptr[row + 1]!;
    const items = train.indices.subarray(start, end);
    model.scoreInto(row, items, train.values.subarray(start, end), scores);
    for (const i of items) excluded[i] = 1;
    const top = topK(scores, k, excluded);
    for (const i of items) excluded[i] = 0;

    const truth = targets.truthItems.subarray(targets.truthIndptr[t]!, targets.truthIndptr[t + 1]!);
    for (const i of truth) relevant[i] = 1;
    const m = rankingMetrics(top.indices, relevant, truth.length, k);
    for (const i of truth) relevant[i] = 0;
    recallSum += m.recall;
    ndcgSum += m.ndcg;
    for (const i of top.indices) {
      if (!listed[i]) {
        listed[i] = 1;
        listedCount++;
      }
    }
  }
  return {
    k,
    users,
    recall: users ? recallSum / users : 0,
    ndcg: users ? ndcgSum / users : 0,
    coverage: n ? listedCount / n : 0,
  };
}
