/**
 * An experiment's results (`GET /v1/admin/experiments/:id/results`), the unit of analysis being
 * the randomisation unit: each unit's impressions (lists), attributed clicks, purchases and
 * revenue, summed over days from the feedback aggregates of its variant's configuration. Per
 * variant CTR (a ratio metric, delta method over units), conversion (converting units ÷ units)
 * and revenue per unit, each with a 95% interval; per treatment and metric the relative lift over
 * the control (the first variant) with Fieller's interval and the p-value of the statistic it
 * inverts (Holm-adjusted beside it when there are several treatments) and an always-valid
 * confidence sequence; a sample-ratio-mismatch check; CUPED (Deng et al. 2013) for conversion
 * and revenue per unit when pre-exposure data are given. Every number says its method.
 */
import type { Experiment, UnitTotals } from '../store/types.ts';
import { variantConfigName } from './experiment-definition.ts';
import type { Estimate } from './statistics.ts';
import {
  holm,
  meanEstimate,
  normalInterval,
  ratioEstimate,
  liftTest,
  sequentialHalfWidth,
  sequentialPValue,
  srmTest,
  wilsonInterval,
} from './statistics.ts';

export interface ResultsOptions {
  /**
   * The combined units (both arms) at which the confidence sequence is tightest.
   * @defaultValue 5000 (GrowthBook's default)
   */
  nStar?: number;
  /**
   * Each unit's purchases and revenue before exposure, by visitor key (`u:…`, `s:…`): CUPED's
   * covariate; a unit absent from it counts 0. Absent: no CUPED.
   */
  pre?: ReadonlyMap<string, { purchases: number; revenue: number }>;
}

/** A lift after CUPED: the metric less θ·(pre-period value − its pooled mean). */
export interface CupedComparison {
  lift: number | null;
  liftCi95: [number | null, number | null];
  /** The lift's test (`liftTest`) on the adjusted values. */
  pValue: number | null;
  theta: number;
  /** 1 − the variance of the adjusted means' difference ÷ the unadjusted one's. */
  varianceReduction: number | null;
}

export const ALPHA = 0.05;
/** GrowthBook's and Eppo's threshold: the check runs at every look, so it must rarely cry wolf. */
export const SRM_THRESHOLD = 0.001;
/** Below this many units in a variant the SRM check is not run (GrowthBook). */
export const SRM_MIN_UNITS = 8;
export const DEFAULT_N_STAR = 5000;

export const METRICS = ['ctr', 'conversion', 'revenuePerUnit'] as const;
export type MetricName = (typeof METRICS)[number];
/**
 * Where a CTR and revenue per unit can lie, their normal intervals clipped to it (revenue goes
 * below 0 with returns); a conversion's Wilson interval is within [0, 1] by construction.
 */
const RANGES: Record<Exclude<MetricName, 'conversion'>, [number, number]> = {
  ctr: [0, Infinity],
  revenuePerUnit: [-Infinity, Infinity],
};

export interface MetricValue {
  value: number | null;
  ci95: [number | null, number | null];
}

export interface VariantResult {
  name: string;
  share: number;
  units: number;
  impressions: number;
  clicks: number;
  purchases: number;
  revenue: number;
  /** Units with at least one attributed purchase. */
  convertingUnits: number;
  metrics: Record<MetricName, MetricValue>;
}

export interface Comparison {
  variant: string;
  metric: MetricName;
  /** μ_variant / μ_control − 1. */
  lift: number | null;
  liftCi95: [number | null, number | null];
  /**
   * Fixed horizon, two-sided: valid at one pre-planned look. From the interval's own statistic:
   * below α exactly when `liftCi95` leaves 0 out.
   */
  pValue: number | null;
  /** `pValue` after Holm's step-down adjustment over the treatments of this metric. */
  pValueHolm: number | null;
  /** Always valid: may be read at every look. */
  sequentialCi95: [number | null, number | null];
  sequentialPValue: number | null;
  /** Conversion and revenue per unit with pre-exposure data; else null. */
  cuped: CupedComparison | null;
}

