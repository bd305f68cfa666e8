/** Ranking metrics of one user's top-K list against their ground truth (binary relevance). */
export interface RankingMetrics {
  hits: number;
  /** hits / min(K, |truth|). */
  recall: number;
  /** DCG of the list / DCG of min(K, |truth|) hits in the first places. */
  ndcg: number;
}

/**
 * Scores `ranked` (best first; only the first `k` are read) against the items marked in
 * `relevant` (`relevant[item] !== 0`), of which there are `truthCount`. A user with empty
 * truth scores 0 (evaluation never includes one).
 */
export function rankingMetrics(
  ranked: ArrayLike<number>,
  relevant: Uint8Array,
  truthCount: number,
  k: number,
): RankingMetrics {
  const depth = Math.min(k, ranked.length);
  let hits = 0;
  let dcg = 0;
  for (let r = 0; r < depth; r++) {
    if (relevant[ranked[r]!]) {
      hits++;
      dcg += 1 / Math.log2(r + 2);
    }
  }
  const ideal = Math.min(k, truthCount);
  if (ideal === 0) return { hits, recall: 0, ndcg: 0 };
  let idcg = 0;
  for (let r = 0; r < ideal; r++) idcg += 1 / Math.log2(r + 2);
  return { hits, recall: hits / ideal, ndcg: dcg / idcg };
}

/** Recall@K of a list against a truth list (convenience over {@link rankingMetrics}). */
export function recallAtK(ranked: ArrayLike<number>, truth: ArrayLike<number>, k: number): number {
  return rankingMetrics(ranked, markOf(ranked, truth), distinctCount(truth), k).recall;
}

/** NDCG@K of a list against a truth list (convenience over {@link rankingMetrics}). */
export function ndcgAtK(ranked: ArrayLike<number>, truth: ArrayLike<number>, k: number): number {
  return rankingMetrics(ranked, markOf(ranked, truth), distinctCount(truth), k).ndcg;
}

/** Coverage = distinct items over all lists / catalogue size. */
export function coverage(lists: Iterable<ArrayLike<number>>, catalogueSize: number): number {
  if (catalogueSize === 0) return 0;
  const seen = new Uint8Array(catalogueSize);
  let distinct = 0;
  for (const list of lists) {
    for (let r = 0; r < list.length; r++) {
      const i = list[r]!;
      if (!seen[i]) {
        seen[i] = 1;
        distinct++;
      }
    }
  }
  return distinct / catalogueSize;
}

function markOf(ranked: ArrayLike<number>, truth: ArrayLike<number>): Uint8Array {
  let size = 0;
  for (let r = 0; r < ranked.length; r++) size = Math.max(size, ranked[r]! + 1);
  for (let r = 0; r < truth.length; r++) size = Math.max(size, truth[r]! + 1);
  const mark = new Uint8Array(size);
  for (let r = 0; r < truth.length; r++) mark[truth[r]!] = 1;
  return mark;
}

function distinctCount(values: ArrayLike<number>): number {
  return new Set(Array.from(values)).size;
}
