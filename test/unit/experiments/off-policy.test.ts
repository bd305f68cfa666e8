/**
 * Off-policy estimators on hand-computed fixtures (worked by hand below, each step shown), the
 * bootstrap's seeded repeatability and its interval around the estimate, and bad propensities
 * refused by name.
 */
import { describe, expect, it } from 'vitest';
import { bootstrap, itemPositionEstimates, listEstimates } from '../../../src/experiments/off-policy.ts';

describe('off-policy estimators', () => {
  it('IPS and SNIPS at list level: known values', () => {
    // w = [2, 0, 4], w·r = [2, 0, 8]: IPS = 10/3, SNIPS = 10/6.
    const rounds = [
      { reward: 1, target: 1, logging: 0.5 },
      { reward: 3, target: 0, logging: 0.5 },
      { reward: 2, target: 1, logging: 0.25 },
    ];
    const { ips, snips } = listEstimates(rounds, { resamples: 500 });
    expect(ips.value).toBeCloseTo(10 / 3, 12);
    expect(snips.value).toBeCloseTo(10 / 6, 12);
    expect(ips.n).toBe(3);
    expect(ips.ci95[0]).toBeLessThanOrEqual(ips.value);
    expect(ips.ci95[1]).toBeGreaterThanOrEqual(ips.value);
    // Seeded: the same interval again.
    expect(listEstimates(rounds, { resamples: 500 }).ips.ci95).toEqual(ips.ci95);
  });

  it('item-position: each position weighted by its own ratio', () => {
    // Position 0: w = [1/0.5, 1/1] = [2, 1], r = [1, 0] → Σwr = 2, Σw = 3.
    // Position 1: w = [0, 1/0.25] = [0, 4], r = [1, 1] → Σwr = 4, Σw = 4.
    // IPS = (2 + 4) / 2 rounds = 3; SNIPS = 2/3 + 4/4 = 5/3.
    const rounds = [
      [
        { reward: 1, target: 1, logging: 0.5 },
        { reward: 1, target: 0, logging: 0.5 },
      ],
      [
        { reward: 0, target: 1, logging: 1 },
        { reward: 1, target: 1, logging: 0.25 },
      ],
    ];
    const { ips, snips } = itemPositionEstimates(rounds, { resamples: 200 });
    expect(ips.value).toBeCloseTo(3, 12);
    expect(snips.value).toBeCloseTo(5 / 3, 12);
  });

  it('bootstraps the mean of a known sample near its normal interval, and refuses bad propensities', () => {
    const x = Float64Array.from({ length: 400 }, (_, i) => (i % 4 === 0 ? 1 : 0)); // mean 0.25
    const mean = (idx: Int32Array) => idx.reduce((a, i) => a + x[i]!, 0) / idx.length;
    const [lo, hi] = bootstrap(x.length, mean, { resamples: 2000, seed: 3 });
    const half = 1.96 * Math.sqrt((0.25 * 0.75) / 400); // 0.0424
    expect(lo).toBeCloseTo(0.25 - half, 1);
    expect(hi).toBeCloseTo(0.25 + half, 1);
    expect(Math.abs(hi - lo - 2 * half)).toBeLessThan(0.012);
    expect(() => listEstimates([{ reward: 1, target: 1, logging: 0 }])).toThrow(
      /rounds\[0\]: logging propensity must lie in \(0, 1\]/,
    );
    expect(() => itemPositionEstimates([[{ reward: 1, target: 2, logging: 1 }]])).toThrow(
      /rounds\[0\]\[0\]: target probability/,
    );
  });
});