export interface ExperimentResults {
  id: string;
  state: string;
  control: string;
  alpha: number;
  /** What each number is. */
  methods: Record<string, string>;
  /** Units seen under more than one variant, left out of every number. */
  multipleExposures: number;
  variants: VariantResult[];
  comparisons: Comparison[];
  srm: { pValue: number | null; flagged: boolean; chi2: number | null; threshold: number };
}

const num = (x: number): number | null => (Number.isFinite(x) ? x : null);
const pair = (a: number, b: number): [number | null, number | null] => [num(a), num(b)];

interface Arm {
  impressions: Float64Array;
  clicks: Float64Array;
  converted: Float64Array;
  revenue: Float64Array;
  purchases: number;
  /** Pre-exposure conversion (0/1) and revenue per unit (0 without data). */
  preConverted: Float64Array;
  preRevenue: Float64Array;
}

/**
 * Whether a visitor key names someone: the lists of no visitor (an erased user's, recorded
 * anonymous, while the experiment still routed them by the id they were asked for) sum under a
 * key with no id, which is no unit — it was one control unit gathering each such list.
 */
const identified = (visitor: string) => visitor.length > 2;

/**
 * Per-unit arrays of each variant. A unit seen under two variants (a session-unit experiment
 * whose user signed in on two sessions: aggregates key visitors by user when known) is left out,
 * as GrowthBook drops multiple exposures: it would count in both arms.
 */
function armsOf(
  e: Experiment,
  rows: readonly UnitTotals[],
  pre: ResultsOptions['pre'],
): { arms: Arm[]; multipleExposures: number } {
  const index = new Map(e.variants.map((v, i) => [variantConfigName(e.id, v.name), i]));
  const seen = new Map<string, number>();
  for (const r of rows)
    if (index.has(r.config) && identified(r.visitor)) seen.set(r.visitor, (seen.get(r.visitor) ?? 0) + 1);
  const counts = new Int32Array(e.variants.length);
  let multipleExposures = 0;
  for (const n of seen.values()) if (n > 1) multipleExposures++;
  for (const r of rows) {
    const i = index.get(r.config);
    if (i !== undefined && seen.get(r.visitor) === 1) counts[i]!++;
  }
  const arms: Arm[] = e.variants.map((_, i) => ({
    impressions: new Float64Array(counts[i]!),
    clicks: new Float64Array(counts[i]!),
    converted: new Float64Array(counts[i]!),
    revenue: new Float64Array(counts[i]!),
    purchases: 0,
    preConverted: new Float64Array(counts[i]!),
    preRevenue: new Float64Array(counts[i]!),
  }));
  const at = new Int32Array(e.variants.length);
  for (const r of rows) {
    const i = index.get(r.config);
    if (i === undefined || seen.get(r.visitor) !== 1) continue;
    const a = arms[i]!;
    const k = at[i]!++;
    a.impressions[k] = r.impressions;
    a.clicks[k] = r.clicks;
    a.converted[k] = r.purchases > 0 ? 1 : 0;
    a.revenue[k] = r.revenue;
    a.purchases += r.purchases;
    const p = pre?.get(r.visitor);
    if (p) {
      a.preConverted[k] = p.purchases > 0 ? 1 : 0;
      a.preRevenue[k] = p.revenue;
    }
  }
  return { arms, multipleExposures };
}

const sum = (x: Float64Array) => x.reduce((a, b) => a + b, 0);

