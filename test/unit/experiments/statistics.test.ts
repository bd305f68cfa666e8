/**
 * The experiment statistics against values computed with an independent tool: Python 3 with
 * scipy 1.17.1 and numpy (`scipy.stats.norm`, `t`, `chi2`, `chisquare`, `ttest_ind(equal_var=False)`,
 * `numpy.cov`), unless a test names another source. The scripts' one-liners are quoted per case.
 */
import { describe, expect, it } from 'vitest';
import {
  chiSquareSf,
  normalQuantile,
  normalSf,
  studentTwoSided,
} from '../../../src/experiments/distributions.ts';
import {
  holm,
  meanEstimate,
  ratioEstimate,
  relativeLift,
  sequentialHalfWidth,
  sequentialPValue,
  srmTest,
  twoProportionZ,
  welchTest,
} from '../../../src/experiments/statistics.ts';

const close = (actual: number, expected: number, rel = 1e-9) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1e-300, Math.abs(expected)));

const f64 = (xs: number[]) => Float64Array.from(xs);

describe('distributions (scipy.stats)', () => {
  it('normal tail and quantile', () => {
    close(normalSf(1.96), 0.024997895148220435); // norm.sf(1.96)
    close(normalSf(-0.5), 0.6914624612740131); // norm.sf(-0.5)
    close(normalSf(6), 9.865876450376946e-10, 1e-7); // norm.sf(6)
    close(normalQuantile(0.975), 1.959963984540054); // norm.ppf(0.975)
    close(normalQuantile(0.9995), 3.2905267314919255); // norm.ppf(0.9995)
    close(normalQuantile(1e-6), -4.753424308822899); // norm.ppf(1e-6)
  });

  it("Student's t, two-sided, fractional degrees of freedom", () => {
    close(studentTwoSided(2.1, 7.3), 0.0722467134248534); // 2*t.sf(2.1, 7.3)
    close(studentTwoSided(0.5, 30), 0.6207230048851272); // 2*t.sf(0.5, 30)
    close(studentTwoSided(-4, 2.5), 0.03901297584131825); // 2*t.sf(4, 2.5)
  });

  it('chi-square tail', () => {
    close(chiSquareSf(10.83, 1), 0.0009986863791802592); // chi2.sf(10.83, 1)
    close(chiSquareSf(5, 3), 0.1717971442967335); // chi2.sf(5, 3)
    close(chiSquareSf(0.2, 2), 0.9048374180359595); // chi2.sf(0.2, 2)
  });
});

describe('estimators and tests', () => {
  // Clicks (x) and impressions (y) per unit of two arms.
  const xT = f64([3, 0, 1, 5, 2, 0, 4, 1, 0, 2]);
  const yT = f64([10, 4, 6, 12, 8, 3, 9, 5, 2, 7]);
  const xC = f64([1, 0, 2, 0, 1, 3, 0, 1]);
  const yC = f64([9, 5, 8, 4, 6, 11, 3, 7]);

  it('a ratio metric by the delta method over units', () => {
    // r = x̄/ȳ; c = numpy.cov(x, y, ddof=1); (c[0,0] − 2r c[0,1] + r² c[1,1]) / (n ȳ²)
    const t = ratioEstimate(xT, yT);
    close(t.value, 0.27272727272727276);
    close(t.variance, 0.002086985558059938);
    const c = ratioEstimate(xC, yC);
    close(c.value, 0.1509433962264151);
    close(c.variance, 0.0015063358350035046);
  });

  it("Welch's t on revenue per unit", () => {
    const revT = meanEstimate(f64([0, 12.5, 0, 30, 0, 0, 8, 0, 0, 20]));
    const revC = meanEstimate(f64([0, 0, 15, 0, 0, 9.5, 0, 0]));
    const w = welchTest(revT, revC); // ttest_ind(revT, revC, equal_var=False)
    close(w.t, 1.0076776704313561);
    close(w.pValue, 0.3302072042781921, 1e-8);
  });

  it('two-proportion z-test (pooled)', () => {
    // p = 215/2000; z = (0.12 − 0.095)/√(p(1−p)(2/1000)); 2*norm.sf(|z|)
    const z = twoProportionZ(120, 1000, 95, 1000);
    close(z.z, 1.8047484035755383);
    close(z.pValue, 0.07111406169644634);
  });

  it('sample-ratio mismatch: Pearson chi-square against the shares', () => {
    const two = srmTest([5100, 4900], [0.5, 0.5]); // chisquare([5100, 4900], [5000, 5000])
    close(two.chi2, 4);
    close(two.pValue, 0.04550026389635857);
    const three = srmTest([3500, 3300, 3200], [1 / 3, 1 / 3, 1 / 3]); // chisquare(…, [10000/3]*3)
    close(three.chi2, 14, 1e-12);
    close(three.pValue, 0.000911881965554517);
    expect(three.pValue).toBeLessThan(0.001);
  });

  it('relative lift and its delta-method variance', () => {
    // GrowthBook gbstats details: Var = σ_T²/μ_C² + μ_T² σ_C²/μ_C⁴ (computed by hand: 0.02152).
    const l = relativeLift({ value: 0.12, variance: 1e-4, n: 100 }, { value: 0.1, variance: 8e-5, n: 100 });
    close(l.value, 0.2, 1e-12);
    close(l.variance, 0.02152, 1e-12);
  });

  it("Holm's step-down adjustment (worked by hand from Holm 1979)", () => {
    // Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 → 0.02, 0.03, 0.06, 0.04 → monotone 0.06.
    const adj = holm([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((p, i) => close(adj[i]!, p, 1e-12));
    expect(holm([0.5, 0.9])).toEqual([1, 1]);
  });

  it('asymptotic confidence sequence (Waudby-Smith et al. 2021)', () => {
    // The margin of the authors' R package (`std_conjmix_margin`, t = 2000, α = 0.05) with GrowthBook's
    // ρ² = (−2 ln α + ln(−2 ln α + 1))/N*, N* = 5000, times s = √(n·Var), Var = 4e-4: 0.06247558183349458.
    const e = { value: 0.1, variance: 4e-4, n: 2000 };
    close(sequentialHalfWidth(e, 0.05, 5000), 0.06247558183349458, 1e-12);
    // Wider than the fixed-horizon 1.96·0.02 at the same look; the always-valid p-value matches:
    // the interval excludes the null exactly when p < α.
    expect(sequentialHalfWidth(e, 0.05, 5000)).toBeGreaterThan(0.0392);
    expect(sequentialPValue({ ...e, value: 0.062 }, 0, 0.05, 5000)).toBeGreaterThan(0.05);
    expect(sequentialPValue({ ...e, value: 0.063 }, 0, 0.05, 5000)).toBeLessThan(0.05);
    // Shrinks as units accrue (per-unit spread fixed).
    const later = { value: 0.1, variance: (4e-4 * 2000) / 20000, n: 20000 };
    expect(sequentialHalfWidth(later, 0.05, 5000)).toBeLessThan(sequentialHalfWidth(e, 0.05, 5000) / 2);
  });
});
