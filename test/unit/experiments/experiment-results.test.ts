/**
 * Results of a three-variant experiment from per-unit rows, against values computed independently
 * with Python 3, numpy and scipy 1.17.1 (/tmp/fx.py in the session that wrote this: rows drawn
 * with `numpy.random.default_rng(3)`; ratio variances from `numpy.cov`, intervals with
 * `norm.ppf(0.975)`, Welch by `ttest_ind(equal_var=False)`, z-tests by `norm.sf`, SRM by
 * `chisquare`; Holm by hand over the two treatments).
 */
import { describe, expect, it } from 'vitest';
import { draftOf } from '../../../src/experiments/experiment-definition.ts';
import { experimentResults } from '../../../src/experiments/experiment-results.ts';
import type { UnitTotals } from '../../../src/store/types.ts';
import { createRng } from '../../../models/random.ts';

const ARMS = {
  control: {
    imp: [5, 1, 1, 2, 1, 5, 5, 3, 1, 1, 2, 3, 4, 3],
    clk: [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0],
    pur: [2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0],
    rev: [27.45, 0, 0, 14.15, 0, 0, 0, 0, 0, 0, 0, 0, 7.43, 0],
  },
  b: {
    imp: [5, 4, 3, 5, 4, 4, 2, 4, 5, 1, 3, 2],
    clk: [0, 0, 0, 3, 0, 1, 1, 2, 3, 1, 0, 1],
    pur: [2, 0, 2, 0, 0, 2, 1, 0, 0, 0, 0, 0],
    rev: [41.44, 0, 34.6, 0, 0, 17.71, 17.17, 0, 0, 0, 0, 0],
  },
  c: {
    imp: [3, 2, 3, 4, 1, 3, 4, 1, 4, 3, 5, 2, 2],
    clk: [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0],
    pur: [0, 2, 0, 0, 0, 1, 2, 0, 0, 1, 0, 0, 0],
    rev: [0, 33.39, 0, 0, 0, 7.3, 32.19, 0, 0, 6.71, 0, 0, 0],
  },
};

const close = (actual: number | null, expected: number, rel = 1e-9) => {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(rel * Math.abs(expected));
};

function rowsOf(
  id: string,
  arms: Record<string, { imp: number[]; clk: number[]; pur: number[]; rev: number[] }>,
) {
  const rows: UnitTotals[] = [];
  for (const [name, a] of Object.entries(arms))
    a.imp.forEach((imp, i) =>
      rows.push({
        config: `${id}:${name}`,
        visitor: `u:${name}-${i}`,
        impressions: imp,
        clicks: a.clk[i]!,
        purchases: a.pur[i]!,
        revenue: a.rev[i]!,
      }),
    );
  // A unit served outside the experiment is not counted, nor one seen under two variants.
  rows.push({ config: 'default', visitor: 'u:other', impressions: 9, clicks: 9, purchases: 9, revenue: 9 });
  for (const name of Object.keys(arms).slice(0, 2))
    rows.push({
      config: `${id}:${name}`,
      visitor: 'u:both',
      impressions: 9,
      clicks: 9,
      purchases: 9,
      revenue: 9,
    });
  return rows;
}

/** A draft experiment `id` of a control and a `b`, half each. */
const halves = (id: string) =>
  draftOf(
    {
      id,
      name: id,
      tiers: ['homepage'],
      unit: 'user',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'b', share: 0.5, config: {} },
      ],
    },
    0,
    's',
  );

const third = 1 / 3;
const exp3 = draftOf(
  {
    id: 'x',
    name: 'x',
    tiers: ['homepage'],
    unit: 'user',
    variants: ['control', 'b', 'c'].map((name) => ({ name, share: third, config: {} })),
  },
  0,
  's',
);