export function experimentResults(
  e: Experiment,
  rows: readonly UnitTotals[],
  options: ResultsOptions = {},
): ExperimentResults {
  const nStar = options.nStar ?? DEFAULT_N_STAR;
  const { arms, multipleExposures } = armsOf(e, rows, options.pre);
  const estimates = arms.map((a): Record<MetricName, Estimate> => ({
    ctr: ratioEstimate(a.clicks, a.impressions),
    conversion: meanEstimate(a.converted),
    revenuePerUnit: meanEstimate(a.revenue),
  }));
  const variants = e.variants.map((v, i): VariantResult => {
    const a = arms[i]!;
    const converting = sum(a.converted);
    const metrics = Object.fromEntries(
      METRICS.map((m) => {
        const est = estimates[i]![m];
        // A conversion's interval is Wilson's (0 converters of 50 read [0, 0] as normal); the
        // others' need two units for a variance (one unit read CTR 0 [0, 0]).
        if (m === 'conversion')
          return [
            m,
            est.n
              ? { value: num(est.value), ci95: wilsonInterval(converting, est.n, ALPHA) }
              : { value: null, ci95: [null, null] },
          ];
        if (est.n < 2) return [m, { value: est.n ? num(est.value) : null, ci95: [null, null] }];
        const [lo, hi] = normalInterval(est, ALPHA);
        // A rate is never below 0: the normal interval is clipped (a variant with few clicks
        // read [-0.024, 0.871] as its CTR).
        const [min, max] = RANGES[m];
        return [m, { value: num(est.value), ci95: pair(Math.max(min, lo), Math.min(max, hi)) }];
      }),
    ) as Record<MetricName, MetricValue>;
    return {
      name: v.name,
      share: v.share,
      units: a.revenue.length,
      impressions: sum(a.impressions),
      clicks: sum(a.clicks),
      purchases: a.purchases,
      revenue: sum(a.revenue),
      convertingUnits: converting,
      metrics,
    };
  });

  const comparisons: Comparison[] = [];
  for (const m of METRICS) {
    const c = estimates[0]![m];
    const start = comparisons.length;
    for (let i = 1; i < e.variants.length; i++) {
      // Student's t with Welch's df for the means of skewed per-unit values (CTR, revenue): with
      // the normal, 7–8% of A/A CTR comparisons of 10–20 units a variant came out significant at
      // α = 0.05 (4.5–7% with t). A conversion's 0/1 units are not skewed that way: the normal
      // stays at or below α there.
      const test = liftTest(estimates[i]![m], c, ALPHA, m !== 'conversion');
      const h = test ? sequentialHalfWidth(test.scale, ALPHA, nStar) : NaN;
      comparisons.push({
        variant: e.variants[i]!.name,
        metric: m,
        lift: test ? num(test.lift) : null,
        liftCi95: test ? pair(test.ci[0], test.ci[1]) : [null, null],
        pValue: test ? num(test.pValue) : null,
        pValueHolm: null,
        sequentialCi95: test ? pair(...test.around(h)) : [null, null],
        sequentialPValue: test ? num(sequentialPValue(test.scale, 0, ALPHA, nStar)) : null,
        cuped: null,
      });
    }
    if (options.pre && m !== 'ctr') cuped(arms, m, comparisons.slice(start));
    const mine = comparisons.slice(start);
    const valid = mine.filter((x) => x.pValue !== null);
    const adjusted = holm(valid.map((x) => x.pValue!));
    valid.forEach((x, k) => (x.pValueHolm = adjusted[k]!));
  }

  const units = variants.map((v) => v.units);
  const srmRun = units.every((n) => n >= SRM_MIN_UNITS);
  const srm = srmRun
    ? srmTest(
        units,
        e.variants.map((v) => v.share),
      )
    : null;
  return {
    id: e.id,
    state: e.state,
    control: e.variants[0]!.name,
    alpha: ALPHA,
    multipleExposures,
    methods: {
      unit: `the randomisation unit (${e.unit}); per-unit sums of impressions (lists), attributed clicks, purchases and revenue from the feedback aggregates`,
      ctr: 'Σ clicks ÷ Σ impressions over the variant’s units; variance by the delta method over units; normal 95% interval, clipped at 0 (none below 2 units)',
      conversion:
        'converting units ÷ units; Wilson score 95% interval; in comparisons, variance s²/n of the 0/1 units (s² with n − 1: p(1 − p)·n/(n − 1))',
      revenuePerUnit: 'mean revenue per unit; variance s²/n; normal 95% interval (none below 2 units)',
      lift: 'relative lift μ_variant/μ_control − 1; 95% interval by Fieller’s theorem: the ratios ρ that the test of μ_variant = ρ·μ_control does not reject, (μ_v − ρμ_c)² ≤ q²(Var_v + ρ²Var_c), minus 1 (asymmetric, never below −100% for values never below 0, unbounded above — null — when the control’s mean cannot be told from 0); when the control’s mean is 0, no lift and no interval; q normal for conversion, Student’s t with Welch–Satterthwaite df for ctr and revenuePerUnit (fixed horizon)',
      pValue:
        'two-sided, fixed horizon, α = 0.05, of the difference μ_variant − μ_control over √(Var_v + Var_c), the statistic Fieller’s interval inverts: p < 0.05 exactly when the lift’s interval leaves 0 out',
      pValueHolm: 'Holm–Bonferroni step-down over the treatments of the metric',
      sequential: `asymptotic confidence sequence (Waudby-Smith et al. 2021, as in GrowthBook) on the difference of the means, Fieller's interval made with its half-width, α = 0.05, N* = ${nStar} combined units; always-valid p-value by the matching mixture e-value`,
      srm: `Pearson chi-square of units per variant against the configured shares, flagged at p < ${SRM_THRESHOLD}; not run below ${SRM_MIN_UNITS} units in a variant`,
      cuped: options.pre
        ? 'conversion and revenuePerUnit: Y − θ(X − X̄), θ = cov(Y, X)/var(X) pooled over variants, X the unit’s same metric in the 14 days before the experiment started (0 without data); the lift’s interval and test on the adjusted values'
        : 'not applied (the experiment has not started)',
    },
    variants,
    comparisons,
    srm: {
      pValue: srm ? num(srm.pValue) : null,
      flagged: srm ? srm.pValue < SRM_THRESHOLD : false,
      chi2: srm ? num(srm.chi2) : null,
      threshold: SRM_THRESHOLD,
    },
  };
}

