/**
 * The estimators and tests of experiment results (../shared/EXPERIMENTS.md): sample moments over
 * randomisation units, the delta method for ratio metrics (GrowthBook gbstats
 * `docs/statistics/details.mdx`), Fieller's interval for a relative lift, Pearson's chi-square for
 * sample-ratio mismatch, Holm's step-down adjustment, and asymptotic confidence sequences
 * (Waudby-Smith et al. 2021, arXiv 2103.06476, as in GrowthBook's frequentist engine).
 */
import { chiSquareSf, normalQuantile, normalSf, studentQuantile, studentTwoSided } from './distributions.ts';

/** A mean over units and the variance of that mean (not of one unit). */
export interface Estimate {
  value: number;
  /** Variance of `value` as an estimator. */
  variance: number;
  /** Units it is computed over. */
  n: number;
}

/** Sample mean and unbiased variance (n − 1) of `x`; variance 0 below two units. */
export function moments(x: Float64Array): { mean: number; variance: number } {
  const n = x.length;
  if (n === 0) return { mean: 0, variance: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i]!;
  const mean = sum / n;
  if (n < 2) return { mean, variance: 0 };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i]! - mean) ** 2;
  return { mean, variance: ss / (n - 1) };
}

/** The mean of `x` per unit as an estimate: variance s²/n. */
export function meanEstimate(x: Float64Array): Estimate {
  const { mean, variance } = moments(x);
  return { value: mean, variance: x.length ? variance / x.length : 0, n: x.length };
}

/**
 * R = Σx / Σy over units (e.g. clicks ÷ impressions), its variance by the delta method:
 * Var(R) ≈ (σ_x² − 2Rσ_xy + R²σ_y²) / (n μ_y²), sample (co)variances over units.
 */
export function ratioEstimate(x: Float64Array, y: Float64Array): Estimate {
  if (x.length !== y.length) throw new RangeError('ratioEstimate: x and y differ in length');
  const n = x.length;
  const mx = moments(x);
  const my = moments(y);
  if (n === 0 || my.mean === 0) return { value: 0, variance: 0, n };
  const r = mx.mean / my.mean;
  let cov = 0;
  if (n > 1) {
    for (let i = 0; i < n; i++) cov += (x[i]! - mx.mean) * (y[i]! - my.mean);
    cov /= n - 1;
  }
  const variance = Math.max(0, (mx.variance - 2 * r * cov + r * r * my.variance) / (n * my.mean ** 2));
  return { value: r, variance, n };
}

/** The two-sided normal interval value ± z_{1−α/2}·√variance. */
export function normalInterval(e: Estimate, alpha: number): [number, number] {
  const h = normalQuantile(1 - alpha / 2) * Math.sqrt(e.variance);
  return [e.value - h, e.value + h];
}

/**
 * Wilson's score interval for a proportion of `successes` in `n` (n ≥ 1): within [0, 1] by
 * construction, and wide where the normal one collapses (0 of n read [0, 0] at any n).
 */
export function wilsonInterval(successes: number, n: number, alpha: number): [number, number] {
  const z = normalQuantile(1 - alpha / 2);
  const p = successes / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, centre - h), Math.min(1, centre + h)];
}

/** A relative lift with its interval and p-value, both from one statistic (`liftTest`). */
export interface LiftTest {
  /** μ_T/μ_C − 1; NaN when the control's mean is 0. */
  lift: number;
  /**
   * Fieller's interval for the lift; NaN, NaN when the control's mean is 0 (a ratio over 0 has
   * no interval); an unbounded end is ±Infinity.
   */
  ci: [number, number];
  pValue: number;
  /** The statistic's estimate: μ_T − μ_C, variance Var_T + Var_C. */
  scale: Estimate;
  /** Fieller's interval for `scale.value ± h` (the sequential one is made with its own h). */
  around: (h: number) => [number, number];
}

