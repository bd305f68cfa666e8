import { describe, expect, it } from 'vitest';
import type { ContentEncoder } from '../../../models/content-encoder.ts';
import { ItemFilter } from '../../../src/index/item-filter.ts';
import { applyItems } from '../../../src/serving/served.ts';
import type { Item } from '../../../src/store/types.ts';
import { item, ITEMS, loaded, model, NOW, served } from '../../helpers/served-fixture.ts';

/** An encoder that puts an item on the axis its title names (`x …` or `y …`). */
const axisEncoder = {
  factors: 2,
  encodeInto(items: readonly Item[], out: Float32Array) {
    items.forEach((it, r) => out.set(it.title.startsWith('x') ? [2, 0] : [0, 2], r * 2));
  },
} as unknown as ContentEncoder; // only `factors` and `encodeInto` are used by serving

describe('catalogue vectors beside an immutable model', () => {
  it("gives items the model never saw a content vector, searched with the model's items", async () => {
    const s = await loaded({ model: model({ encoder: axisEncoder }) });
    const all = ItemFilter.all(s.catalog.size);
    // g (cold, title "Title g": the y axis) has [0, 2], the best match for [0, 1].
    expect(Array.from(s.vectors.vector(6)!)).toEqual([0, 2]);
    expect(Array.from(s.vectors.search(Float32Array.from([0, 1]), 3, all).indices)).toEqual([6, 2, 3]);
    applyItems(s, [item('h', ['Toys'], { title: 'x-ray goggles' })]);
    const h = s.catalog.indexOf('h')!;
    expect(Array.from(s.vectors.search(Float32Array.from([1, 0]), 2, all).indices)).toEqual([0, 1]); // h: not in the filter
    const wider = ItemFilter.all(s.catalog.size);
    expect(Array.from(s.vectors.search(Float32Array.from([1, 0]), 2, wider).indices)).toEqual([h, 0]);
    // Only the allowed ones.
    expect(
      Array.from(
        s.vectors.search(Float32Array.from([1, 0]), 2, ItemFilter.fromItems([h, 1], s.catalog.size)).indices,
      ),
    ).toEqual([h, 1]);
  });

  it('drops the vector of an item delisted while served, and restores it when listed again', async () => {
    const s = await loaded({ model: model({ encoder: axisEncoder }) });
    applyItems(s, [
      item('a', ['Home > Kitchen'], { status: 'delisted' }),
      item('g', ['Home'], { status: 'delisted' }),
    ]);
    expect(s.vectors.vector(0)).toBeNull();
    expect(s.vectors.vector(6)).toBeNull();
    applyItems(s, [item('a', ['Home > Kitchen']), item('g', ['Home'])]);
    expect(Array.from(s.vectors.vector(0)!)).toEqual([1, 0]);
    expect(Array.from(s.vectors.vector(6)!)).toEqual([0, 2]);
  });

  it('never writes into the model while served: item changes and events go to the state beside it', async () => {
    const m = model({ encoder: axisEncoder });
    const s = await loaded({ model: m });
    const before = { size: m.index!.size, space: m.index!.itemSpace, items: [...m.itemIds] };
    applyItems(s, [item('new', ['Toys'], { title: 'x' }), item('b', ['Home'], { status: 'delisted' })]);
    s.trending.setScore(s.catalog.indexOf('new')!, NOW, 8); // as TrendingState mirrors the counters
    expect({ size: m.index!.size, space: m.index!.itemSpace, items: [...m.itemIds] }).toEqual(before);
    expect(m.index!.vector(1)).not.toBeNull();
    expect(s.trending.top(1, { at: NOW }).indices[0]).toBe(s.catalog.indexOf('new'));
  });

  it('adds the unseen items a slice at a time, the event loop turning between slices', async () => {
    const extra = Array.from({ length: 30 }, (_, k) => item(`n${k}`, ['Toys'], { title: k % 2 ? 'x' : 'y' }));
    const s = served({ model: model({ encoder: axisEncoder }), items: [...ITEMS, ...extra] });
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const done = s.vectors.addUnseen(0);
    expect(s.vectors.vector(6)).not.toBeNull(); // the first slice, before the first turn
    expect(s.vectors.vector(s.catalog.indexOf('n29')!)).toBeNull();
    await done;
    ticking = false;
    // A slice of 0 ms is one item: a turn after each of g, n0 … n29 but the first.
    expect(turns).toBeGreaterThanOrEqual(20);
    expect(Array.from(s.vectors.vector(s.catalog.indexOf('n29')!)!)).toEqual([2, 0]);
  });

  it('serves no vector without an index, and content vectors only with an encoder', async () => {
    const bare = served({ model: model({ index: null, als: null }) });
    expect(bare.vectors.searchable).toBe(false);
    expect(served().vectors.vector(6)).toBeNull();
  });

  it('answers the same for items added while served as for the same items present at load', async () => {
    const extra = Array.from({ length: 40 }, (_, k) => item(`n${k}`, ['Toys'], { title: k % 2 ? 'x' : 'y' }));
    const atLoad = await loaded({ model: model({ encoder: axisEncoder }), items: [...ITEMS, ...extra] });
    const later = await loaded({ model: model({ encoder: axisEncoder }) });
    applyItems(later, extra);
    const all = ItemFilter.all(atLoad.catalog.size);
    for (const q of [
      [1, 0],
      [0, 1],
      [0.6, 0.8],
    ]) {
      const a = later.vectors.search(Float32Array.from(q), 12, all);
      expect(Array.from(a.indices)).toEqual(
        Array.from(atLoad.vectors.search(Float32Array.from(q), 12, all).indices),
      );
      for (let r = 1; r < a.indices.length; r++)
        expect(
          a.scores[r - 1]! > a.scores[r]! ||
            (a.scores[r - 1] === a.scores[r] && a.indices[r - 1]! < a.indices[r]!),
        ).toBe(true);
    }
    expect(Array.from(later.vectors.vector(later.catalog.indexOf('n1')!)!)).toEqual([2, 0]);
  });
});