/**
 * CUPED (Deng et al. 2013) on `metric` of the treatments in `out`: θ pooled over every arm, the
 * adjusted means compared as means (Welch, Fieller's interval). Nothing when X does not vary.
 */
function cuped(arms: readonly Arm[], metric: 'conversion' | 'revenuePerUnit', out: Comparison[]): void {
  const y = (a: Arm) => (metric === 'conversion' ? a.converted : a.revenue);
  const x = (a: Arm) => (metric === 'conversion' ? a.preConverted : a.preRevenue);
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (const a of arms) {
    n += a.revenue.length;
    sx += sum(x(a));
    sy += sum(y(a));
  }
  if (n < 3) return;
  const mx = sx / n;
  const my = sy / n;
  let cov = 0;
  let varX = 0;
  for (const a of arms) {
    const xs = x(a);
    const ys = y(a);
    for (let k = 0; k < xs.length; k++) {
      cov += (xs[k]! - mx) * (ys[k]! - my);
      varX += (xs[k]! - mx) ** 2;
    }
  }
  if (!(varX > 0)) return;
  const theta = cov / varX;
  const adjusted = arms.map((a) => {
    const xs = x(a);
    const ys = y(a);
    const adj = new Float64Array(xs.length);
    for (let k = 0; k < xs.length; k++) adj[k] = ys[k]! - theta * (xs[k]! - mx);
    return meanEstimate(adj);
  });
  const c = adjusted[0]!;
  const plainOf = (a: Arm) => meanEstimate(metric === 'conversion' ? a.converted : a.revenue);
  const plainControl = plainOf(arms[0]!);
  out.forEach((cmp, i) => {
    const t = adjusted[i + 1]!;
    const test = liftTest(t, c, ALPHA, metric === 'revenuePerUnit');
    // Of the difference of the means, which CUPED adjusts.
    const plain = plainOf(arms[i + 1]!).variance + plainControl.variance;
    cmp.cuped = test
      ? {
          lift: num(test.lift),
          liftCi95: pair(test.ci[0], test.ci[1]),
          pValue: num(test.pValue),
          theta,
          varianceReduction: plain > 0 ? num(1 - (t.variance + c.variance) / plain) : null,
        }
      : null;
  });
}