/**
 * The relative lift μ_T/μ_C − 1 of `t` over `c`, with its 1 − α interval and two-sided p-value
 * made from one statistic, the difference μ_T − μ_C over √(Var_T + Var_C), so that p < α exactly
 * when the interval leaves 0 out. The interval is Fieller's: the ratios ρ the test would not
 * reject as μ_T = ρ·μ_C, (μ_T − ρμ_C)² ≤ q²(Var_T + ρ²Var_C), minus 1. It is as asymmetric as a
 * ratio's, never below −100% for means never below 0, and unbounded above when the control's
 * mean cannot be told from 0. Replaced the interval on ln(μ_T/μ_C) (delta-method variance
 * Var_T/μ_T² + Var_C/μ_C²): when one unit carries a mean, its relative variance stays near 1
 * however large that unit, so one purchase of 1e9 among 1,000 units gave a revenue lift with
 * p = 8e-32 that the difference of the means does not support (p = 0.32), and 8–26% of A/A
 * comparisons of skewed revenue came out significant at α = 0.05 (the tests); the delta-method
 * interval on the lift itself (GrowthBook's gbstats) went down to −152% on 14 units a variant. A control mean of 0
 * (or below) leaves no lift and no interval, but the difference is still tested (0 clicks in
 * 112 units against 22 in 88 is no tie). `welch`: Student's t with Welch–Satterthwaite degrees
 * of freedom instead of the normal (means of skewed values, as revenue). Null without two units
 * an arm, with a mean or variance not finite, or with nothing to compare (both means 0, no
 * variance).
 */
export function liftTest(t: Estimate, c: Estimate, alpha: number, welch = false): LiftTest | null {
  const finite = [t.value, t.variance, c.value, c.variance].every(Number.isFinite);
  if (t.n < 2 || c.n < 2 || !finite) return null;
  const ratio = c.value > 0;
  const lift = ratio ? t.value / c.value - 1 : NaN;
  const value = t.value - c.value;
  const scale: Estimate = { value, variance: t.variance + c.variance, n: t.n + c.n };
  const se = Math.sqrt(scale.variance);
  // A lift of values never below 0 is never below −100%.
  const floor = t.value >= 0 ? 0 : -Infinity;
  const around = (h: number): [number, number] => {
    if (!ratio) return [NaN, NaN];
    // The critical value h stands for: the same test, at the level h was made for.
    const q2 = se > 0 ? (h / se) ** 2 : 0;
    const [lo, hi] = fieller(t.value, t.variance, c.value, c.variance, q2, floor);
    return [lo - 1, hi - 1];
  };
  // Nothing varies: a tie on a ratio; with no control mean either, nothing was measured.
  if (!(se > 0)) return ratio ? { lift, ci: around(0), pValue: 1, scale, around } : null;
  const df = welch
    ? scale.variance ** 2 / (t.variance ** 2 / (t.n - 1) + c.variance ** 2 / (c.n - 1))
    : Infinity;
  const q = welch ? studentQuantile(alpha, df) : normalQuantile(1 - alpha / 2);
  const stat = value / se;
  return {
    lift,
    ci: around(q * se),
    pValue: welch ? studentTwoSided(stat, df) : 2 * normalSf(Math.abs(stat)),
    scale,
    around,
  };
}

/**
 * Fieller's set for ρ = μ_T/μ_C (μ_C > 0), {ρ ≥ floor : (μ_T − ρμ_C)² ≤ q²(V_T + ρ²V_C)}, as
 * [lo, hi] (ends may be ±Infinity). The set is where Aρ² + Bρ + C ≤ 0, A = μ_C² − q²V_C,
 * B = −2μ_Tμ_C, C = μ_T² − q²V_T. It always holds μ_T/μ_C. A > 0: between the roots. A ≤ 0 (the
 * control's mean not told from 0): outside them, or everywhere; cut at `floor` 0, a ratio of
 * means never below 0 leaves one piece (both roots are then of one sign, or of opposite signs
 * with the upper piece kept); with no floor the hull of the two pieces is the whole line.
 */
