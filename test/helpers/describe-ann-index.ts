/**
 * One suite every `AnnIndex` implementation must pass (gorse checks HNSW against brute force
 * the same way). The truth is computed here with a plain loop, independent of both indexes.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vectors } from '../../models/matrix.ts';
import { createRng } from '../../models/random.ts';
import type { AnnIndex, AnnResult } from '../../src/index/ann-index.ts';
import { ItemFilter } from '../../src/index/item-filter.ts';
import { clusteredItems, userQueries } from './clustered-vectors.ts';

export interface AnnIndexHarness {
  /** Builds an index over every row of `vectors` (taken without copying). */
  build(vectors: Vectors, seed?: number): Promise<AnnIndex>;
  /** Loads what `save` wrote; `vectors` are the ones the index was built from, when given. */
  load(path: string, vectors?: Vectors): Promise<AnnIndex>;
}

/** Row-major matrix from rows. */
export function matrix(rows: number[][]): Vectors {
  const cols = rows[0]!.length;
  return { data: Float32Array.from(rows.flat()), rows: rows.length, cols };
}

/** {@link clusteredItems} with a query maker: `queries(count, seed)` gives one vector per query. */
export function clustered(n: number, dims: number, clusters: number, seed: number) {
  const { vectors, clusterOf, centers } = clusteredItems(n, dims, clusters, seed);
  const queries = (count: number, qseed: number): Float32Array[] => {
    const flat = userQueries(centers, dims, count, qseed);
    return Array.from({ length: count }, (_, q) => flat.subarray(q * dims, (q + 1) * dims));
  };
  return { vectors, clusterOf, queries };
}

/** Brute-force top-k (score desc, index asc) of the allowed rows, in float64. */
export function bruteForce(
  v: Vectors,
  query: Float32Array,
  k: number,
  allowed: (i: number) => boolean = () => true,
): { indices: number[]; scores: number[] } {
  const scored: [number, number][] = [];
  for (let i = 0; i < v.rows; i++) {
    if (!allowed(i)) continue;
    let s = 0;
    for (let j = 0; j < v.cols; j++) s += v.data[i * v.cols + j]! * query[j]!;
    scored.push([i, s]);
  }
  scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const top = scored.slice(0, k);
  return { indices: top.map((x) => x[0]), scores: top.map((x) => x[1]) };
}

export function recallAt(found: AnnResult, truth: number[]): number {
  if (truth.length === 0) return 1;
  const want = new Set(truth);
  let hits = 0;
  for (const i of found.indices) if (want.has(i)) hits++;
  return hits / truth.length;
}

function expectOrdered(r: AnnResult): void {
  expect(r.indices.length).toBe(r.scores.length);
  for (let j = 1; j < r.indices.length; j++) {
    const ok =
      r.scores[j - 1]! > r.scores[j]! ||
      (r.scores[j - 1] === r.scores[j] && r.indices[j - 1]! < r.indices[j]!);
    expect(
      ok,
      `position ${j}: ${r.indices[j - 1]}@${r.scores[j - 1]} then ${r.indices[j]}@${r.scores[j]}`,
    ).toBe(true);
  }
}

