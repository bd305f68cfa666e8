import { describe, expect, it } from 'vitest';
import { TrendingModel } from '../../../models/trending.ts';
import { Blend } from '../../../src/serving/blend.ts';
import { Candidates } from '../../../src/serving/candidates.ts';
import type { CandidateRequest, SegmentLists } from '../../../src/serving/candidates.ts';
import { contextOf, Filters } from '../../../src/serving/filters.ts';
import { queryVector } from '../../../src/serving/query-vector.ts';
import type { Served } from '../../../src/serving/served.ts';
import type { RecommendRequest, TierConfig } from '../../../src/serving/types.ts';
import { typeBit } from '../../../src/serving/visitor.ts';
import { DEFAULT_SERVING_CONFIG, tierConfig } from '../../../src/serving/types.ts';
import type { Visitor } from '../../../src/serving/visitor.ts';
import { item, ITEMS, model, NOW, served } from '../../helpers/served-fixture.ts';

const DAY = 86_400_000;

const s = served();
const anonymous: Visitor = {
  subject: null,
  personal: true,
  forgotten: false,
  history: [],
  consumed: new Map(),
  demoted: new Set(),
};
const user = (userId: string, history: Visitor['history'] = []): Visitor => ({
  userId,
  subject: { userId },
  personal: true,
  forgotten: false,
  consumed: new Map(),
  demoted: new Set(),
  history,
});

/** Collects a request's candidates on `on` (default: the fixture): best first, and the new arrivals. */
function collect(
  req: RecommendRequest,
  who: Visitor,
  sources = new Candidates(),
  config?: TierConfig,
  on: Served = s,
) {
  const ctx = contextOf(on.catalog, req);
  const tier = config ?? tierConfig(DEFAULT_SERVING_CONFIG, req.tier);
  const r: CandidateRequest = {
    s: on,
    req,
    who,
    ctx,
    allowed: new Filters().allowed(on, req, who, ctx, tier),
    x: queryVector(on, req.tier, who, ctx),
    config: tier,
    limit: 3,
    now: NOW,
  };
  const blend = new Blend();
  sources.collect(blend, r);
  const out = Array.from({ length: blend.count }, (_, j) => ({
    itemId: on.catalog.item(blend.itemAt(j))!.itemId,
    score: blend.scoreAt(j),
    reason: blend.reasonAt(j),
  })).sort((a, b) => b.score - a.score);
  return { out, newArrivals: sources.newArrivals(r).map((a) => on.catalog.item(a.index)!.itemId) };
}

