import { describe, expect, it } from 'vitest';
import { contextOf, Filters, stillAllowed } from '../../../src/serving/filters.ts';
import { applyItems } from '../../../src/serving/served.ts';
import type { RecommendRequest } from '../../../src/serving/types.ts';
import { DEFAULT_SERVING_CONFIG, tierConfig } from '../../../src/serving/types.ts';
import { typeBit } from '../../../src/serving/visitor.ts';
import type { Visitor } from '../../../src/serving/visitor.ts';
import { ITEMS, item, NOW, served } from '../../helpers/served-fixture.ts';

const visitor = (history: Visitor['history'] = []): Visitor => ({
  userId: 'u1',
  subject: { userId: 'u1' },
  personal: true,
  forgotten: false,
  consumed: new Map(),
  demoted: new Set(),
  history,
});
const ids = (s: ReturnType<typeof served>, items: Int32Array) =>
  Array.from(items, (i) => s.catalog.item(i)!.itemId);

describe('filters: what a request may show', () => {
  const allowedIds = (req: RecommendRequest, who = visitor(), s = served()) =>
    ids(
      s,
      new Filters()
        .allowed(s, req, who, contextOf(s.catalog, req), tierConfig(DEFAULT_SERVING_CONFIG, req.tier))
        .filter.items(),
    );

  it('lets through only active items in stock', () => {
    const s = served({
      items: ITEMS.map((i) =>
        i.itemId === 'b' ? { ...i, stock: 0 } : i.itemId === 'e' ? { ...i, status: 'delisted' as const } : i,
      ),
    });
    expect(allowedIds({ tier: 'homepage' }, visitor(), s)).toEqual(['a', 'c', 'd', 'f', 'g']);
  });

  it('keeps the category subtree and the request filters', () => {
    expect(allowedIds({ tier: 'category', category: 'Home' })).toEqual(['a', 'b', 'e', 'g']);
    expect(allowedIds({ tier: 'category', category: 'Home > Kitchen' })).toEqual(['a', 'b', 'g']);
    expect(allowedIds({ tier: 'homepage', filters: { minPrice: 20 } })).toEqual(['b']);
    expect(allowedIds({ tier: 'homepage', filters: { brand: 'Acme' } })).toEqual(['a']);
  });

  it('excludes the page item, the cart, named ids, purchases (unless repurchasable) and dislikes', () => {
    expect(allowedIds({ tier: 'similar', itemId: 'a', exclude: ['f', 'unknown'] })).toEqual([
      'b',
      'c',
      'd',
      'e',
      'g',
    ]);
    expect(allowedIds({ tier: 'cart', cartItemIds: ['b', 'c'] })).toEqual(['a', 'd', 'e', 'f', 'g']);
    const history: Visitor['history'] = [
      { itemId: 'a', type: 'purchase', timestamp: NOW - 3 },
      { itemId: 'd', type: 'purchase', timestamp: NOW - 2 },
      { itemId: 'e', type: 'dislike', timestamp: NOW - 1 },
      { itemId: 'f', type: 'view', timestamp: NOW },
    ];
    expect(allowedIds({ tier: 'personalized' }, visitor(history))).toEqual(['b', 'c', 'd', 'f', 'g']);
  });

  it('keeps out what the configuration calls consumed: ratings and hides by default, views never', () => {
    const history: Visitor['history'] = [
      { itemId: 'a', type: 'rating', timestamp: NOW - 3 },
      { itemId: 'b', type: 'hide', timestamp: NOW - 2 },
      { itemId: 'c', type: 'click', timestamp: NOW - 1 },
      { itemId: 'e', type: 'purchase', timestamp: NOW },
    ];
    expect(allowedIds({ tier: 'personalized' }, visitor(history))).toEqual(['c', 'd', 'f', 'g']);
    const s = served();
    const req: RecommendRequest = { tier: 'personalized' };
    const onlyHides = { ...tierConfig(DEFAULT_SERVING_CONFIG, 'personalized'), consumed: ['hide' as const] };
    const allowed = new Filters().allowed(s, req, visitor(history), contextOf(s.catalog, req), onlyHides);
    expect(ids(s, allowed.filter.items())).toEqual(['a', 'c', 'd', 'e', 'f', 'g']);
  });

  it("keeps out the user's consumed items of their whole history, a repurchasable purchase aside", () => {
    const consumed = new Map([
      ['a', { types: typeBit('purchase'), at: NOW }],
      ['d', { types: typeBit('purchase'), at: NOW }], // repurchasable
      ['e', { types: typeBit('purchase') | typeBit('rating'), at: NOW }],
      ['c', { types: typeBit('view'), at: NOW }],
    ]);
    expect(allowedIds({ tier: 'personalized' }, { ...visitor(), consumed })).toEqual([
      'b',
      'c',
      'd',
      'f',
      'g',
    ]);
  });

  it('narrows new arrivals like the request', () => {
    const s = served();
    const f = new Filters();
    const fresh = s.catalog.newArrivals(NOW).filter;
    expect(ids(s, fresh.items())).toEqual(['g']);
    const req = (r: RecommendRequest) =>
      f
        .allowed(s, r, visitor(), contextOf(s.catalog, r), tierConfig(DEFAULT_SERVING_CONFIG, r.tier))
        .allowedNew(fresh).count;
    expect(req({ tier: 'homepage' })).toBe(1);
    expect(req({ tier: 'homepage', exclude: ['g'] })).toBe(0);
    expect(req({ tier: 'category', category: 'Toys' })).toBe(0);
    expect(req({ tier: 'homepage', filters: { maxPrice: 5 } })).toBe(0);
  });

  it('re-checks a cached list after a catalogue change', () => {
    const s = served();
    const req: RecommendRequest = { tier: 'category', category: 'Home', filters: { maxPrice: 50 } };
    expect(stillAllowed(s, req, [0, 1])).toBe(true);
    applyItems(s, [item('b', ['Home > Kitchen'], { price: 60 })]);
    expect(stillAllowed(s, req, [0, 1])).toBe(false);
    applyItems(s, [item('a', ['Toys'])]);
    expect(stillAllowed(s, req, [0])).toBe(false);
  });
});