export function describeAnnIndex(name: string, make: () => AnnIndexHarness): void {
  describe(`AnnIndex: ${name}`, () => {
    const h = make();
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'shelf-ann-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    // 0: (1, 0)  1: (0, 1)  2: (0.5, 0.5)  3: (-1, 0)  4: (2, 0)
    const tiny = () =>
      matrix([
        [1, 0],
        [0, 1],
        [0.5, 0.5],
        [-1, 0],
        [2, 0],
      ]);

    it('answers a known tiny case, best first', async () => {
      const index = await h.build(tiny());
      expect(index.size).toBe(5);
      expect(index.itemSpace).toBe(5);
      expect(index.dims).toBe(2);
      const r = index.search(Float32Array.from([1, 0]), 3);
      expect(Array.from(r.indices)).toEqual([4, 0, 2]);
      expect(Array.from(r.scores)).toEqual([2, 1, 0.5]);
      const all = index.search(Float32Array.from([1, 0]), 10);
      expect(Array.from(all.indices)).toEqual([4, 0, 2, 1, 3]);
      expect(Array.from(all.scores)).toEqual([2, 1, 0.5, 0, -1]);
    });

    it('breaks score ties by the lower item index', async () => {
      const index = await h.build(tiny());
      // Against (0, 1): item 1 scores 1, item 2 0.5, items 0, 3 and 4 all score 0.
      const r = index.search(Float32Array.from([0, 1]), 5);
      expect(Array.from(r.indices)).toEqual([1, 2, 0, 3, 4]);
      // Identical vectors at 7, 3 and 5 among 40 distinct worse ones: ascending index order.
      const rows = Array.from({ length: 40 }, (_, i) => [0.01 * (i % 10), 1 - 0.02 * i]);
      for (const i of [7, 3, 5]) rows[i] = [5, 5];
      const dup = await h.build(matrix(rows));
      const top = dup.search(Float32Array.from([1, 1]), 4);
      expect(Array.from(top.indices.subarray(0, 3))).toEqual([3, 5, 7]);
      expect(top.scores[0]).toBe(10);
      expect(top.scores[2]).toBe(10);
      expect(top.scores[3]).toBeLessThan(10);
    });

    it('handles k = 0, k above the size, an empty index and a wrong query length', async () => {
      const index = await h.build(tiny());
      expect(index.search(Float32Array.from([1, 0]), 0).indices.length).toBe(0);
      expect(index.search(Float32Array.from([1, 0]), 100).indices.length).toBe(5);
      expect(() => index.search(Float32Array.from([1, 0, 0]), 3)).toThrow(RangeError);
      const empty = await h.build({ data: new Float32Array(0), rows: 0, cols: 3 });
      expect(empty.size).toBe(0);
      expect(empty.search(Float32Array.from([1, 0, 0]), 3).indices.length).toBe(0);
      empty.add(2, Float32Array.from([0, 0, 1]));
      expect(Array.from(empty.search(Float32Array.from([0, 0, 1]), 3).indices)).toEqual([2]);
      expect(empty.itemSpace).toBe(3);
    });

    it('adds, replaces, removes and revives items without a rebuild', async () => {
      const { vectors, queries } = clustered(300, 8, 10, 11);
      const index = await h.build(vectors);
      const q = queries(1, 12)[0]!;
      const boosted = q.map((x) => 10 * x);

      index.add(300, boosted);
      expect(index.size).toBe(301);
      expect(index.search(q, 1).indices[0]).toBe(300);
      expect(Array.from(index.vector(300)!)).toEqual(Array.from(boosted));

      expect(index.remove(300)).toBe(true);
      expect(index.remove(300)).toBe(false);
      expect(index.has(300)).toBe(false);
      expect(index.vector(300)).toBeNull();
      expect(index.size).toBe(300);
      expect(Array.from(index.search(q, 50).indices)).not.toContain(300);

      index.add(300, boosted);
      expect(index.search(q, 1).indices[0]).toBe(300);
      // Replacing the vector of a live item moves it.
      index.add(
        300,
        q.map((x) => -x),
      );
      expect(Array.from(index.search(q, 50).indices)).not.toContain(300);
      expect(index.size).toBe(301);

      // Far beyond the current item space: capacity grows (hnswlib resizeIndex), gaps stay empty.
      for (let i = 0; i < 400; i++)
        index.add(5000 + i, vectors.data.subarray((i % 300) * 8, (i % 300) * 8 + 8));
      index.add(9000, boosted);
      expect(index.itemSpace).toBe(9001);
      expect(index.size).toBe(702);
      expect(index.has(4000)).toBe(false);
      expect(index.search(q, 1).indices[0]).toBe(9000);
      for (const i of [0, 17, 299]) expect(index.remove(i)).toBe(true);
      const r = index.search(q, 30);
      expectOrdered(r);
      for (const i of r.indices) expect([0, 17, 299]).not.toContain(i);
      expect(() => index.add(-1, q)).toThrow(RangeError);
      expect(() => index.add(1.5, q)).toThrow(RangeError);
      expect(() => index.add(1, q.subarray(1))).toThrow(RangeError);
      expect(() =>
        index.add(
          1,
          q.map(() => Number.NaN),
        ),
      ).toThrow(RangeError);
    });

    it('filters: only allowed items, and exactly the exact top-k when few are allowed', async () => {
      const { vectors, queries } = clustered(3000, 16, 30, 21);
      const index = await h.build(vectors);
      const rng = createRng(22);
      const allowedList = Array.from({ length: 40 }, () => rng.int(3000));
      const filter = ItemFilter.fromItems(allowedList, 3000);
      index.remove(allowedList[0]!);
      for (const q of queries(10, 23)) {
        const r = index.search(q, 10, filter);
        expectOrdered(r);
        const truth = bruteForce(vectors, q, 10, (i) => filter.has(i) && i !== allowedList[0]);
        expect(Array.from(r.indices)).toEqual(truth.indices);
        for (let j = 0; j < 10; j++) expect(r.scores[j]).toBeCloseTo(truth.scores[j]!, 4);
      }
      expect(index.search(queries(1, 24)[0]!, 10, ItemFilter.fromItems([], 3000)).indices.length).toBe(0);
      // A filter longer or shorter than the item space.
      const wide = index.search(queries(1, 25)[0]!, 5, ItemFilter.fromItems([2, 9999]));
      expect(Array.from(wide.indices)).toEqual([2]);
    });

    it('saves and loads: same answers, with and without the vectors', async () => {
      const { vectors, queries } = clustered(2000, 16, 20, 31);
      const index = await h.build(vectors);
      index.remove(5);
      index.remove(6);
      index.add(2100, vectors.data.slice(0, 16));
      const path = join(dir, `round-trip-${name}`);
      const files = await index.save(path);
      // Serving checks for `path` itself in the version's files: it must always be written.
      expect(files).toContain(path);
      expect(files).toContain(`${path}.json`);
      for (const f of files) expect((await stat(f)).size).toBeGreaterThan(0);
      const shared = await h.load(path, vectors);
      const alone = await h.load(path);
      const filter = ItemFilter.fromItems(Array.from({ length: 1000 }, (_, i) => i * 2 + 1));
      for (const loaded of [shared, alone]) {
        expect(loaded.kind).toBe(index.kind);
        expect(loaded.size).toBe(index.size);
        expect(loaded.itemSpace).toBe(2101);
        expect(loaded.has(5)).toBe(false);
        expect(Array.from(loaded.vector(2100)!)).toEqual(Array.from(vectors.data.subarray(0, 16)));
        for (const q of queries(10, 32)) {
          expect(loaded.search(q, 20)).toEqual(index.search(q, 20));
          expect(loaded.search(q, 20, filter)).toEqual(index.search(q, 20, filter));
        }
      }
    });

    it('keeps recall@20 ≥ 0.95 against brute force on 20k × 32, filtered at 1%, 10% and 50%', async () => {
      const n = 20_000;
      const { vectors, clusterOf, queries } = clustered(n, 32, 200, 41);
      const index = await h.build(vectors, 41);
      const qs = queries(40, 42);
      const rng = createRng(43);
      const cases: [string, ItemFilter | undefined][] = [['none', undefined]];
      for (const fraction of [0.01, 0.1, 0.5]) {
        const random = new Uint8Array(n).map(() => (rng.next() < fraction ? 1 : 0));
        const take = new Uint8Array(200).map(() => (rng.next() < fraction ? 1 : 0));
        cases.push([`random ${fraction}`, ItemFilter.fromMask(random)]);
        cases.push([`cluster ${fraction}`, ItemFilter.fromMask(clusterOf.map((c) => take[c]!))]);
      }
      for (const [label, filter] of cases) {
        let sum = 0;
        for (const q of qs) {
          const r = index.search(q, 20, filter);
          if (filter) for (const i of r.indices) expect(filter.has(i)).toBe(true);
          sum += recallAt(r, bruteForce(vectors, q, 20, filter ? (i) => filter.has(i) : undefined).indices);
        }
        expect(sum / qs.length, label).toBeGreaterThanOrEqual(0.95);
      }
    });

    it('is deterministic for a seed: same answers and same saved bytes', async () => {
      const { vectors, queries } = clustered(3000, 16, 30, 51);
      const a = await h.build(vectors, 7);
      const b = await h.build(vectors, 7);
      for (const q of queries(20, 52)) expect(a.search(q, 20)).toEqual(b.search(q, 20));
      const fa = await a.save(join(dir, `seed-a-${name}`));
      const fb = await b.save(join(dir, `seed-b-${name}`));
      expect(fa.length).toBe(fb.length);
      for (let j = 0; j < fa.length; j++) {
        expect((await readFile(fa[j]!)).equals(await readFile(fb[j]!)), fa[j]).toBe(true);
      }
    });
  });
}
