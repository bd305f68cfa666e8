import { describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import {
  MAX_SIMD_DIMS,
  QuantizedRows,
  quantizeQuery,
  quantizeRow,
  queryRange,
  referenceScan,
} from '../../../src/index/quantized-rows.ts';

function gaussian(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function randomWords(n: number, density: number, seed: number): Uint32Array {
  const rng = createRng(seed);
  const words = new Uint32Array(n);
  for (let i = 0; i < 32 * n; i++) if (rng.next() < density) words[i >>> 5]! |= 1 << (i & 31);
  return words;
}

/** All of a scan's output, copied out of the chunk views. */
function scanAll(rows: QuantizedRows, query: Float32Array, words: Uint32Array[]) {
  const indices = new Int32Array(rows.rows);
  const scores = new Float32Array(rows.rows);
  const count = rows.scan(query, words, indices, scores);
  return { count, indices: indices.slice(0, count), scores: scores.slice(0, count) };
}

describe('QuantizedRows', () => {
  it('scores exactly as the JS reference (same integer dot products), SIMD or not, for any dims', () => {
    for (const dims of [1, 2, 7, 8, 16, 24, 63, 64, 72, 100, 130]) {
      const n = 900;
      const data = gaussian(n * dims, dims);
      const simd = QuantizedRows.create(dims, n);
      const js = QuantizedRows.create(dims, 0, { simd: false });
      simd.setAll(data, n);
      for (let i = 0; i < n; i++) js.set(i, data.subarray(i * dims, (i + 1) * dims));
      expect(simd.simd, `dims ${dims}`).toBe(true);
      expect(js.simd).toBe(false);
      // The kernel's quantizer (setAll) and the JS one (set) agree bit for bit.
      for (let i = 0; i < n; i++) {
        expect(simd.row(i).scale).toBe(js.row(i).scale);
        expect(simd.row(i).values).toEqual(js.row(i).values);
      }
      const query = gaussian(dims, 1000 + dims);
      // Three bitsets of different lengths, ANDed; the longest reaches past the rows.
      const words = [randomWords(40, 0.6, 1), randomWords(29, 0.7, 2), randomWords(33, 0.8, 3)];
      const want = referenceScan(simd, query, words);
      expect(want.count).toBeGreaterThan(100);
      for (const rows of [simd, js]) {
        const got = scanAll(rows, query, words);
        expect(got.count, `dims ${dims}`).toBe(want.count);
        expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
        expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
      }
    }
  });

  it('keeps the quantization error within half a step per value, and the score error within its bound', () => {
    const dims = 64;
    const n = 200;
    const data = gaussian(n * dims, 5).map((x, j) => x * Math.exp(Math.floor(j / dims) / 50 - 2));
    const rows = QuantizedRows.create(dims);
    rows.setAll(data, n);
    const query = gaussian(dims, 6);
    const q16 = new Int16Array(dims);
    const qScale = quantizeQuery(query, q16);
    expect(Math.max(...Array.from(q16, Math.abs))).toBe(queryRange(dims));
    for (let j = 0; j < dims; j++)
      expect(Math.abs(q16[j]! * qScale - query[j]!)).toBeLessThanOrEqual(qScale / 2 + 1e-7);
    const r = referenceScan(rows, query, [new Uint32Array(7).fill(0xffffffff)]);
    expect(r.count).toBe(n);
    for (let i = 0; i < n; i++) {
      const { values, scale } = rows.row(i);
      const x = data.subarray(i * dims, (i + 1) * dims);
      expect(Math.max(...Array.from(values, Math.abs))).toBe(127);
      let exact = 0;
      let bound = 0;
      for (let j = 0; j < dims; j++) {
        expect(Math.abs(values[j]! * scale - x[j]!)).toBeLessThanOrEqual(scale / 2 + 1e-6 * Math.abs(x[j]!));
        exact += x[j]! * query[j]!;
        // |x̂·q̂ − x·q| ≤ Σ |x̂ − x|·|q| + |x̂|·|q̂ − q|
        bound += (scale / 2) * Math.abs(query[j]!) + Math.abs(values[j]! * scale) * (qScale / 2);
      }
      expect(Math.abs(r.scores[i]! - exact)).toBeLessThanOrEqual(bound * 1.001 + 1e-6);
      // And far inside it in practice: the score is close to the exact one.
      expect(Math.abs(r.scores[i]! - exact)).toBeLessThan(0.02 * Math.sqrt(dims) * scale * 127);
    }
  });

  it('quantizes a zero or non-finite row to zeros with scale 0', () => {
    const out = new Int8Array(4).fill(9);
    expect(quantizeRow(new Float32Array(4), 0, 4, out, 0)).toBe(0);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
    out.fill(9);
    expect(quantizeRow(Float32Array.from([1, Infinity, 0, 2]), 0, 4, out, 0)).toBe(0);
    expect(Array.from(out)).toEqual([0, 0, 0, 0]);
    expect(quantizeRow(Float32Array.from([0, -2, 1, 0.5]), 0, 4, out, 0)).toBe(Math.fround(2 / 127));
    expect(Array.from(out)).toEqual([0, -127, 64, 32]);
  });

  it('grows as rows are added, keeping the rows it holds', () => {
    const dims = 24;
    const n = 5000;
    const data = gaussian(n * dims, 8);
    const rows = QuantizedRows.create(dims, 0);
    const fresh = QuantizedRows.create(dims, n);
    fresh.setAll(data, n);
    const bytes0 = rows.bytes;
    // Out of order, with gaps that are filled later.
    for (let i = 0; i < n; i += 2) rows.set(i, data.subarray(i * dims, (i + 1) * dims));
    const mid = rows.bytes;
    for (let i = n - 1; i > 0; i -= 2) rows.set(i, data.subarray(i * dims, (i + 1) * dims));
    expect(rows.rows).toBe(n);
    expect(rows.capacity).toBeGreaterThanOrEqual(n);
    expect(mid).toBeGreaterThan(bytes0);
    expect(rows.bytes).toBeGreaterThanOrEqual(n * (rows.stride + 4));
    for (let i = 0; i < n; i++) {
      expect(Array.from(rows.row(i).values)).toEqual(Array.from(fresh.row(i).values));
      expect(rows.row(i).scale).toBe(fresh.row(i).scale);
    }
    const query = gaussian(dims, 9);
    const words = [randomWords(200, 0.5, 10)];
    expect(scanAll(rows, query, words)).toEqual(scanAll(fresh, query, words));
    // A row set far beyond the others: the gap scores as zero rows, and only when allowed.
    rows.set(40_000, data.subarray(0, dims));
    const all = new Uint32Array(1251).fill(0xffffffff);
    const r = scanAll(rows, query, [all]);
    expect(r.count).toBe(40_001);
    expect(r.scores[20_000]).toBe(0);
    expect(r.scores[40_000]).toBe(r.scores[0]);
  });

  it('scans bitsets longer than one kernel call, and ignores bits past the rows', () => {
    const dims = 8;
    const n = 70_001; // more than 32 · 2048 rows: two chunks
    const rows = QuantizedRows.create(dims, n);
    rows.setAll(gaussian(n * dims, 11), n);
    const query = gaussian(dims, 12);
    const words = [randomWords(2300, 0.3, 13)];
    const want = referenceScan(rows, query, words);
    const got = scanAll(rows, query, words);
    expect(got.count).toBe(want.count);
    expect(got.indices[got.count - 1]).toBeLessThan(n);
    expect(Array.from(got.indices)).toEqual(Array.from(want.indices));
    expect(Array.from(got.scores)).toEqual(Array.from(want.scores));
    // The best rows across chunks (later chunks pass on only rows above the kept worst).
    const order = Array.from(want.indices.keys()).sort(
      (a, b) => want.scores[b]! - want.scores[a]! || want.indices[a]! - want.indices[b]!,
    );
    const top = (r: number) =>
      order
        .slice(0, r)
        .map((j) => want.indices[j]!)
        .sort((a, b) => a - b);
    const js = QuantizedRows.create(dims, 0, { simd: false });
    js.setAll(gaussian(n * dims, 11), n);
    for (const r of [1, 100, 5000]) {
      expect(Array.from(rows.best(query, words, r)), `r = ${r}`).toEqual(top(r));
      expect(Array.from(js.best(query, words, r)), `JS, r = ${r}`).toEqual(top(r));
    }
  });

  it('returns nothing for empty filters and empty rows', () => {
    const dims = 16;
    const rows = QuantizedRows.create(dims, 100);
    const query = gaussian(dims, 14);
    expect(scanAll(rows, query, [new Uint32Array(4).fill(0xffffffff)]).count).toBe(0); // no rows yet
    rows.setAll(gaussian(100 * dims, 15), 100);
    expect(scanAll(rows, query, [new Uint32Array(4)]).count).toBe(0);
    expect(scanAll(rows, query, [new Uint32Array(0)]).count).toBe(0);
    expect(scanAll(rows, query, [new Uint32Array(4).fill(0xffffffff), new Uint32Array(4)]).count).toBe(0);
    expect(rows.best(query, [new Uint32Array(4)], 10).length).toBe(0);
    expect(() => rows.scan(query, [], new Int32Array(1), new Float32Array(1))).toThrow(RangeError);
    expect(() => rows.best(query.subarray(1), [new Uint32Array(4)], 1)).toThrow(/query has 15 dims/);
  });

  it('picks the best r rows by approximate score, in ascending row order', () => {
    const dims = 32;
    const n = 3000;
    const rows = QuantizedRows.create(dims, n);
    rows.setAll(gaussian(n * dims, 16), n);
    const query = gaussian(dims, 17);
    const words = [randomWords(94, 0.4, 18)];
    const ref = referenceScan(rows, query, words);
    const order = Array.from(ref.indices.keys()).sort(
      (a, b) => ref.scores[b]! - ref.scores[a]! || ref.indices[a]! - ref.indices[b]!,
    );
    for (const r of [0, 1, 50, ref.count, ref.count + 10]) {
      const want = order
        .slice(0, r)
        .map((j) => ref.indices[j]!)
        .sort((a, b) => a - b);
      expect(Array.from(rows.best(query, words, r)), `r = ${r}`).toEqual(want);
    }
  });

  it('rejects bad shapes, and scans in JS past the longest row it unrolls', () => {
    expect(() => QuantizedRows.create(0)).toThrow(RangeError);
    expect(() => QuantizedRows.create(4, -1)).toThrow(RangeError);
    const rows = QuantizedRows.create(4);
    expect(() => rows.set(0, new Float32Array(3))).toThrow(/3 dims, expected 4/);
    expect(() => rows.set(-1, new Float32Array(4))).toThrow(RangeError);
    expect(() => rows.setAll(new Float32Array(7), 2)).toThrow(RangeError);
    const wide = QuantizedRows.create(MAX_SIMD_DIMS + 8, 4);
    expect(wide.simd).toBe(false);
    const data = gaussian(4 * wide.dims, 19);
    wide.setAll(data, 4);
    const query = gaussian(wide.dims, 20);
    expect(scanAll(wide, query, [Uint32Array.of(0b1011)])).toEqual(
      referenceScan(wide, query, [Uint32Array.of(0b1011)]),
    );
  });
});
