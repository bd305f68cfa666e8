/**
 * Stage 3, what may be shown: available (active, in stock), in the category subtree, within the
 * request's filters, minus exclusions (the page item, the cart, ids the caller names, what the
 * visitor consumed or rejected over their whole history: by default bought unless
 * repurchasable, rated, disliked, hidden). Also the re-check of a cached list after a catalogue change.
 */
import { ItemFilter } from '../index/item-filter.ts';
import type { Item } from '../store/types.ts';
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
    const exclude = new Set<number>(ctx.cart);
    if (ctx.pageItem !== undefined) exclude.add(ctx.pageItem);
    for (const id of req.exclude ?? []) {
      const i = c.indexOf(id);
      if (i !== undefined) exclude.add(i);
    }
    // Consumed: an event of a configured type, but a purchase alone not of a repurchasable item.
    const mask = config.consumed.reduce((m, t) => m | typeBit(t), 0);
    const consumed = (itemId: string, types: number) => {
      const hit = types & mask;
      if (!hit) return;
      const i = c.indexOf(itemId);
      if (i !== undefined && !(hit === PURCHASE && c.item(i)?.repurchasable)) exclude.add(i);
    };
    for (const e of who.history) consumed(e.itemId, typeBit(e.type));
    for (const [itemId, { types }] of who.consumed) consumed(itemId, types);
    const excluded = [...exclude];
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
