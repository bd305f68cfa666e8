import { describe, expect, it } from 'vitest';
import { buildItemCategories, TrendingModel } from '../../../models/trending.ts';
import { neighboursOf } from '../../../models/item-neighbours.ts';
import { createRng } from '../../../models/random.ts';

const H = 3_600_000;
const DAY = 24 * H;
const T0 = Date.UTC(2026, 0, 1);

describe('TrendingModel', () => {
  it('decays by half per half-life, relative to the query time', () => {
    const m = new TrendingModel({ items: 2, halfLifeMs: DAY });
    m.add(0, T0, 2);
    m.add(1, T0 + DAY, 1);
    const out = new Float64Array(2);
    m.scoresInto(T0 + DAY, out);
    expect(out[0]).toBeCloseTo(1, 12);
    expect(out[1]).toBeCloseTo(1, 12);
    m.scoresInto(T0 + 3 * DAY, out);
    expect(out[0]).toBeCloseTo(0.25, 12);
    expect(out[1]).toBeCloseTo(0.25, 12);
    expect(m.events).toBe(2);
    expect(m.newestTime).toBe(T0 + DAY);
  });

  it('under a short half-life, one recent event beats many old ones; under a long one it does not', () => {
    const build = (halfLifeMs: number) => {
      const m = new TrendingModel({ items: 2, halfLifeMs });
      for (let e = 0; e < 10; e++) m.add(0, T0 + e * H, 1); // 10 events on day 0
      m.add(1, T0 + 10 * DAY, 1); // 1 event on day 10
      return m;
    };
    const short = build(DAY).top(2);
    expect(Array.from(short.indices)).toEqual([1, 0]);
    expect(short.scores[0]).toBeCloseTo(1, 6);
    const long = build(30 * DAY).top(2);
    expect(Array.from(long.indices)).toEqual([0, 1]);
  });

  it('orders by score descending, then index ascending (tie rule pinned), and leaves unseen items out', () => {
    const m = new TrendingModel({ items: 6 });
    for (const i of [4, 2, 5]) m.add(i, T0, 1);
    m.add(3, T0, 3);
    const top = m.top(10);
    expect(Array.from(top.indices)).toEqual([3, 2, 4, 5]);
    expect(Array.from(top.scores)).toEqual([3, 1, 1, 1]);
    expect(Array.from(m.top(2).indices)).toEqual([3, 2]);
  });

  it('gives the same answer whatever the event order (and is deterministic)', () => {
    const rng = createRng(21);
    const n = 2000;
    const item = new Int32Array(n);
    const time = new Float64Array(n);
    const weight = new Float32Array(n);
    for (let e = 0; e < n; e++) {
      item[e] = rng.int(50);
      time[e] = T0 + rng.int(90) * DAY + rng.int(DAY);
      weight[e] = 1 + rng.int(3);
    }
    const a = new TrendingModel({ items: 50, halfLifeMs: 7 * DAY });
    a.addBatch(item, time, weight);
    const perm = Array.from(item.keys());
    for (let p = n - 1; p > 0; p--) {
      const q = rng.int(p + 1);
      [perm[p], perm[q]] = [perm[q]!, perm[p]!];
    }
    const b = new TrendingModel({ items: 50, halfLifeMs: 7 * DAY });
    for (const p of perm) b.add(item[p]!, time[p]!, weight[p]!);
    const at = T0 + 90 * DAY;
    const sa = new Float64Array(50);
    const sb = new Float64Array(50);
    a.scoresInto(at, sa);
    b.scoresInto(at, sb);
    // Against the direct formula too.
    const direct = new Float64Array(50);
    for (let e = 0; e < n; e++) direct[item[e]!]! += weight[e]! * 2 ** (-(at - time[e]!) / (7 * DAY));
    for (let i = 0; i < 50; i++) {
      expect(sb[i]).toBeCloseTo(sa[i]!, 9);
      expect(sa[i]).toBeCloseTo(direct[i]!, 9);
    }
    expect(Array.from(b.top(20).indices)).toEqual(Array.from(a.top(20).indices));
    const again = new TrendingModel({ items: 50, halfLifeMs: 7 * DAY });
    again.addBatch(item, time, weight);
    expect(again.serialize()).toEqual(a.serialize());
  });

  it('does not overflow over years of events with a short half-life (rebase), in any order', () => {
    const m = new TrendingModel({ items: 3, halfLifeMs: H, referenceTime: T0 });
    // Ten years of hourly events for item 0, then a late burst for item 1, and an event for
    // item 2 that arrives last but is years old.
    for (let t = 0; t < 10 * 365 * 24; t += 7) m.add(0, T0 + t * H, 1);
    const end = T0 + 10 * 365 * DAY;
    m.add(1, end, 3);
    m.add(2, T0 + 100 * H, 1_000_000);
    const out = new Float64Array(3);
    m.scoresInto(end, out);
    for (const s of out) expect(Number.isFinite(s)).toBe(true);
    expect(out[1]).toBeCloseTo(3, 9);
    // Item 0's last event was at t = 87598 h (= end − 2 h): 2^−2 plus its geometric tail.
    const last = Math.floor((10 * 365 * 24 - 1) / 7) * 7;
    const tail = 2 ** -((10 * 365 * 24 - last) as number) / (1 - 2 ** -7);
    expect(out[0]).toBeCloseTo(tail, 9);
    expect(out[2]).toBe(0);
    expect(Array.from(m.top(3).indices)).toEqual([1, 0]);
    // A model serialised after the rebase still answers the same.
    const copy = TrendingModel.deserialize(m.serialize().meta, m.serialize().buffers);
    const out2 = new Float64Array(3);
    copy.scoresInto(end, out2);
    expect(Array.from(out2)).toEqual(Array.from(out));
  });

  it('answers top-N per category, including every prefix of a category path', () => {
    const cats = buildItemCategories([
      ['Home > Kitchen > Mugs'], // 0
      ['Home > Kitchen > Mugs', 'Gifts'], // 1
      ['Home > Kitchen'], // 2
      ['Home > Garden'], // 3
      ['Gifts'], // 4
      [], // 5
    ]);
    expect(cats.names).toEqual(['Home', 'Home > Kitchen', 'Home > Kitchen > Mugs', 'Gifts', 'Home > Garden']);
    const id = (name: string) => cats.names.indexOf(name);
    const m = new TrendingModel({ items: 6, categories: cats });
    const weights = [5, 1, 3, 4, 2, 9];
    weights.forEach((w, i) => m.add(i, T0, w));
    const topOf = (name: string, k = 10) => Array.from(m.top(k, { category: id(name) }).indices);
    expect(topOf('Home')).toEqual([0, 3, 2, 1]);
    expect(topOf('Home', 2)).toEqual([0, 3]);
    expect(topOf('Home > Kitchen')).toEqual([0, 2, 1]);
    expect(topOf('Home > Kitchen > Mugs')).toEqual([0, 1]);
    expect(topOf('Gifts')).toEqual([4, 1]);
    expect(topOf('Home > Garden')).toEqual([3]);
    expect(Array.from(m.top(3).indices)).toEqual([5, 0, 3]);

    const all = m.topPerCategory(3);
    expect(all.rows).toBe(5);
    for (let c = 0; c < 5; c++) {
      const one = m.top(3, { category: c });
      expect(Array.from(neighboursOf(all, c).indices)).toEqual(Array.from(one.indices));
      expect(Array.from(neighboursOf(all, c).scores)).toEqual(Array.from(one.scores));
    }
    const perCategory = new Float64Array(5);
    m.categoryScoresInto(T0, perCategory);
    expect(Array.from(perCategory)).toEqual([13, 9, 6, 3, 4]);
    expect(() => m.top(1, { category: 5 })).toThrow(RangeError);
    expect(() => new TrendingModel({ items: 6 }).top(1, { category: 0 })).toThrow(RangeError);
  });

  it('rising ranks an item taking off above a bigger item selling steadily', () => {
    const m = new TrendingModel({ items: 2, halfLifeMs: DAY, baselineHalfLifeMs: 30 * DAY });
    const now = T0 + 60 * DAY;
    // Item 0: 20 a day for 60 days. Item 1: 1 a day, then 15 on the last day.
    for (let d = 0; d < 60; d++) {
      for (let e = 0; e < 20; e++) m.add(0, T0 + d * DAY + e * H, 1);
      m.add(1, T0 + d * DAY, 1);
    }
    for (let e = 0; e < 15; e++) m.add(1, now - e * H, 1);
    expect(Array.from(m.top(2, { at: now }).indices)).toEqual([0, 1]);
    const rising = m.top(2, { kind: 'rising', at: now });
    expect(Array.from(rising.indices)).toEqual([1, 0]);
    // A steady seller's rising score is near 1 (recent rate ≈ long-run rate).
    expect(rising.scores[1]).toBeGreaterThan(0.8);
    expect(rising.scores[1]).toBeLessThan(1.3);
    expect(rising.scores[0]).toBeGreaterThan(3);
    expect(() => new TrendingModel({ items: 1 }).top(1, { kind: 'rising' })).toThrow(RangeError);
  });

  it('round-trips through JSON metadata and raw buffers, and keeps ingesting identically', () => {
    const cats = buildItemCategories([['A > B'], ['A'], ['C']]);
    const m = new TrendingModel({ items: 3, baselineHalfLifeMs: 30 * DAY, categories: cats });
    m.add(0, T0, 1);
    m.add(2, T0 + H, 2);
    const { meta, buffers } = m.serialize();
    const json = JSON.parse(JSON.stringify(meta)) as typeof meta;
    const copy = TrendingModel.deserialize(json, {
      scores: new Float64Array(buffers.scores.buffer.slice(0)),
      baseline: new Float64Array(buffers.baseline.buffer.slice(0)),
      categoryIndptr: new Int32Array(buffers.categoryIndptr.buffer.slice(0)),
      categoryIndices: new Int32Array(buffers.categoryIndices.buffer.slice(0)),
    });
    for (const x of [m, copy]) {
      x.add(1, T0 + 2 * H, 5);
      x.add(0, T0 - DAY, 1);
    }
    expect(copy.serialize()).toEqual(m.serialize());
    expect(copy.top(3, { category: 0 })).toEqual(m.top(3, { category: 0 }));
    expect(copy.top(3, { kind: 'rising' })).toEqual(m.top(3, { kind: 'rising' }));
    expect(() => TrendingModel.deserialize({ ...json, formatVersion: 99 }, buffers)).toThrow(RangeError);
  });

  it('sets an item to a score at a time, kept elsewhere, that decays like the rest', () => {
    const m = new TrendingModel({ items: 3, halfLifeMs: DAY });
    m.add(0, T0, 4);
    m.setScore(1, T0 + DAY, 3);
    m.setScore(2, T0 + 200 * DAY, 1); // far past the reference: rebased, nothing overflows
    m.setScore(2, T0 + 200 * DAY, 2); // set, not added
    const out = new Float64Array(3);
    m.scoresInto(T0 + 201 * DAY, out);
    expect(out[1]).toBeCloseTo(3 * 2 ** -200, 70);
    expect(out[2]).toBeCloseTo(1, 12);
    expect(Array.from(out).every(Number.isFinite)).toBe(true);
    expect(m.newestTime).toBe(T0 + 200 * DAY);
    expect(() => m.setScore(3, T0, 1)).toThrow(RangeError);
    expect(() => m.setScore(0, T0, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it('rejects bad input', () => {
    const m = new TrendingModel({ items: 2 });
    expect(() => m.add(2, T0)).toThrow(RangeError);
    expect(() => m.add(0, Number.NaN)).toThrow(RangeError);
    expect(() => m.add(0, T0, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => new TrendingModel({ items: 2, halfLifeMs: 0 })).toThrow(RangeError);
    expect(
      () =>
        new TrendingModel({
          items: 2,
          categories: { categories: 1, indptr: new Int32Array(2), indices: new Int32Array(0) },
        }),
    ).toThrow(RangeError);
  });
});
