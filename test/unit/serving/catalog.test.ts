/**
 * The catalogue's category paths and scheduled items: a category is known while an item is under
 * it (its own categories and their ancestors), and nothing is kept for one no item has; an item
 * published in the future is unavailable until its time.
 */
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../../src/serving/catalog.ts';
import { item, ITEMS, NOW } from '../../helpers/served-fixture.ts';

describe('catalog', () => {
  it('knows the category paths its items are under, and forgets one no item is under any more', () => {
    const c = new Catalog(['a', 'b'], ITEMS, () => NOW);
    for (const path of ['Home', 'Home > Kitchen', 'Home > Bath', 'Toys', 'Toys > Games'])
      expect(c.hasCategory(path), path).toBe(true);
    for (const path of ['Kitchen', 'Home > Kit', 'Home >', '']) expect(c.hasCategory(path), path).toBe(false);
    expect(c.categoryFilter('Kitchen').count).toBe(0);
    expect([...c.categoryFilter('Home').items()]).toEqual([0, 1, 4, 6]);
    // Both toys moved: the path goes; a delisted item still counts (its category is real).
    c.upsert(item('c', ['Home > Bath']));
    c.upsert(item('d', ['Garden'], { status: 'delisted' }));
    expect(c.hasCategory('Toys')).toBe(false);
    expect(c.hasCategory('Toys > Games')).toBe(false);
    expect(c.categoryFilter('Toys').count).toBe(0);
    expect(c.hasCategory('Garden')).toBe(true);
    expect([...c.categoryFilter('Home > Bath').items()]).toEqual([2, 4]);
    // Back: the filter is built again from the items.
    c.upsert(item('d', ['Toys > Games']));
    expect([...c.categoryFilter('Toys').items()]).toEqual([3]);
  });

  it('keeps an item published in the future unavailable until its publishedAt', () => {
    let now = NOW;
    const c = new Catalog([], ITEMS, () => now);
    const later = c.upsert(item('h', ['Home'], { publishedAt: NOW + 1000 })).index;
    expect(c.availableFilter().has(later)).toBe(false);
    now = NOW + 999;
    expect(c.availableFilter().has(later)).toBe(false);
    now = NOW + 1000;
    expect(c.availableFilter().has(later)).toBe(true);
    // Scheduled again, then out of stock when its time comes: still unavailable.
    c.upsert(item('h', ['Home'], { publishedAt: NOW + 5000, stock: 0 }));
    now = NOW + 6000;
    expect(c.availableFilter().has(later)).toBe(false);
  });
});