function fieller(
  mt: number,
  vt: number,
  mc: number,
  vc: number,
  q2: number,
  floor: number,
): [number, number] {
  const a = mc * mc - q2 * vc;
  const half = mt * mc; // −B/2
  const c = mt * mt - q2 * vt;
  const d = half * half - a * c; // (B² − 4AC)/4, never below 0 when A > 0
  const root = Math.sqrt(Math.max(0, d));
  if (a > 0) return [Math.max(floor, (half - root) / a), (half + root) / a];
  if (a === 0) {
    // Linear: −2·half·ρ + C ≤ 0.
    if (half === 0) return [floor, Infinity];
    const edge = c / (2 * half);
    return half > 0 ? [Math.max(floor, edge), Infinity] : [floor, edge];
  }
  if (d <= 0 || floor === -Infinity) return [floor, Infinity];
  // A < 0: (−∞, small] ∪ [big, ∞); with the floor at 0 the piece above it.
  const r1 = (half - root) / a;
  const r2 = (half + root) / a;
  const [small, big] = r1 < r2 ? [r1, r2] : [r2, r1];
  return small >= floor ? [floor, Infinity] : [Math.max(floor, big), Infinity];
}

/** Pearson's chi-square of `observed` counts against `shares` (summing to 1): statistic and p. */
export function srmTest(
  observed: readonly number[],
  shares: readonly number[],
): { chi2: number; pValue: number } {
  const total = observed.reduce((a, b) => a + b, 0);
  let chi2 = 0;
  for (let i = 0; i < observed.length; i++) {
    const expected = total * shares[i]!;
    if (expected > 0) chi2 += (observed[i]! - expected) ** 2 / expected;
  }
  return { chi2, pValue: chiSquareSf(chi2, observed.length - 1) };
}

/** Holm–Bonferroni step-down adjusted p-values, in the input's order. */
export function holm(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, k) => {
    running = Math.max(running, Math.min(1, (m - k) * p));
    out[i] = running;
  });
  return out;
}

/** ρ of the asymptotic confidence sequence tuned to be tightest at `nStar` units. */
export function sequentialRho(alpha: number, nStar: number): number {
  const l = -2 * Math.log(alpha);
  return Math.sqrt((l + Math.log(l + 1)) / nStar);
}

/**
 * Half-width of the asymptotic confidence sequence (Waudby-Smith et al. 2021, Theorem 2.2, as in
 * GrowthBook): s·√(2(nρ² + 1)/(nρ)² · ln(√(nρ² + 1)/α)), with `n` the units behind the estimate
 * and s² = n × its variance. Valid at every look, so the interval may be read daily.
 */
export function sequentialHalfWidth(e: Estimate, alpha: number, nStar: number): number {
  const n = e.n;
  if (n <= 0 || !(e.variance >= 0)) return NaN;
  const rho = sequentialRho(alpha, nStar);
  const s = Math.sqrt(n * e.variance);
  const nr2 = n * rho * rho;
  // (nρ)² = n·nρ².
  return s * Math.sqrt(((2 * (nr2 + 1)) / (n * nr2)) * Math.log(Math.sqrt(nr2 + 1) / alpha));
}

/**
 * The always-valid p-value matching `sequentialHalfWidth` for H0: value = `nullValue`:
 * min(1, 1/e) with log e = ρ²n z²/(2(nρ² + 1)) − ½ ln(nρ² + 1), z² = (value − null)²/variance.
 */
export function sequentialPValue(e: Estimate, nullValue: number, alpha: number, nStar: number): number {
  if (!(e.variance > 0) || e.n <= 0) return 1;
  const rho = sequentialRho(alpha, nStar);
  const nr2 = e.n * rho * rho;
  const z2 = (e.value - nullValue) ** 2 / e.variance;
  const logE = (nr2 * z2) / (2 * (nr2 + 1)) - 0.5 * Math.log(nr2 + 1);
  return Math.min(1, Math.exp(-logE));
}
