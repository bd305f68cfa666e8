/**
 * Assignment: pinned hash values (FNV-1a 32 computed independently in Python:
 * `h = 0x811c9dc5; for c in s: h = ((h ^ ord(c)) * 0x01000193) & 0xffffffff`), stability, share
 * changes that move few visitors, layers exclusive within and independent across.
 */
import { describe, expect, it } from 'vitest';
import {
  BUCKETS,
  bucketOf,
  fnv1a32,
  freeRange,
  bucketTable,
  rangesOf,
  reshare,
  shareBounds,
  variantOf,
} from '../../../src/experiments/assignment.ts';
import type { BucketRanges } from '../../../src/experiments/assignment.ts';
import { draftOf } from '../../../src/experiments/experiment-definition.ts';
import type { ExperimentInput } from '../../../src/experiments/experiment-definition.ts';
import { ExperimentRouter, versionsServed } from '../../../src/experiments/experiment-router.ts';
import { DEFAULT_SERVING_CONFIG, tierConfig } from '../../../src/serving/types.ts';
import type { RecommendRequest } from '../../../src/serving/types.ts';
import type { Experiment } from '../../../src/store/types.ts';

/** An assignment made without a segment look-up (these experiments have no audience). */
function now<T>(x: T | Promise<T>): T {
  if (x instanceof Promise) throw new Error('expected an assignment without a segment look-up');
  return x;
}

const users = Array.from({ length: 20_000 }, (_, i) => `u-${i}`);

function experiment(over: Partial<ExperimentInput>, state: Partial<Experiment> = {}): Experiment {
  const input: ExperimentInput = {
    id: 'x',
    name: 'x',
    tiers: ['homepage'],
    unit: 'user',
    variants: [
      { name: 'control', share: 0.5, config: {} },
      { name: 'b', share: 0.5, config: { rules: { maxPerCategory: 1 } } },
    ],
    ...over,
  };
  return { ...draftOf(input, 0, `salt-${input.id}`), state: 'running', range: [0, BUCKETS], ...state };
}