describe('experiment results', () => {
  const r = experimentResults(exp3, rowsOf('x', ARMS));

  it('per variant: sums, and each metric with its 95% interval', () => {
    expect(r.multipleExposures).toBe(1);
    const [control, b, c] = r.variants;
    expect(control).toMatchObject({
      name: 'control',
      units: 14,
      impressions: 37,
      clicks: 6,
      purchases: 5,
      convertingUnits: 3,
    });
    close(control!.revenue, 49.03);
    close(control!.metrics.ctr.value, 0.16216216216216214);
    close(control!.metrics.ctr.ci95[0], 0.06256349685381925);
    close(control!.metrics.ctr.ci95[1], 0.26176082747050505);
    close(control!.metrics.revenuePerUnit.value, 3.5021428571428572);
    close(control!.metrics.revenuePerUnit.ci95[0], -0.7015613719817431);
    close(b!.metrics.ctr.ci95[1], 0.4593704617135729);
    close(b!.metrics.revenuePerUnit.ci95[1], 17.768913945394765);
    // A rate's interval stops at 0 (the normal interval's lower end is -0.0063).
    expect(c!.metrics.ctr.ci95[0]).toBe(0);
    // Conversion: Wilson's score interval, 3 converting units of 14 (by hand: centre
    // (p + z²/2n)/(1 + z²/n), half-width z·√(p(1 − p)/n + z²/4n²)/(1 + z²/n)).
    close(control!.metrics.conversion.ci95[0], 0.07571386712693184, 1e-9);
    close(control!.metrics.conversion.ci95[1], 0.47589230586600295, 1e-9);
    close(c!.metrics.revenuePerUnit.value, 6.122307692307691);
  });

  it('comparisons: the lift with Fieller’s interval and the p-value of the difference it inverts, Holm over the treatments', () => {
    // Python (/tmp/fieller_ref.py of session 39): per-arm estimates as above; p of
    // (μ_t − μ_c)/√(Var_t + Var_c) by norm (conversion) or t with Welch–Satterthwaite df (ctr,
    // revenue; the ctr values from /tmp/scr/ctr_welch_ref.py of session 43); the interval's ends from numpy.roots([μ_c² − q²Var_c, −2μ_tμ_c, μ_t² − q²Var_t])
    // minus 1, floored at −100%; with μ_c² < q²Var_c (the control's mean not told from 0) the set
    // is unbounded above and its lower end the positive root, checked against the inequality.
    const get = (variant: string, metric: string) =>
      r.comparisons.find((c) => c.variant === variant && c.metric === metric)!;
    const ctrB = get('b', 'ctr');
    close(ctrB.lift, 0.7619047619047621);
    close(ctrB.liftCi95[0], -0.4439382990726931, 1e-8);
    close(ctrB.liftCi95[1], 4.671403103331423, 1e-9);
    close(ctrB.pValue, 0.2422422508336798, 1e-9);
    close(ctrB.pValueHolm, 0.48338205224894326, 1e-9);
    close(get('c', 'ctr').pValue, 0.24169102612447163, 1e-9);
    close(get('c', 'ctr').pValueHolm, 0.48338205224894326, 1e-9);
    expect(get('c', 'ctr').liftCi95[0]).toBe(-1);
    close(get('c', 'ctr').liftCi95[1], 0.783026256436504, 1e-9);
    close(get('b', 'conversion').lift, 0.5555555555555556);
    // 3 converting units of 14 in the control: no upper bound (null), where the delta method on
    // the log of the lift gave 491%, and on the lift itself reached −152%.
    close(get('b', 'conversion').liftCi95[0], -0.7669167398192771, 1e-9);
    expect(get('b', 'conversion').liftCi95[1]).toBeNull();
    close(get('b', 'conversion').pValue, 0.5132289695014112, 1e-9);
    close(get('c', 'conversion').pValue, 0.5939815541469793, 1e-9);
    close(get('c', 'conversion').liftCi95[0], -0.8003297808478123, 1e-9);
    close(get('c', 'conversion').pValueHolm, 1);
    close(get('b', 'revenuePerUnit').lift, 1.6393364606703376);
    close(get('b', 'revenuePerUnit').liftCi95[0], -0.9912369969554315, 1e-8);
    expect(get('b', 'revenuePerUnit').liftCi95[1]).toBeNull();
    close(get('b', 'revenuePerUnit').pValue, 0.2535923074177303, 1e-8);
    close(get('b', 'revenuePerUnit').pValueHolm, 0.5071846148354606, 1e-8);
    close(get('c', 'revenuePerUnit').pValueHolm, 0.518334918428832, 1e-8);
    // The always-valid interval holds the fixed one (an unbounded end stays unbounded), never
    // below −100%; its p-value is never below the fixed one's.
    for (const c of r.comparisons) {
      expect(c.sequentialCi95[0]!).toBeLessThanOrEqual(c.liftCi95[0]!);
      expect(c.sequentialCi95[0]!).toBeGreaterThanOrEqual(-1);
      if (c.liftCi95[1] === null) expect(c.sequentialCi95[1]).toBeNull();
      else if (c.sequentialCi95[1] !== null) expect(c.sequentialCi95[1]).toBeGreaterThan(c.liftCi95[1]);
      expect(c.sequentialPValue!).toBeGreaterThanOrEqual(c.pValue!);
    }
    expect(get('b', 'ctr').sequentialCi95[0]!).toBeLessThan(get('b', 'ctr').liftCi95[0]!);
    expect(r.srm).toMatchObject({ flagged: false });
    close(r.srm.pValue, 0.925961078642316);
  });

  it('flags a sample-ratio mismatch at p < 0.001 and stays quiet on noise', () => {
    const two = halves('y');
    const zeros = (n: number) => ({
      imp: Array<number>(n).fill(1),
      clk: Array<number>(n).fill(0),
      pur: Array<number>(n).fill(0),
      rev: Array<number>(n).fill(0),
    });
    const broken = experimentResults(two, rowsOf('y', { control: zeros(1000), b: zeros(850) }));
    close(broken.srm.chi2, 12.162162162162161); // chisquare([1000, 850])
    close(broken.srm.pValue, 0.0004876880960760176);
    expect(broken.srm.flagged).toBe(true);
    const healthy = experimentResults(two, rowsOf('y', { control: zeros(1000), b: zeros(940) }));
    close(healthy.srm.pValue, 0.17312536533208103); // chisquare([1000, 940])
    expect(healthy.srm.flagged).toBe(false);
    // Too few units: not run.
    expect(experimentResults(two, rowsOf('y', { control: zeros(7), b: zeros(30) })).srm).toMatchObject({
      pValue: null,
      flagged: false,
    });
    // No clicks anywhere: no lift to report, rather than NaN.
    expect(broken.comparisons[0]).toMatchObject({ metric: 'ctr', lift: null, pValue: null });
  });

  it('floors a zero variant’s intervals at −100%, tests a zero control’s difference, and counts no unit without an id', () => {
    const two = halves('w');
    const zeros = [0, 0, 0, 0, 0, 0];
    const clicked = { imp: [2, 2, 2, 2, 2, 2], clk: [1, 1, 0, 1, 0, 1], pur: zeros, rev: zeros };
    const none = { imp: [2, 2, 2, 2, 2, 2], clk: zeros, pur: zeros, rev: zeros };
    const rows = rowsOf('w', { control: clicked, b: none });
    // An erased user's lists, recorded anonymous while the experiment still routed them: seen
    // counted as one more control unit.
    rows.push({ config: 'w:control', visitor: 's:', impressions: 4, clicks: 0, purchases: 0, revenue: 0 });
    const r = experimentResults(two, rows);
    expect(r.variants.map((v) => v.units)).toEqual([6, 6]);
    const ctr = r.comparisons.find((c) => c.metric === 'ctr')!;
    // (0 − 1/3)/(1/3) with variance (0 + s_x²/(n·ȳ²))/(1/3)² = 0.1: 2*t.sf(√10, df 5), Welch's df
    // with the control's variance alone (it was 2*norm.sf(√10) = 0.0016, for 6 units an arm).
    expect(ctr).toMatchObject({ lift: -1, liftCi95: [-1, expect.any(Number)] });
    close(ctr.pValue, 0.02503101581845296, 1e-9);
    // Seen at −1.38 to −2.10 (the fixed interval was floored, the sequential one not).
    expect(ctr.sequentialCi95[0]).toBe(-1);
    // No purchase anywhere: nothing to compare. No converter in 6 units is not a certain 0:
    // Wilson's interval reaches 0.39 (the normal one read [0, 0]).
    expect(r.comparisons.find((c) => c.metric === 'conversion')).toMatchObject({ lift: null, pValue: null });
    expect(r.variants[1]!.metrics.conversion.ci95[0]).toBeCloseTo(0, 12);
    close(r.variants[1]!.metrics.conversion.ci95[1], 0.3903342879021653, 1e-9);
    // One unit: no variance, so no interval for a CTR or revenue (it read [0, 0]).
    const one = experimentResults(
      two,
      rowsOf('w', { control: clicked, b: { imp: [2], clk: [0], pur: [0], rev: [0] } }),
    );
    expect(one.variants[1]!.metrics.ctr).toEqual({ value: 0, ci95: [null, null] });
    expect(one.variants[1]!.metrics.revenuePerUnit.ci95).toEqual([null, null]);
    close(one.variants[1]!.metrics.conversion.ci95[1], 0.7934506856227626, 1e-9);

    // No control clicks against some: no lift or interval, the difference 1/3 tested (same z).
    const swapped = experimentResults(two, rowsOf('w', { control: none, b: clicked }));
    const up = swapped.comparisons.find((c) => c.metric === 'ctr')!;
    expect(up).toMatchObject({ lift: null, liftCi95: [null, null], sequentialCi95: [null, null] });
    close(up.pValue, 0.02503101581845296, 1e-9);
    expect(up.sequentialPValue).toBeGreaterThan(up.pValue!);
  });

  it('CUPED on revenue per unit: θ pooled, adjusted lift and its test, the variance it removes', () => {
    // Python: rng = default_rng(11); x = round(gamma(2, 10, n), 2); y = round(0.8x + normal(5 + shift, 4, n), 2);
    // θ = cov(X, Y)/var(X) over both arms; adjusted y − θ(x − X̄); the lift's Fieller interval and
    // the difference's p with Welch–Satterthwaite df (scipy t.ppf, t.sf; /tmp/fieller_ref.py of
    // session 39); the variance reduction of the means' difference, s_b²/n_b + s_c²/n_c adjusted
    // against unadjusted.
    const X = {
      control: [
        17.11, 38.0, 13.11, 25.16, 28.29, 46.17, 27.08, 12.24, 29.74, 14.77, 7.77, 22.3, 2.14, 11.33, 3.87,
        31.14, 8.79, 27.75, 24.73, 14.14,
      ],
      b: [
        13.64, 11.62, 21.5, 25.65, 23.87, 34.99, 14.47, 38.79, 3.49, 23.42, 6.76, 5.11, 39.76, 13.06, 20.02,
        58.82, 10.29, 46.5,
      ],
    };
    const Y = {
      control: [
        20.08, 36.39, 19.88, 19.99, 24.99, 38.58, 19.73, 15.3, 30.9, 13.86, 16.76, 26.13, 9.22, 15.67, 11.92,
        24.58, 14.49, 29.61, 17.71, 17.7,
      ],
      b: [
        15.93, 18.48, 25.13, 27.71, 24.16, 37.54, 20.81, 38.66, 9.91, 21.6, 11.46, 16.91, 39.05, 12.69, 29.35,
        57.18, 24.66, 45.45,
      ],
    };
    const e = halves('z');
    const arm = (ys: number[]) => ({
      imp: ys.map(() => 1),
      clk: ys.map(() => 0),
      pur: ys.map(() => 1),
      rev: ys,
    });
    const pre = new Map<string, { purchases: number; revenue: number }>();
    for (const name of ['control', 'b'] as const)
      X[name].forEach((x, i) => pre.set(`u:${name}-${i}`, { purchases: 1, revenue: x }));
    const rows = rowsOf('z', { control: arm(Y.control), b: arm(Y.b) });
    const r = experimentResults(e, rows, { pre });
    const rev = r.comparisons.find((c) => c.metric === 'revenuePerUnit')!;
    close(rev.cuped!.theta, 0.739426340781282);
    close(rev.cuped!.lift, 0.15349349994225125);
    close(rev.cuped!.liftCi95[0], 0.04368269910154221, 1e-8);
    close(rev.cuped!.liftCi95[1], 0.2756401811324627, 1e-8);
    close(rev.cuped!.pValue, 0.006473255457259424, 1e-8);
    close(rev.cuped!.varianceReduction, 0.8873191803019792);
    // Every unit converted before and after: X does not vary, no CUPED on conversion.
    expect(r.comparisons.find((c) => c.metric === 'conversion')!.cuped).toBeNull();
    expect(experimentResults(e, rows).comparisons.every((c) => c.cuped === null)).toBe(true);
  });
  it('rejects about α of A/A CTR comparisons of 10 units a variant, not 7.6%', () => {
    // 2,000 seeded A/A experiments: each unit sees 1 + geometric(0.7) lists (3.3 on average) and
    // clicks each with its own rate around 5% (0.3–1.7 × 5%). With the normal the test rejected
    // 7.6% of those it could test (1,927); with Student's t and Welch's df it rejects 4.8%.
    const rng = createRng(17);
    const unit = () => {
      let imp = 1;
      while (rng.next() < 0.7) imp++;
      const rate = 0.05 * (0.3 + 1.4 * rng.next());
      let clk = 0;
      for (let j = 0; j < imp; j++) if (rng.next() < rate) clk++;
      return { imp, clk };
    };
    const arm = () => {
      const units = Array.from({ length: 10 }, unit);
      const zeros = units.map(() => 0);
      return { imp: units.map((u) => u.imp), clk: units.map((u) => u.clk), pur: zeros, rev: zeros };
    };
    const two = halves('aa');
    let tested = 0;
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const ctr = experimentResults(two, rowsOf('aa', { control: arm(), b: arm() })).comparisons.find(
        (c) => c.metric === 'ctr',
      )!;
      if (ctr.pValue === null) continue;
      tested++;
      if (ctr.pValue < 0.05) rejected++;
    }
    expect(tested).toBeGreaterThan(1900);
    // Binomial(2000, 0.05): sd 0.0049; α + 3 sd.
    expect(rejected / tested).toBeLessThan(0.065);
  });
});
