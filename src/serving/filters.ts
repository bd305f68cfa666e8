/**
 * Stage 3, what may be shown: available (active, in stock), in the category subtree, within the
 * request's filters, minus exclusions (the page item, the cart, ids the caller names, what the
 * visitor consumed or rejected over their whole history: by default bought unless
 * repurchasable, rated, disliked, hidden). Also the re-check of a cached list after a catalogue change.
 */
import { ItemFilter } from '../index/item-filter.ts';
import type { Item } from '../store/types.ts';
import { EVENT_TYPES } from '../store/types.ts';
import type { Catalog } from './catalog.ts';
import type { Served } from './served.ts';
import type { RecommendRequest, RequestFilters, TierConfig } from './types.ts';
import { typeBit } from './visitor.ts';
import type { Visitor } from './visitor.ts';

const PURCHASE = typeBit('purchase');

/** The items a request is about, in catalogue indexes. */
export interface Context {
  pageItem: number | undefined;
  cart: number[];
}

export interface Allowed {
  filter: ItemFilter;
  /** The exclusions of the request (already out of `filter`). */
  excluded: number[];
  /** `fresh` (available new arrivals) narrowed like `filter`. */
  allowedNew(fresh: ItemFilter): ItemFilter;
}

export function contextOf(c: Catalog, req: RecommendRequest): Context {
  const itemOf = (id: string | undefined) => (id === undefined ? undefined : c.indexOf(id));
  return { pageItem: itemOf(req.itemId), cart: (req.cartItemIds ?? []).flatMap((id) => itemOf(id) ?? []) };
}

/**
 * Builds a request's filters into bitset buffers it reuses: everything from here to the answer
 * runs without an await, and no filter outlives the request.
 */
export class Filters {
  private readonly scratchWords = { filter: new Uint32Array(0), arrivals: new Uint32Array(0) };

  allowed(s: Served, req: RecommendRequest, who: Visitor, ctx: Context, config: TierConfig): Allowed {
    const c = s.catalog;
    const excluded = [...exclusions(c, req, who, ctx, config).keys()];
    const available = c.availableFilter();
    const words = Math.max(available.words.length, ItemFilter.wordsFor(c.size));
    const category = req.category;
    let filter = available.intersect(
      category ? [c.categoryFilter(category)] : [],
      excluded,
      this.scratch('filter', words),
    );
    if (req.filters) filter = narrow(filter, c, req.filters);
    const narrowed = filter;
    // New arrivals are all available: when only exclusions narrow the request, drop those from
    // them instead of intersecting two catalogue-wide bitsets.
    const allowedNew = (fresh: ItemFilter) =>
      !category && !req.filters
        ? fresh.without(excluded, this.scratch('arrivals', words))
        : fresh.intersect([narrowed], undefined, this.scratch('arrivals', words));
    return { filter, excluded, allowedNew };
  }

  /** A reused bitset buffer of at least `words` words (one per use, so two never overlap). */
  private scratch(use: 'filter' | 'arrivals', words: number): Uint32Array {
    let buf = this.scratchWords[use];
    if (buf.length < words) {
      buf = new Uint32Array(Math.ceil(words * 1.25));
      this.scratchWords[use] = buf;
    }
    return buf;
  }
}

/** Why an item is excluded: a consumed item's event-type bits (≥ 1), or one of these. */
const IN_CART = -1;
const PAGE_ITEM = -2;
const NAMED = -3;

/**
 * The request's exclusions, each with why (a number, so the hot path makes no text): the page
 * item, the cart, ids the caller names, and what the visitor consumed (an event of a configured
 * type, but a purchase alone not of a repurchasable item).
 */
function exclusions(
  c: Catalog,
  req: RecommendRequest,
  who: Visitor,
  ctx: Context,
  config: TierConfig,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const i of ctx.cart) out.set(i, IN_CART);
  if (ctx.pageItem !== undefined) out.set(ctx.pageItem, PAGE_ITEM);
  for (const id of req.exclude ?? []) {
    const i = c.indexOf(id);
    if (i !== undefined && !out.has(i)) out.set(i, NAMED);
  }
  const mask = config.consumed.reduce((m, t) => m | typeBit(t), 0);
  const consumed = (itemId: string, types: number) => {
    const hit = types & mask;
    if (!hit) return;
    const i = c.indexOf(itemId);
    if (i === undefined || (hit === PURCHASE && c.item(i)?.repurchasable)) return;
    const was = out.get(i);
    if (was === undefined || was > 0) out.set(i, (was ?? 0) | hit);
  };
  for (const e of who.history) consumed(e.itemId, typeBit(e.type));
  for (const [itemId, { types }] of who.consumed) consumed(itemId, types);
  return out;
}

function exclusionText(why: number): string {
  if (why === IN_CART) return 'in the cart';
  if (why === PAGE_ITEM) return 'the page item';
  if (why === NAMED) return 'excluded by the request';
  return `the visitor's ${EVENT_TYPES.filter((t) => why & typeBit(t)).join(', ')} keeps it out`;
}

/**
 * Why item `i` is not allowed for the request, or null when it is: the same checks `allowed`
 * composes (available, category subtree, exclusions, request filters), one at a time.
 */
export function whyNotAllowed(
  s: Served,
  req: RecommendRequest,
  who: Visitor,
  ctx: Context,
  config: TierConfig,
  i: number,
): string | null {
  const c = s.catalog;
  const item = c.item(i);
  if (!item) return 'not in the catalogue (a model item since deleted)';
  if (!c.availableFilter().has(i)) {
    return item.status !== 'active'
      ? `status ${item.status}`
      : item.stock === 0
        ? 'out of stock'
        : `not published until ${new Date(item.publishedAt).toISOString()}`;
  }
  if (req.category && !c.categoryFilter(req.category).has(i)) return `not in category ${req.category}`;
  const excluded = exclusions(c, req, who, ctx, config).get(i);
  if (excluded !== undefined) return exclusionText(excluded);
  if (req.filters && !passesFilters(item, req.filters))
    return 'outside the request filters (price, brand, attributes)';
  return null;
}

/** Whether every item of a cached list is still allowed for `req` (checked after a catalogue change). */
export function stillAllowed(s: Served, req: RecommendRequest, indices: readonly number[]): boolean {
  const c = s.catalog;
  const available = c.availableFilter();
  const inCategory = req.category ? c.categoryFilter(req.category) : null;
  return indices.every((i) => {
    const item = c.item(i);
    return (
      item !== undefined &&
      available.has(i) &&
      (!inCategory || inCategory.has(i)) &&
      (!req.filters || passesFilters(item, req.filters))
    );
  });
}

/** Request filters (price range, brand, attribute equals) applied to the allowed items. */
function narrow(filter: ItemFilter, c: Catalog, f: RequestFilters): ItemFilter {
  const keep = (i: number) => {
    const item = c.item(i);
    return item !== undefined && passesFilters(item, f);
  };
  return ItemFilter.fromItems(Array.from(filter.items()).filter(keep), c.size);
}

function passesFilters(item: Item, f: RequestFilters): boolean {
  if (f.minPrice !== undefined && !(item.price !== undefined && item.price >= f.minPrice)) return false;
  if (f.maxPrice !== undefined && !(item.price !== undefined && item.price <= f.maxPrice)) return false;
  if (f.brand !== undefined && item.brand !== f.brand) return false;
  for (const [k, v] of Object.entries(f.attributes ?? {})) if (item.attributes[k] !== v) return false;
  return true;
}
