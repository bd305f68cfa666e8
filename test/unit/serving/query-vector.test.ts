import { describe, expect, it } from 'vitest';
import { contextOf } from '../../../src/serving/filters.ts';
import { queryVector } from '../../../src/serving/query-vector.ts';
import type { Served } from '../../../src/serving/served.ts';
import type { RecommendRequest } from '../../../src/serving/types.ts';
import type { Visitor } from '../../../src/serving/visitor.ts';
import { EVENT_WEIGHTS } from '../../../src/store/event-weights.ts';
import type { VersionManifest } from '../../../src/registry/model-registry.ts';
import { model, NOW, served } from '../../helpers/served-fixture.ts';

const who = (over: Partial<Visitor> = {}): Visitor => ({
  subject: null,
  personal: true,
  forgotten: false,
  consumed: new Map(),
  demoted: new Set(),
  history: [],
  ...over,
});
const q = (s: Served, req: RecommendRequest, v: Visitor) => {
  const x = queryVector(s, req.tier, v, contextOf(s.catalog, req));
  return x && Array.from(x, (n) => Math.round(n * 1000) / 1000);
};
const trainedUntil = { data: { to: NOW - 10_000 } } as unknown as VersionManifest; // only data.to is read

describe('query vector', () => {
  const s = served({ model: model({ manifest: trainedUntil }) });

  it("is the page item's vector, the cart's mean, or the stored user vector", () => {
    expect(q(s, { tier: 'similar', itemId: 'c' }, who())).toEqual([0, 1]);
    expect(q(s, { tier: 'cart', cartItemIds: ['a', 'c', 'unknown'] }, who())).toEqual([0.5, 0.5]);
    expect(q(s, { tier: 'personalized', userId: 'u2' }, who({ userId: 'u2' }))).toEqual([0, 1]);
  });

  it('is none without consent, for a deleted user without fresh events, or without history', () => {
    expect(q(s, { tier: 'personalized', userId: 'u2' }, who({ userId: 'u2', personal: false }))).toBeNull();
    expect(q(s, { tier: 'personalized', userId: 'u2' }, who({ userId: 'u2', forgotten: true }))).toBeNull();
    expect(q(s, { tier: 'homepage', sessionId: 's' }, who())).toBeNull();
  });

  it('folds in fresh events with the weights the version was trained with', () => {
    const fresh = (type: Visitor['history'][number]['type'], itemId: string, ago = 0) => ({
      itemId,
      type,
      timestamp: NOW - ago,
    });
    const viewed = q(s, { tier: 'homepage' }, who({ history: [fresh('view', 'c')] }))!;
    expect(viewed[1]!).toBeGreaterThan(Math.abs(viewed[0]!));
    // Events before the training window ended are in the stored vector already: not folded again.
    expect(
      q(s, { tier: 'personalized' }, who({ userId: 'u1', history: [fresh('view', 'c', 60_000)] })),
    ).toEqual([1, 0]);
    // A dislike drops the pair; a return cancels its purchase (8 − 8): nothing left to fold in.
    expect(
      q(s, { tier: 'homepage' }, who({ history: [fresh('view', 'c'), fresh('dislike', 'c')] })),
    ).toBeNull();
    expect(
      q(s, { tier: 'homepage' }, who({ history: [fresh('purchase', 'a'), fresh('return', 'a')] })),
    ).toBeNull();
    // A version trained without views folds none in.
    const noViews = served({ model: model({ eventWeights: { ...EVENT_WEIGHTS, view: 0 } }) });
    expect(q(noViews, { tier: 'homepage' }, who({ history: [fresh('view', 'c')] }))).toBeNull();
    expect(q(noViews, { tier: 'homepage' }, who({ history: [fresh('click', 'c')] }))).not.toBeNull();
  });
});
