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
  // A unit served outside the experiment is not counted.
  rows.push({ config: 'default', visitor: 'u:other', impressions: 9, clicks: 9, purchases: 9, revenue: 9 });
  return rows;
}

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
    close(c!.metrics.ctr.ci95[0], -0.006292197454999995, 1e-7);
    close(c!.metrics.revenuePerUnit.value, 6.122307692307691);
  });

  it('comparisons: lift with delta-method interval, p-values by metric, Holm over the treatments', () => {
    const get = (variant: string, metric: string) =>
      r.comparisons.find((c) => c.variant === variant && c.metric === metric)!;
    const ctrB = get('b', 'ctr');
    close(ctrB.lift, 0.7619047619047621);
    close(ctrB.liftCi95[0], -0.7605361878709689);
    close(ctrB.liftCi95[1], 2.2843457116804933);
    close(ctrB.pValue, 0.2264191766762802);
    close(ctrB.pValueHolm, 0.4528383533525604);
    close(get('c', 'ctr').pValue, 0.23035556515132594);
    close(get('c', 'ctr').liftCi95[1], 0.12017364740178804);
    close(get('b', 'conversion').lift, 0.5555555555555556);
    close(get('b', 'conversion').liftCi95[0], -1.5209424072484776);
    close(get('b', 'conversion').pValue, 0.49508816926050114);
    close(get('c', 'conversion').pValue, 0.5799965728363652);
    close(get('c', 'conversion').pValueHolm, 0.9901763385210023);
    close(get('b', 'revenuePerUnit').lift, 1.6393364606703376);
    close(get('b', 'revenuePerUnit').liftCi95[1], 5.6346889489243415);
    close(get('b', 'revenuePerUnit').pValue, 0.25359230741773015, 1e-8);
    close(get('b', 'revenuePerUnit').pValueHolm, 0.5071846148354603, 1e-8);
    close(get('c', 'revenuePerUnit').pValueHolm, 0.5183349184288317, 1e-8);
    // The always-valid interval holds the fixed one and is centred on the same lift.
    for (const c of r.comparisons) {
      expect(c.sequentialCi95[0]!).toBeLessThan(c.liftCi95[0]!);
      expect(c.sequentialCi95[1]!).toBeGreaterThan(c.liftCi95[1]!);
      close((c.sequentialCi95[0]! + c.sequentialCi95[1]!) / 2, c.lift!, 1e-9);
      expect(c.sequentialPValue!).toBeGreaterThanOrEqual(c.pValue!);
    }
    expect(r.srm).toMatchObject({ flagged: false });
    close(r.srm.pValue, 0.925961078642316);
  });

  it('flags a sample-ratio mismatch at p < 0.001 and stays quiet on noise', () => {
    const two = draftOf(
      {
        id: 'y',
        name: 'y',
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
});
