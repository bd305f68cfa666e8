import { describe, expect, it } from 'vitest';
import { countBits, ItemFilter } from '../../../src/index/item-filter.ts';

describe('ItemFilter', () => {
  it('builds from a mask, a list and "all", and answers has/items/count', () => {
    const fromMask = ItemFilter.fromMask(Uint8Array.from([0, 1, 1, 0, 0, 1]));
    expect(fromMask.count).toBe(3);
    expect(Array.from(fromMask.items())).toEqual([1, 2, 5]);
    expect([0, 1, 2, 3, 5, 6, 1000, -1].map((i) => fromMask.has(i))).toEqual([
      false,
      true,
      true,
      false,
      true,
      false,
      false,
      false,
    ]);

    const fromItems = ItemFilter.fromItems([70, 3, 3, 31, 32], 100);
    expect(fromItems.count).toBe(4);
    expect(fromItems.words.length).toBe(4);
    expect(Array.from(fromItems.items())).toEqual([3, 31, 32, 70]);
    expect(() => ItemFilter.fromItems([-1])).toThrow(RangeError);

    const all = ItemFilter.all(70);
    expect(all.count).toBe(70);
    expect(countBits(all.words)).toBe(70);
    expect(all.has(69)).toBe(true);
    expect(all.has(70)).toBe(false);
    expect(all.items().length).toBe(70);
    expect(ItemFilter.all(64).words.every((w) => w === 0xffffffff)).toBe(true);
  });

  it('intersects filters, clears exclusions and counts the result', () => {
    const category = ItemFilter.fromItems([1, 2, 3, 40, 41, 99], 100);
    const inStock = ItemFilter.fromItems([2, 3, 41, 50, 99], 100);
    const active = ItemFilter.all(64); // shorter: items ≥ 64 are not allowed
    const r = category.intersect([inStock, active], [3, 7, 5000]);
    expect(Array.from(r.items())).toEqual([2, 41]);
    expect(r.count).toBe(2);
    expect(r.words.length).toBe(2);

    const two = category.intersect([inStock]);
    expect(Array.from(two.items())).toEqual([2, 3, 41, 99]);
    expect(Array.from(category.without([1, 99]).items())).toEqual([2, 3, 40, 41]);
    expect(category.count).toBe(6); // inputs untouched
  });

  it('writes into a reused buffer when given one', () => {
    const out = new Uint32Array(8);
    const a = ItemFilter.fromItems([0, 5, 200], 256);
    const b = ItemFilter.fromItems([5, 200], 256);
    const r = a.intersect([b], undefined, out);
    expect(r.words.buffer).toBe(out.buffer);
    expect(Array.from(r.items())).toEqual([5, 200]);
    expect(() => a.intersect([b], undefined, new Uint32Array(2))).toThrow(RangeError);
  });

  it('counts bits across whole words (popcount)', () => {
    expect(countBits(Uint32Array.from([0xffffffff, 0x80000001, 0, 0x0f0f0f0f]))).toBe(32 + 2 + 16);
  });
});
