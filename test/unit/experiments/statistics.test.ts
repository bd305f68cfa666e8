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
  studentQuantile,
  studentTwoSided,
} from '../../../src/experiments/distributions.ts';
import {
  holm,
  liftTest,
  meanEstimate,
  ratioEstimate,
  sequentialHalfWidth,
  sequentialPValue,
  srmTest,
} from '../../../src/experiments/statistics.ts';
import { createRng } from '../../../models/random.ts';
import { logNormal } from '../../../src/demo/sampling.ts';

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
    close(studentQuantile(0.05, 7.3), 2.345066736547703, 1e-10); // t.ppf(0.975, 7.3)
    close(studentQuantile(0.01, 2.5), 7.163728138948783, 1e-10); // t.ppf(0.995, 2.5)
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

  it('sample-ratio mismatch: Pearson chi-square against the shares', () => {
    const two = srmTest([5100, 4900], [0.5, 0.5]); // chisquare([5100, 4900], [5000, 5000])
    close(two.chi2, 4);
    close(two.pValue, 0.04550026389635857);
    const three = srmTest([3500, 3300, 3200], [1 / 3, 1 / 3, 1 / 3]); // chisquare(…, [10000/3]*3)
    close(three.chi2, 14, 1e-12);
    close(three.pValue, 0.000911881965554517);
    expect(three.pValue).toBeLessThan(0.001);
  });

  it("the lift of a ratio metric: Fieller's interval, the p-value of the difference it inverts", () => {
    // Over the ratios above, q = norm.ppf(0.975): numpy.roots([r_C² − q²Var_C, −2 r_T r_C, r_T² − q²Var_T])
    // minus 1; 2*norm.sf(|r_T − r_C|/√(Var_T + Var_C)).
    const lift = liftTest(ratioEstimate(xT, yT), ratioEstimate(xC, yC), 0.05)!;
    close(lift.lift, 0.8068181818181821);
    close(lift.ci[0], 0.02142241914012022, 1e-8);
    close(lift.ci[1], 2.822427217469361, 1e-9);
    close(lift.pValue, 0.0421924802406994, 1e-9);
    close(lift.scale.variance, 0.003593321393063443);
    // Asymmetric about the lift, as a ratio is; never below −100% however wide.
    expect(lift.ci[1] - lift.lift).toBeGreaterThan(lift.lift - lift.ci[0]);
    const wide = liftTest(
      { value: 0.01, variance: 1e-4, n: 20 },
      { value: 0.02, variance: 1e-4, n: 20 },
      0.05,
    )!;
    expect(wide.ci[0]).toBe(-1);
    expect(wide.ci[1]).toBeLessThan(Infinity);
    // A control mean not told from 0 (0.01² < 1.96²·1e-4): no upper bound.
    const unbounded = liftTest(
      { value: 0.01, variance: 1e-4, n: 20 },
      { value: 0.01, variance: 1e-4, n: 20 },
      0.05,
    )!;
    expect(unbounded.ci).toEqual([-1, Infinity]);
  });

  it("the lift of revenue per unit: Student's t with Welch–Satterthwaite df, Fieller's interval", () => {
    // df = (V_T+V_C)²/(V_T²/(n_T−1) + V_C²/(n_C−1)), V = s²/n; q = t.ppf(0.975, df);
    // 2*t.sf(|μ_T − μ_C|/√(V_T+V_C), df); the interval's roots by numpy.roots as above.
    const revT = meanEstimate(f64([0, 12.5, 0, 30, 0, 0, 8, 0, 0, 20]));
    const lift = liftTest(revT, meanEstimate(f64([10, 0, 15, 12, 0, 9.5, 8, 0])), 0.05, true)!;
    close(lift.lift, 0.034862385321100975);
    expect(lift.ci[0]).toBe(-1); // the lower root, −1.0228, floored
    close(lift.ci[1], 2.735862173880128, 1e-8);
    close(lift.pValue, 0.9532667721458581, 1e-8);
    // Two purchases in 8 control units: its mean cannot be told from 0, the ratio has no upper bound.
    const thin = liftTest(revT, meanEstimate(f64([0, 0, 15, 0, 0, 9.5, 0, 0])), 0.05, true)!;
    expect(thin.ci).toEqual([-1, Infinity]);
    close(thin.pValue, 0.3302072042781921, 1e-8);
  });

  it('one outlying purchase does not make a lift significant that the difference of the means does not support', () => {
    // 1,000 units an arm, 100 purchases of 50 each, and in the treatment one more unit buying for 1e9.
    // On ln(μ_T/μ_C) (the delta method, Welch) this read p = 8.0e-32; the difference: 2*t.sf(…, df).
    const arm = (outlier: boolean) =>
      meanEstimate(
        f64([...(outlier ? [1e9] : []), ...Array(100).fill(50), ...Array(outlier ? 899 : 900).fill(0)]),
      );
    const lift = liftTest(arm(true), arm(false), 0.05, true)!;
    close(lift.lift, 200000, 1e-9);
    close(lift.pValue, 0.31755265775560365, 1e-8);
    expect(lift.ci[0]).toBe(-1);
    close(lift.ci[1], 608505.8630532776, 1e-7);
  });

  it('never rejects much more than α of A/A comparisons of revenue, however skewed; about α when it is not', () => {
    // 2,000 seeded A/A pairs each: `n` units an arm, a share `buy` of them buying for a log-normal
    // amount (median 40, spread σ). The test of ln(μ_T/μ_C) it replaced rejected 8.4% (n 300,
    // σ 1.2) and 26% (n 100, σ 2) of them; this one 3.5% and 1.1%.
    const rejected = (seed: number, n: number, buy: number, sigma: number) => {
      const rng = createRng(seed);
      const arm = () =>
        meanEstimate(
          f64(Array.from({ length: n }, () => (rng.next() < buy ? logNormal(rng, 40, sigma) : 0))),
        );
      let k = 0;
      for (let i = 0; i < 2000; i++) {
        const x = liftTest(arm(), arm(), 0.05, true)!;
        if (x.pValue < 0.05) k++;
        expect(x.pValue < 0.05).toBe(x.ci[0] > 0 || x.ci[1] < 0);
      }
      return k / 2000;
    };
    // Binomial(2000, 0.05): sd 0.0049; α + 3 sd.
    expect(rejected(39, 300, 0.08, 1.2)).toBeLessThan(0.065);
    expect(rejected(39, 100, 0.08, 2)).toBeLessThan(0.065);
    const plain = rejected(39, 300, 0.3, 0.5);
    expect(plain).toBeGreaterThan(0.035);
    expect(plain).toBeLessThan(0.065);
  });

  it('the interval leaves 0 out exactly when p < α; a zero mean is tested on the difference, a zero control leaves no lift but a test', () => {
    // 120/1000 vs 95/1000 as means of 0/1 units: Fieller's roots as above, 2*norm.sf(|μ_T − μ_C|/se).
    const conv = (k: number, n: number) => meanEstimate(f64([...Array(k).fill(1), ...Array(n - k).fill(0)]));
    const near = liftTest(conv(120, 1000), conv(95, 1000), 0.05)!;
    close(near.ci[0], -0.019993466974857044, 1e-8);
    close(near.ci[1], 0.6423710960276554, 1e-9);
    close(near.pValue, 0.07102517938559963, 1e-8);
    for (let k = 100; k <= 140; k++) {
      const x = liftTest(conv(k, 1000), conv(95, 1000), 0.05)!;
      expect(x.pValue < 0.05).toBe(x.ci[0] > 0 || x.ci[1] < 0);
    }
    // No treatment conversions, so no treatment variance: Fieller's set is the ratio 0 alone.
    const zero = liftTest(conv(0, 5), conv(4, 6), 0.05)!;
    expect(zero.lift).toBe(-1);
    expect(zero.ci).toEqual([-1, -1]);
    close(zero.pValue, 0.001565402258002548, 1e-8);
    // Its always-valid interval (a wider h) is floored alike.
    expect(zero.around(10)[0]).toBe(-1);
    // No control conversions: no lift and no interval, but the difference is tested:
    // 2*norm.sf(0.6/√(s_T²/5)) with s_T² = 0.3.
    const none = liftTest(conv(3, 5), conv(0, 6), 0.05)!;
    expect(none.lift).toBeNaN();
    expect(none.ci).toEqual([NaN, NaN]);
    close(none.pValue, 0.014305878435429648, 1e-9);
    expect(liftTest(conv(1, 1), conv(2, 6), 0.05)).toBeNull();
    // A variance past the largest double (revenue of 1e300 a unit): no test, not p = 1.
    expect(liftTest({ value: 1e300, variance: Infinity, n: 9 }, conv(4, 6), 0.05)).toBeNull();
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
