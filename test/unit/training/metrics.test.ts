import { describe, expect, it } from 'vitest';
import { coverage, ndcgAtK, rankingMetrics, recallAtK } from '../../../training/metrics.ts';

describe('ranking metrics', () => {
  // Truth {1, 5, 9}; the list hits item 1 at rank 2 and item 5 at rank 4.
  const ranked = [3, 1, 4, 5];
  const truth = [1, 5, 9];

  it('Recall@K divides hits by min(K, |truth|)', () => {
    expect(recallAtK(ranked, truth, 3)).toBeCloseTo(1 / 3, 12);
    expect(recallAtK(ranked, truth, 2)).toBeCloseTo(1 / 2, 12);
    expect(recallAtK(ranked, truth, 4)).toBeCloseTo(2 / 3, 12);
    expect(recallAtK(ranked, [4], 20)).toBe(1);
  });

  it('NDCG@K uses binary gains and an ideal list of min(K, |truth|) hits', () => {
    // K = 3: DCG = 1/log2(3); IDCG = 1 + 1/log2(3) + 1/log2(4).
    expect(ndcgAtK(ranked, truth, 3)).toBeCloseTo(0.6309298 / 2.1309298, 6);
    // K = 2: IDCG has only 2 places.
    expect(ndcgAtK(ranked, truth, 2)).toBeCloseTo(0.6309298 / 1.6309298, 6);
    // K = 4: DCG = 1/log2(3) + 1/log2(5).
    expect(ndcgAtK(ranked, truth, 4)).toBeCloseTo((0.6309298 + 0.4306766) / 2.1309298, 6);
    expect(ndcgAtK([9, 5, 1], truth, 3)).toBeCloseTo(1, 12);
    expect(ndcgAtK([0, 2], truth, 2)).toBe(0);
  });

  it('reads only the first K of a longer list', () => {
    const m = rankingMetrics(Int32Array.from([0, 1, 2]), Uint8Array.from([0, 0, 1]), 1, 2);
    expect(m).toEqual({ hits: 0, recall: 0, ndcg: 0 });
  });

  it('Coverage@K counts distinct listed items over the catalogue', () => {
    expect(
      coverage(
        [
          [0, 1],
          [1, 2],
          [2, 0],
        ],
        10,
      ),
    ).toBeCloseTo(0.3, 12);
    expect(coverage([], 10)).toBe(0);
  });
});
