/**
 * Thompson sampling's pieces: Gamma and Beta draws with the right moments, the floor, the split
 * that favours the better arm and stays even before every arm has its minimum, seeded runs that
 * repeat, and the adaptive configuration checked field by field.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import { parseAdaptive } from '../../../src/experiments/adaptive-policy.ts';
import { explorationSplit } from '../../../src/experiments/adaptive-router.ts';
import {
  allocation,
  betaDraw,
  gammaDraw,
  pick,
  posteriorDraw,
  withFloor,
} from '../../../src/experiments/thompson.ts';

const mean = (f: () => number, n: number) => {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = f();
    s += x;
    s2 += x * x;
  }
  return { mean: s / n, variance: s2 / n - (s / n) ** 2 };
};

describe('Thompson sampling', () => {
  it('draws Gamma and Beta with their moments (shape k: mean k, variance k; Beta(a, b): a/(a+b))', () => {
    const rng = createRng(5);
    for (const k of [0.5, 1, 3.5, 40]) {
      const m = mean(() => gammaDraw(rng, k), 40_000);
      expect(m.mean).toBeCloseTo(k, k < 5 ? 1 : 0);
      expect(m.variance / k).toBeGreaterThan(0.93);
      expect(m.variance / k).toBeLessThan(1.07);
    }
    const b = mean(() => betaDraw(rng, 3, 7), 40_000);
    expect(b.mean).toBeCloseTo(0.3, 2);
    // Var = ab / ((a+b)²(a+b+1)) = 21 / 1100.
    expect(b.variance).toBeCloseTo(21 / 1100, 3);
    // Revenue: conversion 0.1 × mean order 20 → 2 per impression, with enough data.
    const r = mean(
      () =>
        posteriorDraw(rng, { impressions: 10_000, clicks: 0, purchases: 1000, revenue: 20_000 }, 'revenue'),
      20_000,
    );
    expect(r.mean).toBeCloseTo(2, 1);
  });

  it('raises every share to the floor and sends most traffic to the clearly better arm', () => {
    withFloor([1, 0, 0], 0.05).forEach((x, i) => expect(x).toBeCloseTo([0.9, 0.05, 0.05][i]!, 12));
    const arms = [
      { impressions: 2000, clicks: 100, purchases: 0, revenue: 0 },
      { impressions: 2000, clicks: 200, purchases: 0, revenue: 0 },
    ];
    const p = allocation(arms, createRng(1), { reward: 'click', draws: 4000 });
    expect(p[1]).toBeCloseTo(0.95, 5);
    expect(p[0]).toBeCloseTo(0.05, 5);
    // Close arms share; a seed repeats its split exactly.
    const close = [
      { impressions: 500, clicks: 50, purchases: 0, revenue: 0 },
      { impressions: 500, clicks: 52, purchases: 0, revenue: 0 },
    ];
    const a = allocation(close, createRng(9), { reward: 'click', draws: 4000 });
    expect(a[0]).toBeGreaterThan(0.2);
    expect(a).toEqual(allocation(close, createRng(9), { reward: 'click', draws: 4000 }));
    // Before each arm has its minimum, even.
    expect(
      allocation([arms[0]!, { ...arms[1]!, impressions: 50 }], createRng(1), { reward: 'click' }),
    ).toEqual([0.5, 0.5]);
    expect(() => allocation(arms, createRng(1), { reward: 'click', floor: 0.6 })).toThrow(RangeError);
    expect(pick([0.2, 0.3, 0.5], 0.1)).toBe(0);
    expect(pick([0.2, 0.3, 0.5], 0.45)).toBe(1);
    expect(pick([0.2, 0.3, 0.5], 0.99)).toBe(2);
    explorationSplit(4, 0.2).forEach((x, i) => expect(x).toBeCloseTo([0.85, 0.05, 0.05, 0.05][i]!, 12));
  });

  it('checks SHELF_ADAPTIVE field by field', () => {
    expect(parseAdaptive(undefined).tiers).toEqual({});
    const ok = parseAdaptive('{"homepage":{"arms":{"pop":{"weights":{"vector":0}}}}}', 3);
    expect(ok).toEqual({
      seed: 3,
      tiers: {
        homepage: {
          mode: 'bandit',
          arms: { pop: { weights: { vector: 0 } } },
          reward: 'click',
          floor: 0.05,
          everyMs: 900_000,
          minImpressions: 100,
          exploration: 0,
          positions: true,
        },
      },
    });
    expect(() => parseAdaptive('{"nope":{}}')).toThrow(/SHELF_ADAPTIVE.nope: must be one of/);
    expect(() => parseAdaptive('{"homepage":{"arms":{}}}')).toThrow(/homepage.arms: must name at least one/);
    expect(() => parseAdaptive('{"homepage":{"arms":{"a":{}},"floor":0.6}}')).toThrow(
      /homepage.floor: must lie in \[0, 1\/2\]/,
    );
    expect(() => parseAdaptive('{"homepage":{"arms":{"a":{"weights":{"vector":-1}}}}}')).toThrow(
      /arms.a.weights.vector: Expected number to be greater or equal to 0/,
    );
    // What an experiment variant may not set, an arm may not either (session 42's trial served
    // lists of null scores from each of these).
    const arm = (preset: object) => () =>
      parseAdaptive(JSON.stringify({ category: { arms: { a: preset } } }));
    expect(arm({ weights: { vector: 1e308, trending: 1e308 } })).toThrow(
      /category.arms.a.weights.vector: Expected number to be less or equal to 100/,
    );
    expect(arm({ weights: { trendng: 5 } })).toThrow(
      /category.arms.a.weights.trendng: is not one of vector, neighbours, complements, trending, ease/,
    );
    expect(arm({ rules: { mmrLambda: 7 } })).toThrow(
      /arms.a.rules.mmrLambda: Expected number to be less or equal to 1/,
    );
    expect(arm({ rules: { maxPerCategory: 0 } })).toThrow(
      /arms.a.rules.maxPerCategory: Expected integer to be greater/,
    );
    expect(arm({ rules: { maxPerCategory: 2.5 } })).toThrow(/arms.a.rules.maxPerCategory: Expected integer/);
    expect(arm({ modelVersion: 'v1' })).toThrow(/arms.a.modelVersion: is not one of weights, rules/);
    expect(() => parseAdaptive('{"homepage":{"arms":{"a":{}},"reward":"likes"}}')).toThrow(/reward/);
    expect(() => parseAdaptive('{')).toThrow(/must be JSON/);
    expect(() => parseAdaptive('{"homepage":{"arms":{"a":{}},"positions":"yes"}}')).toThrow(
      /homepage.positions: must be true or false/,
    );
    expect(parseAdaptive('{"homepage":{"arms":{"a":{}},"positions":false}}').tiers.homepage!.positions).toBe(
      false,
    );
    const many = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`a${i}`, {}]));
    expect(() => parseAdaptive(JSON.stringify({ homepage: { arms: many } }))).toThrow(
      /homepage.arms: must name at most 30 presets/,
    );
  });
});
