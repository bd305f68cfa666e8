import { describe, it, expect } from 'vitest';
import { topK } from '../../../models/top-k.ts';

const f32 = (xs: number[]) => Float32Array.from(xs);

describe('topK', () => {
  it('orders by score descending', () => {
    const r = topK(f32([0.1, 0.9, 0.5, 0.7, 0.3]), 3);
    expect(Array.from(r.indices)).toEqual([1, 3, 2]);
    expect(Array.from(r.scores)).toEqual([f32([0.9])[0], f32([0.7])[0], 0.5]);
  });

  it('breaks ties by the lower index first (pinned tie rule)', () => {
    expect(Array.from(topK(f32([1, 2, 2, 1, 2, 0]), 4).indices)).toEqual([1, 2, 4, 0]);
    // Ties at the cut: the lower indices are kept, whatever order the scan meets them in.
    expect(Array.from(topK(f32([5, 5, 5, 5, 5]), 2).indices)).toEqual([0, 1]);
    expect(Array.from(topK(f32([0, 3, 3, 3, 9]), 3).indices)).toEqual([4, 1, 2]);
  });

  it('never returns excluded indices (index list or mask)', () => {
    const s = f32([9, 8, 7, 6, 5]);
    expect(Array.from(topK(s, 2, Int32Array.from([0, 2])).indices)).toEqual([1, 3]);
    expect(Array.from(topK(s, 2, Uint8Array.from([1, 1, 0, 0, 0])).indices)).toEqual([2, 3]);
    // Out-of-range ids in an exclusion list are ignored.
    expect(Array.from(topK(s, 1, Int32Array.from([-1, 99, 0])).indices)).toEqual([1]);
  });

  it('returns fewer than k when fewer items are left, and skips NaN', () => {
    expect(Array.from(topK(f32([1, Number.NaN, 3]), 10).indices)).toEqual([2, 0]);
    expect(topK(f32([1, 2]), 5, Int32Array.from([0, 1])).indices.length).toBe(0);
    expect(topK(f32([1, 2]), 0).indices.length).toBe(0);
  });

  it('agrees with a full sort on random scores with many ties', () => {
    let state = 12345;
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const s = Float32Array.from({ length: 500 }, () => Math.floor(next() * 20));
    const expected = Array.from(s.keys())
      .sort((a, b) => s[b]! - s[a]! || a - b)
      .slice(0, 37);
    expect(Array.from(topK(s, 37).indices)).toEqual(expected);
  });
});
