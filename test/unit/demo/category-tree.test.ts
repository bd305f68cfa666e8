import { describe, expect, it } from 'vitest';
import { buildCategoryTree } from '../../../src/demo/category-tree.ts';
import { inAnyCategory, inCategory } from '../../../src/demo/planted.ts';
import { normaliseCategory } from '../../../src/store/validate.ts';

describe('buildCategoryTree', () => {
  const tree = buildCategoryTree();

  it('has 6–10 departments of 3–6 subcategories, each with a few leaves', () => {
    const departments = tree.nodes.filter((n) => n.depth === 0);
    expect(departments.length).toBeGreaterThanOrEqual(6);
    expect(departments.length).toBeLessThanOrEqual(10);
    for (const dept of departments) {
      const subs = tree.nodes.filter((n) => n.depth === 1 && tree.nodes[n.parent] === dept);
      expect(subs.length).toBeGreaterThanOrEqual(3);
      expect(subs.length).toBeLessThanOrEqual(6);
      for (const sub of subs) {
        expect(sub.leaves.length).toBeGreaterThanOrEqual(2);
        expect(sub.leaves.length).toBeLessThanOrEqual(5);
      }
    }
    expect(tree.leafSpecs.length).toBe(tree.nodes.filter((n) => n.depth === 2).length);
  });

  it('writes normalised, unique paths such as Home > Kitchen > Mugs', () => {
    const paths = tree.nodes.map((n) => n.path);
    expect(new Set(paths).size).toBe(paths.length);
    for (const p of paths) expect(normaliseCategory(p)).toBe(p);
    expect(paths).toContain('Home > Kitchen > Mugs');
    expect(tree.nodeByPath.get('Home > Kitchen')).toBe(paths.indexOf('Home > Kitchen'));
  });

  it('lists each node’s leaves as a contiguous ascending range under the node’s path', () => {
    for (const node of tree.nodes) {
      const leaves = Array.from(node.leaves);
      expect(leaves.length).toBeGreaterThan(0);
      leaves.forEach((l, i) => {
        if (i > 0) expect(l).toBe(leaves[i - 1]! + 1);
        expect(inCategory(tree.nodes[tree.leafNode[l]!]!.path, node.path)).toBe(true);
      });
    }
  });

  it('gives every leaf a price and nouns, and some leaves consumables', () => {
    for (const leaf of tree.leafSpecs) {
      expect(leaf.medianPrice).toBeGreaterThan(0);
      expect(leaf.nouns.length).toBeGreaterThan(0);
    }
    const consumable = tree.leafSpecs.filter((l) => l.consumable).length;
    expect(consumable).toBeGreaterThan(10);
    expect(consumable).toBeLessThan(tree.leafSpecs.length / 2);
  });
});

describe('inCategory', () => {
  it('matches a path, its ancestors, and not a sibling with the same prefix', () => {
    expect(inCategory('Home > Kitchen > Mugs', 'Home')).toBe(true);
    expect(inCategory('Home > Kitchen > Mugs', 'Home > Kitchen > Mugs')).toBe(true);
    expect(inCategory('Home > Kitchen', 'Home > Kitchen > Mugs')).toBe(false);
    expect(inCategory('Homeware > Mugs', 'Home')).toBe(false);
    expect(inAnyCategory(['Pets > Dog > Leads', 'Home > Kitchen > Mugs'], ['Home > Kitchen'])).toBe(true);
    expect(inAnyCategory(['Pets > Dog > Leads'], ['Home > Kitchen', 'Pets > Cat'])).toBe(false);
  });
});