describe('assignment', () => {
  it('hashes as FNV-1a 32 twice into 10,000 buckets (values from Python)', () => {
    expect(fnv1a32('abcu-1')).toBe(2748348268);
    expect(bucketOf('abc', 'u-1')).toBe(2545);
    expect(bucketOf('salt42', 'visitor-7')).toBe(418);
    expect(bucketOf('', '')).toBe(2305);
  });

  it('spreads units evenly and gives each the same bucket every time', () => {
    const counts = new Int32Array(10);
    for (const u of users) counts[Math.floor(bucketOf('s', u) / 1000)]!++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
    expect(users.map((u) => bucketOf('s', u))).toEqual(users.map((u) => bucketOf('s', u)));
  });

  it('moves only the visitors whose buckets change hands when shares change', () => {
    const before = shareBounds([0.5, 0.5]);
    const after = shareBounds([0.6, 0.4]);
    let moved = 0;
    for (const u of users) {
      const b = bucketOf('salt', u);
      if (variantOf(before, b) !== variantOf(after, b)) moved++;
    }
    // Exactly the buckets [5000, 6000): about 10% (re-hashing would move about half).
    expect(moved / users.length).toBeGreaterThan(0.08);
    expect(moved / users.length).toBeLessThan(0.12);
    // Three variants: 1/3 each → 0.4, 0.3, 0.3 moves about 1/15 + 1/30 + ... — far below a re-hash.
    const three = [shareBounds([1 / 3, 1 / 3, 1 / 3]), shareBounds([0.4, 0.3, 0.3])];
    const moved3 = users.filter((u) => {
      const b = bucketOf('salt', u);
      return variantOf(three[0]!, b) !== variantOf(three[1]!, b);
    }).length;
    expect(moved3 / users.length).toBeLessThan(0.15);
  });

  it('reshares moving the fewest buckets: Σ max(0, old − new), every bucket held once', () => {
    const owner = (ranges: BucketRanges[]) => bucketTable(ranges);
    const check = (before: BucketRanges[], shares: number[]) => {
      const after = reshare(before, shares);
      const a = owner(before);
      const b = owner(after);
      // Every bucket belongs to exactly one variant, in the shares asked.
      const sizes = after.map((rs) => rs.reduce((n, [lo, hi]) => n + hi - lo, 0));
      expect(sizes.reduce((x, y) => x + y, 0)).toBe(BUCKETS);
      const bounds = shareBounds(shares);
      sizes.forEach((n, i) => expect(n).toBe(bounds[i]! - (i ? bounds[i - 1]! : 0)));
      let moved = 0;
      for (let k = 0; k < BUCKETS; k++) if (a[k] !== b[k]) moved++;
      const oldSizes = before.map((rs) => rs.reduce((n, [lo, hi]) => n + hi - lo, 0));
      const least = oldSizes.reduce((m, n, i) => m + Math.max(0, n - sizes[i]!), 0);
      expect(moved).toBe(least);
      return after;
    };
    const start = rangesOf([1 / 3, 1 / 3, 1 / 3]);
    // 1/3 each → 0.4, 0.3, 0.3: only 1/15 of visitors move (contiguous bounds would move 1/10).
    const next = check(start, [0.4, 0.3, 0.3]);
    expect(next[0]).toEqual([
      [0, 3333],
      [6333, 6667],
      [9667, 10_000],
    ]);
    const third = check(next, [0.1, 0.1, 0.8]);
    check(third, [0.5, 0.25, 0.25]);
    // The router serves from the variants' buckets once shares changed.
    const e = experiment({ id: 'r' });
    const moved = reshare(rangesOf([0.5, 0.5]), [0.2, 0.8]);
    const router = new ExperimentRouter();
    router.load([
      { ...e, variants: e.variants.map((v, i) => ({ ...v, share: [0.2, 0.8][i]!, buckets: moved[i]! })) },
    ]);
    const inB = users.filter((u) => now(router.assign('homepage', { userId: u }))?.variant === 'b').length;
    expect(Math.abs(inB / users.length - 0.8)).toBeLessThan(0.02);
  });

  it('gives a starting experiment the lowest free slice of its layer', () => {
    expect(freeRange([], 5000)).toEqual([0, 5000]);
    expect(freeRange([[0, 5000]], 5000)).toEqual([5000, 10_000]);
    expect(freeRange([[0, 5000]], 6000)).toBeNull();
    expect(freeRange([[2000, 4000]], 2000)).toEqual([0, 2000]);
    expect(
      freeRange(
        [
          [0, 1000],
          [1000, 3000],
        ],
        500,
      ),
    ).toEqual([3000, 3500]);
  });

  it('keeps experiments of one layer exclusive and of two layers independent', () => {
    const router = new ExperimentRouter();
    router.load([
      experiment({ id: 'a', traffic: 0.5 }, { range: [0, 5000] }),
      experiment({ id: 'b', traffic: 0.5 }, { range: [5000, 10_000] }),
      experiment({ id: 'c', tiers: ['similar'] }),
    ]);
    const seen = { a: 0, b: 0, none: 0 };
    const joint = new Map<string, number>();
    for (const userId of users) {
      const r: Pick<RecommendRequest, 'userId'> = { userId };
      const home = now(router.assign('homepage', r));
      const similar = now(router.assign('similar', r))!;
      if (!home) seen.none++;
      else seen[home.experiment as 'a' | 'b']++;
      const key = `${home?.experiment}:${home?.variant}|${similar.variant}`;
      joint.set(key, (joint.get(key) ?? 0) + 1);
    }
    // Every visitor of the homepage layer is in exactly one of its two experiments, half each.
    expect(seen.none).toBe(0);
    expect(Math.abs(seen.a - 10_000)).toBeLessThan(400);
    // Across layers: within each homepage cell, the similar-tier variant splits about evenly.
    for (const e of ['a', 'b'])
      for (const v of ['control', 'b']) {
        const c = joint.get(`${e}:${v}|control`) ?? 0;
        const d = joint.get(`${e}:${v}|b`) ?? 0;
        expect(Math.abs(c / (c + d) - 0.5)).toBeLessThan(0.04);
      }
    // Anonymous visitors of a user-unit experiment are not in it.
    expect(router.assign('homepage', { sessionId: 's' })).toBeNull();
  });

  it('serves the variant’s configuration over the tier’s default, and a shipped variant to everyone', () => {
    const base = tierConfig(DEFAULT_SERVING_CONFIG, 'homepage');
    const router = new ExperimentRouter();
    router.load([experiment({ id: 'x' })]);
    const inB = users.find((u) => now(router.assign('homepage', { userId: u }))?.variant === 'b')!;
    const r: RecommendRequest = { tier: 'homepage', userId: inB };
    router.route(r, base);
    expect(r).toMatchObject({ experiment: 'x', variant: 'b', config: { name: 'x:b', maxPerCategory: 1 } });
    expect(r.config!.weights).toEqual(base.weights);
    const again: RecommendRequest = { tier: 'homepage', userId: inB };
    router.route(again, base);
    expect(again.config).toBe(r.config); // built once per base
    router.load([
      experiment({ id: 'x' }, { state: 'shipped', range: null, shipped: { variant: 'b', at: 1 } }),
    ]);
    const anyone: RecommendRequest = { tier: 'homepage', sessionId: 's-1' };
    router.route(anyone, base);
    expect(anyone.experiment).toBeUndefined();
    expect(anyone.config).toMatchObject({ name: 'shipped:x:b', maxPerCategory: 1 });
  });

  // Seen with two replicas: blend-1's b shipped (trending 0.1), then y9 started with variants {}
  // and {}: its users were served the engine's default (trending 0.4), undoing the ship for all
  // of y9's traffic, and y9's control was not what everyone else saw.
  it('builds a later experiment’s variants on the shipped default', () => {
    const base = tierConfig(DEFAULT_SERVING_CONFIG, 'homepage');
    const shipped = experiment(
      {
        id: 'blend-1',
        variants: [
          { name: 'control', share: 0.5, config: {} },
          { name: 'b', share: 0.5, config: { weights: { trending: 0.1 } } },
        ],
      },
      { state: 'shipped', range: null, shipped: { variant: 'b', at: 1 } },
    );
    const y9 = experiment({
      id: 'y9',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'capped', share: 0.5, config: { rules: { maxPerCategory: 2 } } },
      ],
    });
    const router = new ExperimentRouter();
    router.load([shipped, y9]);
    const seen = new Set<string>();
    for (const userId of users.slice(0, 40)) {
      const r: RecommendRequest = { tier: 'homepage', userId };
      router.route(r, base);
      seen.add(r.variant!);
      expect(r).toMatchObject({ experiment: 'y9', config: { name: `y9:${r.variant}` } });
      expect(r.config!.weights).toEqual({ ...base.weights, trending: 0.1 });
      expect(r.config!.maxPerCategory).toBe(r.variant === 'capped' ? 2 : base.maxPerCategory);
    }
    expect(seen).toEqual(new Set(['control', 'capped']));
    router.load([shipped]);
    const r: RecommendRequest = { tier: 'homepage', userId: users[0]! };
    router.route(r, base);
    expect(r.experiment).toBeUndefined();
    expect(r.config).toMatchObject({ name: 'shipped:blend-1:b', weights: { trending: 0.1 } });
  });

  it('tells which tiers a shipped variant pins to another model version, none once unshipped', () => {
    const base = tierConfig(DEFAULT_SERVING_CONFIG, 'homepage');
    const pin = (state: Partial<Experiment>) =>
      experiment(
        {
          id: 'pin',
          tiers: ['homepage', 'personalized'],
          variants: [
            { name: 'control', share: 0.5, config: {} },
            { name: 'old', share: 0.5, config: { modelVersion: 'v1' } },
          ],
        },
        { range: null, stoppedAt: 5, ...state },
      );
    const shipped = pin({ state: 'shipped', shipped: { variant: 'old', at: 5 } });
    // A later ship on the homepage only, naming no version: it wins that tier.
    const later = experiment(
      { id: 'later', tiers: ['homepage'] },
      { state: 'shipped', range: null, shipped: { variant: 'b', at: 6 } },
    );
    const router = new ExperimentRouter();
    router.load([shipped]);
    expect(router.pinned('v2')).toEqual({ homepage: 'v1', personalized: 'v1' });
    // Pinned to the version served now is no pin.
    expect(router.pinned('v1')).toEqual({});
    router.load([shipped, later]);
    expect(router.pinned('v2')).toEqual({ personalized: 'v1' });
    // Unshipped (as the service leaves it): no tier is pinned and v1 is no longer served.
    const unshipped = pin({ state: 'stopped', shipped: null });
    router.load([unshipped]);
    expect(router.pinned('v2')).toEqual({});
    expect(versionsServed([unshipped])).toEqual([]);
    const r: RecommendRequest = { tier: 'homepage', sessionId: 's-1' };
    router.route(r, base);
    expect(r.config).toBeUndefined();
  });

  it('checks a definition field by field', () => {
    const bad = (over: Partial<ExperimentInput>) => () => experiment(over);
    expect(
      bad({
        variants: [
          { name: 'a', share: 0.5, config: {} },
          { name: 'a', share: 0.6, config: {} },
        ],
      }),
    ).toThrow(/variants\/1\/name: duplicates "a".*shares must sum to 1/);
    expect(bad({ tiers: ['nope'] })).toThrow(/body\/tiers\/0/);
    // Seen: a share of 0.00001 was accepted; the variant got no bucket and was never served.
    expect(
      bad({
        variants: [
          { name: 'a', share: 0.99999, config: {} },
          { name: 'b', share: 0.00001, config: {} },
        ],
      }),
    ).toThrow(/variants\/1\/share: gives the variant none of the 10000 buckets: at least 0.0001/);
    expect(
      bad({
        variants: [
          { name: 'a', share: 0.5, config: {} },
          { name: 'b', share: 0.5, config: { modelVersion: 'v 1/..' } },
        ],
      }),
    ).toThrow(/variants\/1\/config\/modelVersion: must be a version id/);
    // A definition from `shelf experiments create` meets no schema: its weights are checked here.
    expect(
      bad({
        variants: [
          { name: 'a', share: 0.5, config: {} },
          { name: 'b', share: 0.5, config: { weights: { vector: 1e308, trending: -1 } } },
        ],
      }),
    ).toThrow(
      /variants\/1\/config\/weights\/vector: must be a number in \[0, 100\].*variants\/1\/config\/weights\/trending/,
    );
    expect(bad({ audience: { segments: ['active', 'vip'] } })).toThrow(
      /body\/audience\/segments\/1: must be one of new, active/,
    );
    expect(bad({ audience: { segments: [] } })).toThrow(/body\/audience\/segments: must name at least one/);
    expect(experiment({ audience: { segments: ['new'] } }).audience).toEqual({ segments: ['new'] });
    expect(experiment({ tiers: ['similar', 'homepage'] }).layer).toBe('homepage+similar');
  });
});
