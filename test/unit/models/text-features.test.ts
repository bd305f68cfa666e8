import { describe, expect, it } from 'vitest';
import {
  TermsMemo,
  TextFeatures,
  hashToken,
  itemTokens,
  murmur3,
  priceBand,
  tokenize,
} from '../../../models/text-features.ts';
import type { ItemContent } from '../../../models/text-features.ts';

const item = (title: string, extra: Partial<ItemContent> = {}): ItemContent => ({
  title,
  categories: [],
  ...extra,
});

/** The row of `x` as a column → value map. */
function row(x: ReturnType<TextFeatures['transform']>, r: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let p = x.indptr[r]!; p < x.indptr[r + 1]!; p++) out.set(x.indices[p]!, x.values[p]!);
  return out;
}

describe('murmur3', () => {
  it('matches the reference MurmurHash3 x86-32 vectors', () => {
    expect(hashToken('', 0)).toBe(0);
    expect(hashToken('', 1)).toBe(0x514e28b7);
    expect(hashToken('a', 0)).toBe(0x3c2569b2);
    expect(hashToken('abc', 0)).toBe(0xb3dd93fa);
    expect(hashToken('hello', 0)).toBe(0x248bfa47);
    expect(hashToken('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
  });

  it('hashes only the first `length` bytes and UTF-8 encodes', () => {
    const bytes = new TextEncoder().encode('abcdef');
    expect(murmur3(bytes, 3, 0)).toBe(0xb3dd93fa);
    expect(hashToken('é')).toBe(murmur3(Uint8Array.of(0xc3, 0xa9), 2, 0));
  });
});

describe('tokens', () => {
  it('lower-cases runs of letters and digits (NFKC)', () => {
    expect(tokenize('WHITE HANGING HEART T-LIGHT HOLDER')).toEqual([
      'white',
      'hanging',
      'heart',
      't',
      'light',
      'holder',
    ]);
    expect(tokenize('Café ÜBER 12-pack, ﬁne!')).toEqual(['café', 'über', '12', 'pack', 'fine']);
    expect(tokenize(' -- ')).toEqual([]);
  });

  it('makes unigrams and bigrams inside each field, category prefixes, brand and price band', () => {
    const tokens = itemTokens({
      title: 'Red Mug',
      description: 'Large',
      categories: [' Home  >Kitchen > Mugs', 'Gifts'],
      brand: '  ACME Ltd ',
      price: 2.55,
    });
    expect(tokens).toEqual([
      'w:red',
      'w:mug',
      'w:red mug',
      'w:large', // no bigram across title and description
      'c:home',
      'c:home > kitchen',
      'c:home > kitchen > mugs',
      'c:gifts',
      'b:acme ltd',
      'p:2', // ⌊log2(2.55) · 2⌋ = ⌊2.70⌋
    ]);
    expect(itemTokens({ title: 'red mug', categories: [] }, { bigrams: false })).toEqual(['w:red', 'w:mug']);
    expect(itemTokens({ title: 'Mugs', categories: [] }, { charNgrams: 3 })).toEqual([
      'w:mugs',
      'g:#mu',
      'g:mug',
      'g:ugs',
      'g:gs#',
    ]);
  });

  it('puts prices in log-scale bands and ignores unusable prices', () => {
    expect(priceBand(1, 2)).toBe(0);
    expect(priceBand(1.41, 2)).toBe(0);
    expect(priceBand(1.42, 2)).toBe(1);
    expect(priceBand(4, 2)).toBe(4);
    expect(priceBand(0.5, 2)).toBe(-2);
    expect(priceBand(1000, 1)).toBe(9);
    for (const bad of [undefined, 0, -3, Number.NaN, Number.POSITIVE_INFINITY])
      expect(priceBand(bad, 2)).toBeNull();
    expect(priceBand(10, 0)).toBeNull();
  });
});

describe('TextFeatures', () => {
  const corpus: ItemContent[] = [
    item('red mug', { categories: ['Home > Kitchen'], price: 3 }),
    item('blue mug', { categories: ['Home > Kitchen'], brand: 'Acme' }),
    item('red scarf', { categories: ['Fashion'] }),
    item('green teapot', { description: 'a big teapot', categories: ['Home > Kitchen'] }),
  ];

  it('is deterministic: two fits give identical state and rows', () => {
    const a = TextFeatures.fit(corpus, { dims: 1 << 12 });
    const b = TextFeatures.fit(corpus, { dims: 1 << 12 });
    expect(b.state()).toEqual(a.state());
    expect(b.transform(corpus)).toEqual(a.transform(corpus));
  });

  it('fitTransform gives the features and rows of fit then transform, minDf included', () => {
    const more = [...corpus, item('red red mug mug', { description: 'blue teapot', brand: 'Acme' })];
    for (const options of [{ dims: 1 << 12 }, { dims: 1 << 4, minDf: 2 }]) {
      const { features, x } = TextFeatures.fitTransform(more, options);
      const fitted = TextFeatures.fit(more, options);
      expect(features.state()).toEqual(fitted.state());
      expect(x).toEqual(fitted.transform(more));
    }
  });

  it('gives the same features and rows from a terms memo, which tokenizes each item once', () => {
    const more = [...corpus, item('red red mug mug', { description: 'blue teapot', brand: 'Acme' })].map(
      (i) => ({
        ...i,
      }),
    );
    const options = { dims: 1 << 12, minDf: 2 };
    const plain = TextFeatures.fitTransform(more.slice(0, 4), options);
    const memo = new TermsMemo(options);
    const fitted = TextFeatures.fitTransform(more.slice(0, 4), options, memo);
    expect(fitted.features.state()).toEqual(plain.features.state());
    expect(fitted.x).toEqual(plain.x);
    expect(fitted.features.transform(more, memo)).toEqual(plain.features.transform(more));
    // Remembered by item, not tokenized again: an item edited in place keeps its first terms.
    const before = plain.features.transform(more.slice(0, 1));
    more[0]!.title = 'completely different words';
    expect(fitted.features.transform(more.slice(0, 1), memo)).toEqual(before);
    expect(plain.features.transform(more.slice(0, 1))).not.toEqual(before);
    // Made for other options: refused. minDf is the fit's alone: any is served.
    expect(() => TextFeatures.fitTransform(more, { dims: 1 << 10 }, memo)).toThrow(
      /other text feature options/,
    );
    expect(TextFeatures.fitTransform(more, { dims: 1 << 12 }, memo).x.rows).toBe(more.length);
  });

  it('collects a memo ahead of use in chunks, letting the event loop run between them', async () => {
    const many = Array.from({ length: 25 }, (_, i) => item(`mug ${i}`, { brand: i % 2 ? 'Acme' : 'Bolt' }));
    const options = { dims: 1 << 12 };
    const memo = new TermsMemo(options);
    let ticks = 0;
    const immediate = setImmediate(() => ticks++);
    await memo.collect(many, 10);
    clearImmediate(immediate);
    expect(ticks).toBe(1);
    // Collected: an item edited afterwards keeps the terms collected for it.
    const plain = TextFeatures.fitTransform(many, options);
    many[0]!.title = 'completely different words';
    expect(TextFeatures.fitTransform(many, options, memo).x).toEqual(plain.x);
  });

  it('puts each token in bucket hash & (dims − 1) with the sign of the top bit, idf-weighted, unit norm', () => {
    const dims = 1 << 10;
    const features = TextFeatures.fit([item('alpha'), item('alpha beta')], { dims, bigrams: false });
    const { buckets, idf } = features.state();
    const hA = hashToken('w:alpha');
    const hB = hashToken('w:beta');
    expect(hA & (dims - 1)).not.toBe(hB & (dims - 1)); // the test needs distinct buckets
    expect(Array.from(buckets)).toEqual([hA & (dims - 1), hB & (dims - 1)].sort((p, q) => p - q));
    const colA = buckets.indexOf(hA & (dims - 1));
    const colB = buckets.indexOf(hB & (dims - 1));
    expect(idf[colA]).toBeCloseTo(1, 6); // in every document: ln(3/3) + 1
    expect(idf[colB]).toBeCloseTo(Math.log(3 / 2) + 1, 6);
    const x = features.transform([item('alpha beta')]);
    const r = row(x, 0);
    const wA = (hA >>> 31 ? -1 : 1) * idf[colA]!;
    const wB = (hB >>> 31 ? -1 : 1) * idf[colB]!;
    const norm = Math.hypot(wA, wB);
    expect(r.get(colA)).toBeCloseTo(wA / norm, 6);
    expect(r.get(colB)).toBeCloseTo(wB / norm, 6);
  });

  it('weights repeated terms by 1 + ln(tf)', () => {
    const features = TextFeatures.fit([item('zeta'), item('eta')], { dims: 1 << 12, bigrams: false });
    const x = features.transform([item('zeta zeta eta')]);
    const vals = Array.from(x.values, Math.abs).sort((a, b) => a - b);
    expect(vals[1]! / vals[0]!).toBeCloseTo(1 + Math.log(2), 5); // both idf = ln(3/2) + 1
  });

  it('gives sorted columns and unit-norm rows; an empty item gives an empty row', () => {
    const features = TextFeatures.fit(corpus, { dims: 1 << 12 });
    const x = features.transform([...corpus, item('')]);
    expect(x.cols).toBe(features.columns);
    for (let r = 0; r < corpus.length; r++) {
      let ss = 0;
      for (let p = x.indptr[r]!; p < x.indptr[r + 1]!; p++) {
        if (p > x.indptr[r]!) expect(x.indices[p]!).toBeGreaterThan(x.indices[p - 1]!);
        ss += x.values[p]! ** 2;
      }
      expect(ss).toBeCloseTo(1, 5);
    }
    expect(x.indptr[corpus.length + 1]).toBe(x.indptr[corpus.length]);
  });

  it('drops unseen tokens but counts them in the norm, so the known part shrinks', () => {
    const features = TextFeatures.fit([item('mug'), item('cup')], { dims: 1 << 12 });
    const known = features.transform([item('mug')]);
    const mixed = features.transform([item('mug', { description: 'zebra' })]);
    expect(Math.abs(known.values[0]!)).toBeCloseTo(1, 6);
    expect(mixed.indices.length).toBe(1);
    expect(mixed.indices[0]).toBe(known.indices[0]);
    expect(Math.abs(mixed.values[0]!)).toBeLessThan(0.8);
  });

  it('keeps only buckets in at least minDf training items', () => {
    const all = TextFeatures.fit(corpus, { dims: 1 << 12 });
    const common = TextFeatures.fit(corpus, { dims: 1 << 12, minDf: 2 });
    expect(common.columns).toBeLessThan(all.columns);
    // mug, red, c:home, c:home > kitchen appear in two or more items.
    expect(common.columns).toBe(4);
  });

  it('restores from its state and rejects a corrupt one', () => {
    const a = TextFeatures.fit(corpus, { dims: 1 << 12 });
    const state = a.state();
    expect(TextFeatures.fromState(state).transform(corpus)).toEqual(a.transform(corpus));
    const unsorted = Int32Array.from(state.buckets).reverse();
    expect(() => TextFeatures.fromState({ ...state, buckets: unsorted })).toThrow(RangeError);
    const badIdf = Float32Array.from(state.idf);
    badIdf[0] = Number.NaN;
    expect(() => TextFeatures.fromState({ ...state, idf: badIdf })).toThrow(RangeError);
    expect(() => TextFeatures.fromState({ ...state, idf: state.idf.subarray(1) })).toThrow(RangeError);
  });

  it('rejects bad options', () => {
    expect(() => TextFeatures.fit(corpus, { dims: 1000 })).toThrow(RangeError);
    expect(() => TextFeatures.fit(corpus, { dims: 1 << 25 })).toThrow(RangeError);
    expect(() => TextFeatures.fit(corpus, { minDf: 0 })).toThrow(RangeError);
    expect(() => TextFeatures.fit(corpus, { priceBandsPerDoubling: -1 })).toThrow(RangeError);
  });
});
