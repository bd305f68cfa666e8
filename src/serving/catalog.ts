/**
 * The catalogue as serving sees it: every stored item in the serving item space (the model
 * version's items first, at their model indexes, then items the model never saw), with the
 * bitsets that filters are made of. Stock, price, status and category changes update the
 * bitsets in place, so the next request sees them.
 */
import { ItemFilter } from '../index/item-filter.ts';
import type { Item } from '../store/types.ts';

/** Items younger than this get the new-arrival exposure slot. */
export const NEW_ITEM_MS = 72 * 3_600_000;

/** A growable bitset with its population count. */
class Bitset {
  words = new Uint32Array(64);
  count = 0;

  set(i: number, on: boolean): void {
    const w = i >>> 5;
    if (w >= this.words.length) {
      const next = new Uint32Array(Math.max(w + 1, this.words.length * 2));
      next.set(this.words);
      this.words = next;
    }
    const bit = 1 << (i & 31);
    const was = (this.words[w]! & bit) !== 0;
    if (was === on) return;
    if (on) this.words[w]! |= bit;
    else this.words[w]! &= ~bit;
    this.count += on ? 1 : -1;
  }

  filter(): ItemFilter {
    return ItemFilter.fromWords(this.words, this.count);
  }
}

/** Whether `item` is in the category subtree `path` (`Home` holds `Home > Kitchen > Mugs`). */
export const inCategory = (item: Item, path: string) =>
  item.categories.some((c) => c === path || c.startsWith(path + ' > '));

export class Catalog {
  private readonly items: (Item | undefined)[] = [];
  private readonly index = new Map<string, number>();
  private readonly available = new Bitset();
  /** Category path → items in that subtree; built on first use, then kept up to date. */
  private readonly categories = new Map<string, Bitset>();
  /**
   * Every category path an item is under (its categories and their ancestors) → how many items:
   * only these get a bitset, so a request naming a category no item has costs no memory, and
   * item changes do not update a bitset for each path ever asked.
   */
  private readonly paths = new Map<string, number>();
  /** Items published recently enough to be new at some point from now on. */
  private readonly recent = new Set<number>();
  /** Items whose `publishedAt` is still to come: not available until then. */
  private readonly scheduled = new Set<number>();
  /** The soonest `publishedAt` of `scheduled` (Infinity: none). */
  private nextRelease = Infinity;
  /** Bumped by every upsert, so caches derived from items know they are stale. */
  private changes = 0;
  private arrivals: { second: number; changes: number; list: number[]; filter: ItemFilter } | null = null;

  /** `modelItemIds` fixes the first indexes; other items of `items` are appended. */
  constructor(
    modelItemIds: readonly string[],
    items: Iterable<Item>,
    private readonly now: () => number = Date.now,
  ) {
    modelItemIds.forEach((id, i) => this.index.set(id, i));
    this.items.length = modelItemIds.length;
    for (const item of items) this.upsert(item);
  }

  /** Changes with every upsert (caches derived from items compare it). */
  get version(): number {
    return this.changes;
  }

  /** Items in the serving space, stored or not (model items may have been deleted). */
  get size(): number {
    return this.items.length;
  }

  indexOf(itemId: string): number | undefined {
    return this.index.get(itemId);
  }

  item(index: number): Item | undefined {
    return this.items[index];
  }

  /** Adds or changes an item; returns its index and whether it is new to the serving space. */
  upsert(item: Item): { index: number; added: boolean } {
    let index = this.index.get(item.itemId);
    const added = index === undefined || this.items[index] === undefined;
    if (index === undefined) {
      index = this.items.length;
      this.index.set(item.itemId, index);
      this.items.push(undefined);
    }
    const was = this.items[index];
    // Most changes are stock and price: the paths stay, and an item alone in its category
    // would have had that category's filter thrown away and built again.
    if (!was || was.categories.join('\n') !== item.categories.join('\n')) {
      this.countPaths(was, -1);
      this.countPaths(item, 1);
    }
    this.items[index] = item;
    this.changes++;
    const now = this.now();
    const published = item.publishedAt <= now;
    this.available.set(index, published && isAvailable(item));
    if (published) this.scheduled.delete(index);
    else {
      this.scheduled.add(index);
      this.nextRelease = Math.min(this.nextRelease, item.publishedAt);
    }
    for (const [path, bits] of this.categories) bits.set(index, inCategory(item, path));
    if (now - item.publishedAt < NEW_ITEM_MS) this.recent.add(index);
    else this.recent.delete(index);
    return { index, added };
  }

  /** Active, in stock (stock absent = not tracked = available) and published. */
  availableFilter(): ItemFilter {
    this.release(this.now());
    return this.available.filter();
  }

  private countPaths(item: Item | undefined, by: 1 | -1): void {
    if (!item) return;
    for (const path of pathsOf(item)) {
      const n = (this.paths.get(path) ?? 0) + by;
      if (n > 0) this.paths.set(path, n);
      else {
        this.paths.delete(path);
        this.categories.delete(path);
      }
    }
  }

  /** Items whose `publishedAt` has come made available (if active and in stock). */
  private release(now: number): void {
    if (now < this.nextRelease) return;
    this.nextRelease = Infinity;
    for (const i of this.scheduled) {
      const item = this.items[i]!;
      if (item.publishedAt > now) {
        this.nextRelease = Math.min(this.nextRelease, item.publishedAt);
        continue;
      }
      this.scheduled.delete(i);
      this.available.set(i, isAvailable(item));
      this.changes++;
    }
  }

  /** Whether any item is in the category subtree `path`, delisted or not. */
  hasCategory(path: string): boolean {
    return this.paths.has(path);
  }

  /** Items in the category subtree `path` (`Home > Kitchen` holds `Home > Kitchen > Mugs`). */
  categoryFilter(path: string): ItemFilter {
    if (!this.paths.has(path)) return ItemFilter.fromWords(new Uint32Array(0), 0);
    let bits = this.categories.get(path);
    if (!bits) {
      bits = new Bitset();
      this.items.forEach((item, i) => {
        if (item && inCategory(item, path)) bits!.set(i, true);
      });
      this.categories.set(path, bits);
    }
    return bits.filter();
  }

  /**
   * Available items published within `NEW_ITEM_MS` before `now`, newest first, and as a
   * filter; recomputed at most once a second or after an item change.
   */
  newArrivals(now: number): { list: number[]; filter: ItemFilter } {
    const second = Math.floor(now / 1000);
    if (this.arrivals && this.arrivals.second === second && this.arrivals.changes === this.changes) {
      return this.arrivals;
    }
    const list: number[] = [];
    for (const i of this.recent) {
      const item = this.items[i]!;
      if (now - item.publishedAt >= NEW_ITEM_MS) this.recent.delete(i);
      else if (item.publishedAt <= now && isAvailable(item)) list.push(i);
    }
    list.sort((a, b) => this.items[b]!.publishedAt - this.items[a]!.publishedAt || a - b);
    this.arrivals = {
      second,
      changes: this.changes,
      list,
      filter: ItemFilter.fromItems(list, this.items.length),
    };
    return this.arrivals;
  }
}

/** The category paths `item` is under: each of its categories and their ancestors, once each. */
function pathsOf(item: Item): Set<string> {
  const out = new Set<string>();
  for (const c of item.categories) {
    const parts = c.split(' > ');
    for (let k = 1; k <= parts.length; k++) out.add(parts.slice(0, k).join(' > '));
  }
  return out;
}

export function isAvailable(item: Item): boolean {
  return item.status === 'active' && item.stock !== 0;
}
