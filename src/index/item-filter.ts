/**
 * Which items a search may return: a bitset over item indices (bit `i & 31` of word `i >>> 5`)
 * and the number of allowed items. Items at or beyond `words.length * 32` are not allowed.
 *
 * Built to be cheap for serving: keep one filter per category subtree and one for
 * "active and in stock", then combine them per request with `intersect` (one AND pass over
 * n / 32 words, about 31k words at 1M items) while clearing the request's exclusions.
 * Testing one item is a shift and a mask; `count` lets the index pick its strategy
 * (exact scan of a small allowed set, or over-fetch from the graph).
 */
export class ItemFilter {
  private cachedItems: Int32Array | null = null;

  private constructor(
    /** The bitset; treat as read-only once the filter is made. */
    readonly words: Uint32Array,
    /** The number of set bits (allowed items). */
    readonly count: number,
  ) {}

  /** Words needed for a bitset over items `0 .. size - 1`. */
  static wordsFor(size: number): number {
    return (size + 31) >>> 5;
  }

  /** Wraps a bitset without copying; counts its bits unless `count` is given. */
  static fromWords(words: Uint32Array, count?: number): ItemFilter {
    return new ItemFilter(words, count ?? countBits(words));
  }

  /** Allows item `i` when `mask[i]` is non-zero. */
  static fromMask(mask: ArrayLike<number>): ItemFilter {
    const words = new Uint32Array(ItemFilter.wordsFor(mask.length));
    let count = 0;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i]) {
        words[i >>> 5]! |= 1 << (i & 31);
        count++;
      }
    }
    return new ItemFilter(words, count);
  }

  /** Allows exactly `items` (duplicates are counted once); `size` defaults to max item + 1. */
  static fromItems(items: ArrayLike<number>, size?: number): ItemFilter {
    let max = -1;
    for (let j = 0; j < items.length; j++) {
      const i = items[j]!;
      if (!Number.isInteger(i) || i < 0)
        throw new RangeError(`item index ${i} is not a non-negative integer`);
      if (i > max) max = i;
    }
    const words = new Uint32Array(ItemFilter.wordsFor(Math.max(size ?? 0, max + 1)));
    let count = 0;
    for (let j = 0; j < items.length; j++) {
      const i = items[j]!;
      const bit = 1 << (i & 31);
      if ((words[i >>> 5]! & bit) === 0) {
        words[i >>> 5]! |= bit;
        count++;
      }
    }
    return new ItemFilter(words, count);
  }

  /** Allows every item `0 .. size - 1`. */
  static all(size: number): ItemFilter {
    const words = new Uint32Array(ItemFilter.wordsFor(size));
    words.fill(0xffffffff);
    const tail = size & 31;
    if (tail !== 0) words[words.length - 1] = (1 << tail) - 1;
    return new ItemFilter(words, size);
  }

  /** Whether item `i` is allowed. */
  has(i: number): boolean {
    return i >= 0 && (((this.words[i >>> 5] ?? 0) >>> (i & 31)) & 1) === 1;
  }

  /** The allowed items in ascending order (computed once, then cached). */
  items(): Int32Array {
    if (this.cachedItems) return this.cachedItems;
    const out = new Int32Array(this.count);
    const words = this.words;
    let n = 0;
    for (let w = 0; w < words.length; w++) {
      let bits = words[w]!;
      while (bits !== 0) {
        const low = bits & -bits;
        out[n++] = (w << 5) | (31 - Math.clz32(low));
        bits ^= low;
      }
    }
    this.cachedItems = out;
    return out;
  }

  /**
   * Items allowed here and by every filter in `others`, minus `exclude` (e.g. the user's
   * bought items and the current item). One pass over the words; `out`, when given, receives
   * the result's words (reuse it across requests; it must hold at least as many words as the
   * shortest input, and the returned filter is only valid until `out` is reused).
   */
  intersect(others: readonly ItemFilter[], exclude?: ArrayLike<number>, out?: Uint32Array): ItemFilter {
    let len = this.words.length;
    for (const o of others) len = Math.min(len, o.words.length);
    if (out && out.length < len) throw new RangeError(`out holds ${out.length} words, need ${len}`);
    const words = out ? out.subarray(0, len) : new Uint32Array(len);
    const a = this.words;
    let count = 0;
    if (others.length === 0) {
      // A copy: the count is known, so no pass over the words beyond the copy itself.
      words.set(a.subarray(0, len));
      count = this.count;
    } else if (others.length === 1) {
      const b = others[0]!.words;
      for (let w = 0; w < len; w++) {
        const x = (a[w]! & b[w]!) >>> 0;
        words[w] = x;
        count += popcount32(x);
      }
    } else {
      for (let w = 0; w < len; w++) {
        let x = a[w]!;
        for (let j = 0; j < others.length; j++) x &= others[j]!.words[w]!;
        words[w] = x;
        count += popcount32(x >>> 0);
      }
    }
    if (exclude) {
      for (let j = 0; j < exclude.length; j++) {
        const i = exclude[j]!;
        if (i < 0 || i >= len * 32) continue;
        const bit = 1 << (i & 31);
        if ((words[i >>> 5]! & bit) !== 0) {
          words[i >>> 5]! &= ~bit;
          count--;
        }
      }
    }
    return new ItemFilter(words, count);
  }

  /** This filter minus `exclude`; see `intersect`. */
  without(exclude: ArrayLike<number>, out?: Uint32Array): ItemFilter {
    return this.intersect([], exclude, out);
  }
}

/** Set bits in a bitset. */
export function countBits(words: Uint32Array): number {
  let count = 0;
  for (let w = 0; w < words.length; w++) count += popcount32(words[w]!);
  return count;
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}
