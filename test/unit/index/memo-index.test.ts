import { describe, expect, it } from 'vitest';
import { ExactIndex } from '../../../src/index/exact-index.ts';
import { ItemFilter } from '../../../src/index/item-filter.ts';
import { MemoIndex } from '../../../src/index/memo-index.ts';
import { clustered, describeAnnIndex } from '../../helpers/describe-ann-index.ts';

// The whole index contract holds through the memo, searches after adds and removes included.
describeAnnIndex('MemoIndex over ExactIndex', () => ({
  build: async (vectors) => new MemoIndex(ExactIndex.build(vectors), 50),
  load: async (path, vectors) => new MemoIndex(await ExactIndex.load(path, vectors ? { vectors } : {}), 50),
}));

describe('MemoIndex', () => {
  const setup = (capacity = 100) => {
    const { vectors, queries } = clustered(3000, 16, 6, 11);
    const inner = ExactIndex.build(vectors);
    let searches = 0;
    const counted = Object.assign(Object.create(inner) as ExactIndex, {
      search: (...args: Parameters<ExactIndex['search']>) => {
        searches++;
        return inner.search(...args);
      },
    });
    const memo = new MemoIndex(counted, capacity);
    return { memo, inner, queries: queries(4, 3), searched: () => searches };
  };
  const allBut = (size: number, ...out: number[]) => {
    const words = new Uint32Array(ItemFilter.wordsFor(size)).fill(0xffffffff);
    for (const i of out) words[i >>> 5]! &= ~(1 << (i & 31));
    return ItemFilter.fromWords(words);
  };

  it('answers a repeated search from memory with the same result, and only an identical one', () => {
    const { memo, inner, queries, searched } = setup();
    const [q, other] = queries as [Float32Array, Float32Array];
    const filter = allBut(3000, 5);
    const first = memo.search(q, 10, filter);
    expect(first).toEqual(inner.search(q, 10, filter));
    // Equal values in fresh buffers: a hit, the very result.
    expect(memo.search(q.slice(), 10, ItemFilter.fromWords(filter.words.slice()))).toBe(first);
    expect(searched()).toBe(1);
    expect(memo.hits).toBe(1);
    // Any difference is a search of its own: k, the query, the filter, or no filter at all.
    expect(memo.search(q, 11, filter).indices).toHaveLength(11);
    expect(memo.search(other, 10, filter)).toEqual(inner.search(other, 10, filter));
    const nudged = q.slice();
    nudged[3] = Math.fround(nudged[3]! * (1 + 2 ** -20));
    memo.search(nudged, 10, filter);
    memo.search(q, 10);
    expect(searched()).toBe(5);
    // Filters that differ in the top bit of two words (a weak hash lets such flips cancel).
    const a = allBut(3000, 31, 63);
    const b = allBut(3000, 95, 127);
    const best = inner.search(q, 3000);
    expect(memo.search(q, 3000, a).indices).not.toContain(31);
    expect(memo.search(q, 3000, b).indices).not.toContain(95);
    expect(memo.search(q, 3000, b)).toEqual(inner.search(q, 3000, b));
    expect(best.indices).toContain(95);
    expect(searched()).toBe(7);
  });

  it('sees a reused filter buffer change, and forgets everything when the index changes', () => {
    const { memo, queries, searched } = setup();
    const q = queries[0]!;
    const filter = allBut(3000);
    const top = memo.search(q, 1, filter).indices[0]!;
    // The caller clears the best item in its own buffer: not the remembered answer any more.
    filter.words[top >>> 5]! &= ~(1 << (top & 31));
    const next = memo.search(q, 1, ItemFilter.fromWords(filter.words));
    expect(next.indices[0]).not.toBe(top);
    expect(searched()).toBe(2);
    // A removed item must not come back from memory.
    const unfiltered = memo.search(q, 1).indices[0]!;
    expect(memo.remove(unfiltered)).toBe(true);
    expect(memo.search(q, 1).indices[0]).not.toBe(unfiltered);
    // An added item that beats everything is found.
    const best = q.map((x) => x * 100);
    memo.add(3000, best);
    expect(memo.search(q, 1).indices[0]).toBe(3000);
    expect(searched()).toBe(5);
  });

  it('forgets its oldest answer at capacity', () => {
    const { memo, queries, searched } = setup(2);
    const [a, b, c] = queries as [Float32Array, Float32Array, Float32Array];
    memo.search(a, 5);
    memo.search(b, 5);
    memo.search(c, 5); // a is forgotten
    memo.search(c, 5);
    memo.search(b, 5);
    expect(searched()).toBe(3);
    memo.search(a, 5);
    expect(searched()).toBe(4);
    expect(() => new MemoIndex(ExactIndex.empty(4), 0)).toThrow(RangeError);
  });
});