describe('candidates: where a list comes from', () => {
  it('takes the nearest items to the user vector, then neighbours of the history, then trending', () => {
    // u1 = [1, 0]: a, b nearest (the limit of 3 asks for 2 × 3 + 10, all six); trending c, e at 0.1.
    const { out } = collect({ tier: 'personalized', userId: 'u1' }, user('u1'));
    expect(out.slice(0, 2).map((c) => [c.itemId, c.reason])).toEqual([
      ['a', 'recommended for you'],
      ['b', 'recommended for you'],
    ]);
    // c: its inner product 0 min-max normalised over [-1, 1], plus trending's best × 0.1.
    expect(out.find((c) => c.itemId === 'c')!.score).toBeCloseTo(0.5 + 0.1, 6);
    // A view of c: c's vector is folded into u1's (d, its nearest, comes first), and its
    // neighbour d is a candidate of the neighbour source too.
    const history: Visitor['history'] = [{ itemId: 'c', type: 'view', timestamp: NOW }];
    const viewed = collect({ tier: 'personalized', userId: 'u1' }, user('u1', history)).out;
    expect(viewed[0]).toMatchObject({ itemId: 'd', reason: 'recommended for you' });
    const base = tierConfig(DEFAULT_SERVING_CONFIG, 'personalized');
    const neighboursOnly = { ...base, weights: { ...base.weights, vector: 0, trending: 0 } };
    const lists = collect(
      { tier: 'personalized', userId: 'u1' },
      user('u1', history),
      new Candidates(),
      neighboursOnly,
    );
    expect(lists.out[0]).toEqual({
      itemId: 'd',
      score: base.weights.neighbours,
      reason: 'because you viewed "Title c"',
    });
    // A page's item is no view of the visitor's (there may be no visitor at all): similar to it.
    const similar = tierConfig(DEFAULT_SERVING_CONFIG, 'similar');
    const page = collect({ tier: 'similar', itemId: 'c' }, anonymous, new Candidates(), {
      ...similar,
      weights: { ...similar.weights, vector: 0, trending: 0 },
    });
    expect(page.out[0]).toMatchObject({ itemId: 'd', reason: 'similar to "Title c"' });
  });

  it('weights sources by the configuration handed in with the request', () => {
    const base = tierConfig(DEFAULT_SERVING_CONFIG, 'personalized');
    const noVector = {
      ...base,
      name: 'trending-only',
      weights: { ...base.weights, vector: 0, neighbours: 0 },
    };
    const { out } = collect({ tier: 'personalized', userId: 'u1' }, user('u1'), new Candidates(), noVector);
    expect(out[0]).toMatchObject({ itemId: 'c', reason: 'trending now' });
    expect(out.find((c) => c.itemId === 'e')).toMatchObject({ score: 0, reason: 'trending now' });
  });

  it('gives a visitor without history trending, in the category asked for', () => {
    const home = collect({ tier: 'homepage' }, anonymous).out;
    expect(home[0]).toMatchObject({ itemId: 'c', score: 1, reason: 'trending now' });
    expect(home.find((c) => c.itemId === 'e')).toMatchObject({ reason: 'trending now' });
    const category = collect({ tier: 'category', category: 'Home' }, anonymous).out;
    expect(category[0]).toMatchObject({ itemId: 'e', score: 1, reason: 'trending in Home' });
    expect(category.map((c) => c.itemId).sort()).toEqual(['a', 'b', 'e', 'g']);
    // Only e was engaged with lately: the others fill the list as popular, not as trending
    // (they were labelled 'trending in Home' with a trending score of 0).
    expect(category.filter((c) => c.itemId !== 'e').map((c) => c.reason)).toEqual([
      'popular',
      'popular',
      'popular',
    ]);
  });

  it("puts the new segment's list first for a visitor without history, never on page tiers", () => {
    const sources = new Candidates();
    const lists = {
      items: {
        new: [
          { itemId: 'f', score: 3 },
          { itemId: 'b', score: 1 },
          { itemId: 'gone', score: 9 },
        ],
      },
    };
    sources.setSegmentLists(lists as unknown as SegmentLists); // only the `new` segment is read
    const cold = collect({ tier: 'homepage', userId: 'nobody' }, user('nobody'), sources).out;
    expect(cold[0]).toMatchObject({ itemId: 'f', reason: 'popular with new customers' });
    const page = collect({ tier: 'similar', itemId: 'a' }, anonymous, sources).out;
    expect(page.map((c) => c.reason)).not.toContain('popular with new customers');
  });

  it('offers new arrivals to the exposure slot, not when the tier has none', () => {
    expect(collect({ tier: 'homepage' }, anonymous).newArrivals).toEqual(['g']);
    expect(collect({ tier: 'similar', itemId: 'a' }, anonymous).newArrivals).toEqual([]);
    expect(collect({ tier: 'homepage', exclude: ['g'] }, anonymous).newArrivals).toEqual([]);
  });

  it('spreads the new-arrival slot over visitors without a taste vector, each keeping their own order', () => {
    const three = served({
      items: [
        ...ITEMS,
        item('h', ['Toys > Games'], { publishedAt: NOW - 2 * DAY }),
        item('i', ['Home > Bath'], { publishedAt: NOW - 2.5 * DAY }),
      ],
    });
    const firstFor = (sessionId: string) =>
      collect(
        { tier: 'homepage', sessionId },
        { ...anonymous, subject: { sessionId } },
        undefined,
        undefined,
        three,
      ).newArrivals;
    const firsts = new Set(Array.from({ length: 30 }, (_, k) => firstFor(`visit-${k}`)[0]));
    // Every new arrival leads some visitors' lists (all got the newest, g, before).
    expect([...firsts].sort()).toEqual(['g', 'h', 'i']);
    expect(firstFor('visit-7')).toEqual(firstFor('visit-7'));
    expect(firstFor('visit-7').sort()).toEqual(['g', 'h', 'i']);
    // Nobody to tell apart: the newest first.
    expect(collect({ tier: 'homepage' }, anonymous, undefined, undefined, three).newArrivals).toEqual([
      'g',
      'h',
      'i',
    ]);
  });

  it('finds items similar to the page item and complements of the cart', () => {
    const similar = collect({ tier: 'similar', itemId: 'c' }, anonymous).out;
    expect(similar[0]).toMatchObject({ itemId: 'd' });
    expect(similar.map((c) => c.reason)).toContain('similar to "Title c"');
    const cart = collect({ tier: 'cart', cartItemIds: ['a'] }, anonymous).out;
    expect(cart[0]!.itemId).toBe('b');
    expect(cart.map((c) => c.itemId)).not.toContain('a');
  });

  it('falls back to popularity over the allowed catalogue when the sources leave the list short', () => {
    // Old data: no trending counters at all.
    const old: Served = { ...s, trending: new TrendingModel({ items: 64, halfLifeMs: 1 }) };
    const out = collect(
      { tier: 'homepage', exclude: ['a'] },
      anonymous,
      new Candidates(),
      undefined,
      old,
    ).out;
    // Popularity: a 5, f 4, c 3, e 2, b 1, d 0, g (cold) 0; a is excluded.
    expect(out.slice(0, 3).map((c) => [c.itemId, c.reason])).toEqual([
      ['f', 'popular'],
      ['c', 'popular'],
      ['e', 'popular'],
    ]);
    // Sources that found enough need no fallback.
    const similar = collect({ tier: 'similar', itemId: 'a' }, anonymous).out;
    expect(similar.map((c) => c.reason)).not.toContain('popular');
    // A visitor shown f, c and e again and again (rotation demotes them): as many more come, so
    // the list can move on (it was f, c, e alone, demoted alike, every time).
    const rotated: Visitor = { ...anonymous, subject: { sessionId: 's' }, demoted: new Set(['f', 'c', 'e']) };
    const more = collect({ tier: 'homepage', exclude: ['a'] }, rotated, new Candidates(), undefined, old).out;
    expect(more.filter((c) => !rotated.demoted.has(c.itemId)).map((c) => c.itemId)).toEqual(['b', 'd', 'g']);
  });

  it("sums EASE's rows over the user's whole history, each weighed by its recency", () => {
    // a → c 0.9, d 0.1; b → d 1.
    const ease = {
      rows: 6,
      k: 2,
      indices: Int32Array.from([2, 3, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1]),
      scores: Float32Array.from([0.9, 0.1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    };
    const withEase = served({ model: model({ ease, easeHalfLifeMs: DAY }) });
    const base = tierConfig(DEFAULT_SERVING_CONFIG, 'personalized');
    const easeOnly = { ...base, weights: { vector: 0, neighbours: 0, complements: 0, trending: 0, ease: 1 } };
    const consumed = (aAgo: number, bAgo: number) =>
      new Map([
        ['a', { types: 1, at: NOW - aAgo }],
        ['b', { types: 1, at: NOW - bAgo }],
      ]);
    const scores = (c: Visitor['consumed']) =>
      collect(
        { tier: 'personalized', userId: 'u1' },
        { ...user('u1'), consumed: c },
        new Candidates(),
        easeOnly,
        withEase,
      )
        .out.filter((x) => x.reason === 'recommended for you')
        .map((x) => [x.itemId, x.score]);
    const ask = (c: Visitor['consumed']) => scores(c).map(([itemId]) => itemId);
    // Both fresh: d = 0.1 + 1 beats c = 0.9. With b ten days old, c wins.
    expect(ask(consumed(0, 0))).toEqual(['d', 'c']);
    expect(ask(consumed(0, 10 * DAY))).toEqual(['c', 'd']);
    // The same history years ago (2^(−age / halfLife) from now is 0): the same list and scores.
    const YEAR = 365 * DAY;
    expect(scores(consumed(15 * YEAR, 15 * YEAR + 10 * DAY))).toEqual(scores(consumed(0, 10 * DAY)));
    expect(scores(consumed(0, 10 * DAY))).toEqual([
      ['c', 1],
      ['d', 0],
    ]);
    // b disliked, not engaged with: its row lifts nothing; a's alone ranks c over d.
    const disliked = new Map(
      [...consumed(0, 0)].map(([id, c]) => [id, id === 'b' ? { ...c, types: typeBit('dislike') } : c]),
    );
    expect(ask(disliked)).toEqual(['c', 'd']);
    // Without consent, none.
    const none = collect(
      { tier: 'personalized', userId: 'u1' },
      { ...user('u1'), personal: false, consumed: consumed(0, 0) },
      new Candidates(),
      easeOnly,
      withEase,
    );
    expect(none.out.map((x) => x.reason)).not.toContain('recommended for you');
  });
});
