import { describe, expect, it } from 'vitest';
import { Blend } from '../../../src/serving/blend.ts';
import { createRng } from '../../../models/random.ts';

/** The blend's candidates as item → [score, reason]. */
function contents(b: Blend): Map<number, [number, string]> {
  const out = new Map<number, [number, string]>();
  for (let j = 0; j < b.count; j++) out.set(b.itemAt(j), [b.scoreAt(j), b.reasonAt(j)]);
  return out;
}

describe('Blend', () => {
  it('sums contributions per item and keeps the reason of the largest', () => {
    const b = new Blend();
    const near = b.reason('recommended for you');
    const trend = b.reason('trending now');
    b.add(7, 0.5, near);
    b.add(3, 0.2, trend);
    b.add(7, 0.75, trend);
    b.add(7, 0.1, near);
    expect(b.count).toBe(2);
    expect([b.itemAt(0), b.itemAt(1)]).toEqual([7, 3]); // insertion order
    expect(b.scoreAt(0)).toBeCloseTo(1.35, 12);
    expect(b.reasonAt(0)).toBe('trending now');
    expect(b.has(3)).toBe(true);
    expect(b.has(4)).toBe(false);
  });

  it('matches a Map through growth and reuse, with colliding and large item indexes', () => {
    const rng = createRng(5);
    const b = new Blend();
    for (let request = 0; request < 3; request++) {
      b.reset();
      expect(b.count).toBe(0);
      const reasons = ['a', 'b', 'c'].map((r) => b.reason(`${r}${request}`));
      const expected = new Map<number, { score: number; best: number; reason: string }>();
      // Multiples of 1024 land in few home slots of a small table; 5,000 items force growth.
      const items = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? i * 1024 : rng.int(2_000_000)));
      for (const item of [...items, ...items.slice(0, 2000)]) {
        const c = rng.next();
        const r = rng.int(3);
        b.add(item, c, reasons[r]!);
        const e = expected.get(item);
        if (!e) expected.set(item, { score: c, best: c, reason: `${'abc'[r]}${request}` });
        else {
          e.score += c;
          if (c > e.best) {
            e.best = c;
            e.reason = `${'abc'[r]}${request}`;
          }
        }
      }
      const got = contents(b);
      expect(got.size).toBe(expected.size);
      for (const [item, e] of expected) {
        expect(got.get(item)?.[0]).toBeCloseTo(e.score, 9);
        expect(got.get(item)?.[1]).toBe(e.reason);
      }
      expect(b.has(2_000_001)).toBe(false);
    }
  });
});
