import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HierarchicalNSW } from 'hnswlib-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AnnIndexError } from '../../../src/errors.ts';
import { ExactIndex } from '../../../src/index/exact-index.ts';
import { HnswIndex, planStrata } from '../../../src/index/hnsw-index.ts';
import { ItemFilter } from '../../../src/index/item-filter.ts';
import { createRng } from '../../../models/random.ts';
import { bruteForce, clustered, describeAnnIndex, recallAt } from '../../helpers/describe-ann-index.ts';

// A low exactMaxAllowed, and no int8 scans in place of graph searches, so that the suite's
// filters go through the graph (over-fetch), not only through scans of the allowed items.
const GRAPH_FIRST = { exactMaxAllowed: 100, scanRowsPerEf: 0 };
describeAnnIndex('HnswIndex', () => ({
  build: (vectors, seed) => HnswIndex.build(vectors, { seed: seed ?? 42, ...GRAPH_FIRST }),
  load: (path, vectors) => HnswIndex.load(path, { ...GRAPH_FIRST, ...(vectors ? { vectors } : {}) }),
}));

// The default strategy: at these sizes most filters are answered by int8 scans.
describeAnnIndex('HnswIndex (default search options)', () => ({
  build: (vectors, seed) => HnswIndex.build(vectors, { seed: seed ?? 42 }),
  load: (path, vectors) => HnswIndex.load(path, vectors ? { vectors } : {}),
}));

/** The hnswlib graphs inside (native methods sit on a frozen prototype: spy on the instances). */
function graphsOf(index: HnswIndex): HierarchicalNSW[] {
  return (index as unknown as { strata: { graph: HierarchicalNSW }[] }).strata.map((s) => s.graph);
}

/** Spies on every graph's searchKnn; `calls()` lists [stratum, k, filter] in call order. */
function spyOnSearches(index: HnswIndex) {
  const log: [number, number, unknown][] = [];
  const spies = graphsOf(index).map((g, s) => {
    const original = g.searchKnn.bind(g);
    return vi.spyOn(g, 'searchKnn').mockImplementation((q, k, f) => {
      log.push([s, k, f]);
      return original(q, k, f);
    });
  });
  return { calls: () => log, restore: () => spies.forEach((x) => x.mockRestore()) };
}

describe('HnswIndex', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-hnsw-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('never hands hnswlib a JS filter callback on the search path', async () => {
    const { vectors, queries } = clustered(4000, 16, 40, 61);
    const index = await HnswIndex.build(vectors, { seed: 61, exactMaxAllowed: 200, scanRowsPerEf: 0 });
    const spy = spyOnSearches(index);
    try {
      const q = queries(1, 62)[0]!;
      const half = ItemFilter.fromMask(Uint8Array.from({ length: 4000 }, (_, i) => i % 2));
      const small = ItemFilter.fromItems([1, 2, 3, 50, 60]);
      index.search(q, 10);
      index.search(q, 10, half);
      index.search(q, 10, small);
      expect(index.counts).toMatchObject({
        unfiltered: 1,
        filteredExact: 1,
        filteredGraph: 1,
        stratumScans: 0,
      });
      expect(spy.calls().length).toBeGreaterThanOrEqual(2);
      for (const [, , f] of spy.calls()) expect(f).toBeUndefined();
      // The small filter was answered without the graphs: exactly the brute-force answer.
      const calls = spy.calls().length;
      const r = index.search(q, 3, small);
      expect(spy.calls().length).toBe(calls);
      expect(Array.from(r.indices)).toEqual(bruteForce(vectors, q, 3, (i) => small.has(i)).indices);
      // The comparison path does pass one.
      index.searchWithFilterCallback(q, 10, half);
      expect(typeof spy.calls().at(-1)![2]).toBe('function');
    } finally {
      spy.restore();
    }
  });

  it('over-fetches 4× deeper, then scans a stratum exactly, when the allowed items are far from the query', async () => {
    const { vectors, clusterOf, queries } = clustered(4000, 16, 40, 71);
    const index = await HnswIndex.build(vectors, {
      seed: 71,
      exactMaxAllowed: 100,
      overFetch: 1,
      maxFetch: 3000,
      scanRowsPerEf: 0,
    });
    const spy = spyOnSearches(index);
    const q = queries(1, 72)[0]!;
    // Allow the items of the clusters least aligned with the query.
    const top = bruteForce(vectors, q, 4000);
    const far = new Set(top.indices.slice(-400).map((i) => clusterOf[i]!));
    const filter = ItemFilter.fromMask(clusterOf.map((c) => (far.has(c) ? 1 : 0)));
    expect(filter.count).toBeGreaterThan(100);
    const truth = bruteForce(vectors, q, 10, (i) => filter.has(i)).indices;
    try {
      const r = index.search(q, 10, filter);
      for (const i of r.indices) expect(filter.has(i)).toBe(true);
      expect(recallAt(r, truth)).toBeGreaterThanOrEqual(0.9);
      expect(index.counts.deeper).toBeGreaterThanOrEqual(1);
      // Per stratum, each fetch is 4× the one before; the first stratum starts at k / fraction,
      // the others (once the pool holds k) 4× shallower.
      const byStratum = new Map<number, number[]>();
      for (const [s, k] of spy.calls()) byStratum.set(s, [...(byStratum.get(s) ?? []), k]);
      const first = Math.ceil((10 * 1) / (filter.count / 4000));
      for (const ks of byStratum.values()) {
        expect([first, Math.ceil(first / 4)]).toContain(ks[0]);
        ks.forEach((k, j) => expect(k).toBe(ks[0]! * 4 ** j));
      }
      // Capped at the first fetch: strata that need more are scanned exactly.
      index.configure({ maxFetch: first });
      const capped = index.search(q, 10, filter);
      expect(index.counts.stratumScans).toBeGreaterThanOrEqual(1);
      expect(recallAt(capped, truth)).toBeGreaterThanOrEqual(0.9);
    } finally {
      spy.restore();
    }
  });

  it('plans norm strata of bounded norm ratio, merging small ones', () => {
    // Norms 0.5 … 2 spread evenly in log: a 4× range needs ⌈ln 4 / ln 1.3⌉ = 6 strata.
    const n = 6000;
    const norms = Float64Array.from({ length: n }, (_, t) => 2 * 0.25 ** (t / (n - 1)));
    const bounds = planStrata(norms, 8, 1.3, 100);
    expect(bounds.length).toBe(6);
    expect(bounds.at(-1)).toBe(0);
    for (let s = 1; s < bounds.length - 1; s++) {
      expect(bounds[s - 1]! / bounds[s]!).toBeLessThanOrEqual(1.3);
      expect(bounds[s - 1]! / bounds[s]!).toBeGreaterThan(1.2);
    }
    expect(planStrata(norms, 3, 1.3, 100).length).toBe(3);
    const merged = planStrata(norms, 8, 1.3, 1500);
    const sizes = merged.map((b, s) => norms.filter((x) => x >= b && (s === 0 || x < merged[s - 1]!)).length);
    expect(sizes.reduce((a, b) => a + b)).toBe(n);
    for (const size of sizes) expect(size).toBeGreaterThanOrEqual(1500);
    expect(merged.length).toBeGreaterThanOrEqual(2);
    expect(planStrata(norms, 1, 1.3, 100)).toEqual([0]);
    expect(planStrata(new Float64Array(10), 8, 1.3, 1)).toEqual([0]);
    expect(planStrata(new Float64Array(50).fill(1), 8, 1.3, 1)).toEqual([0]);
  });

  it('puts added items in the stratum of their norm, and moves them when their norm changes', async () => {
    const { vectors, queries } = clustered(3000, 16, 20, 77);
    const index = await HnswIndex.build(vectors, { seed: 77, minStratumSize: 200 });
    expect(index.strataCount).toBeGreaterThan(1);
    const q = queries(1, 78)[0]!;
    const long = q.map((x) => 50 * x);
    const short = q.map((x) => 0.001 * x);
    index.add(3000, long);
    expect(index.search(q, 1).indices[0]).toBe(3000);
    index.add(3000, short); // moves to the last stratum
    expect(Array.from(index.search(q, 20).indices)).not.toContain(3000);
    index.add(3000, long); // and back
    expect(index.search(q, 1).indices[0]).toBe(3000);
    expect(index.size).toBe(3001);
    index.remove(3000);
    index.add(3000, short);
    expect(index.size).toBe(3001);
    const filter = ItemFilter.fromItems([3000, 1, 2, 3]);
    expect(Array.from(index.search(q, 4, filter).indices).sort((a, b) => a - b)).toEqual([1, 2, 3, 3000]);
  });

  it('reaches deep results through norm strata where one inner-product graph cannot', async () => {
    // One plain inner-product graph leaves most short vectors without incoming links, so the
    // top 200 (what a 10% filter needs) is found only in part; strata fix that.
    const { vectors, queries } = clustered(10_000, 32, 100, 75);
    const recall = async (strata: number) => {
      const index = await HnswIndex.build(vectors, { seed: 75, strata, efSearch: 200, minStratumSize: 500 });
      let sum = 0;
      const qs = queries(20, 76);
      for (const q of qs) sum += recallAt(index.search(q, 200), bruteForce(vectors, q, 200).indices);
      return sum / qs.length;
    };
    const single = await recall(1);
    const strata = await recall(8);
    expect(strata).toBeGreaterThanOrEqual(0.95);
    expect(single).toBeLessThan(strata - 0.05);
  });

  it('reports the same scores as ExactIndex for what it finds', async () => {
    const { vectors, queries } = clustered(2000, 24, 20, 81);
    const hnsw = await HnswIndex.build(vectors, { seed: 81 });
    const exact = ExactIndex.build(vectors);
    for (const q of queries(10, 82)) {
      const a = hnsw.search(q, 20);
      const b = exact.search(q, 2000);
      const scoreOf = new Map(Array.from(b.indices, (i, j) => [i, b.scores[j]!]));
      for (let j = 0; j < a.indices.length; j++) expect(a.scores[j]).toBe(scoreOf.get(a.indices[j]!));
    }
  });

  it('rejects vectors that are not the ones it was built from, and files that are not its own', async () => {
    const { vectors } = clustered(500, 8, 5, 91);
    const index = await HnswIndex.build(vectors, { seed: 91 });
    const path = join(dir, 'mismatch.hnsw');
    await index.save(path);
    const other = clustered(500, 8, 5, 92).vectors;
    await expect(HnswIndex.load(path, { vectors: other })).rejects.toThrow(AnnIndexError);
    await expect(HnswIndex.load(path, { vectors: { ...other, cols: 4, rows: 1000 } })).rejects.toThrow(
      AnnIndexError,
    );
    await ExactIndex.build(vectors).save(join(dir, 'exact.f32'));
    await expect(HnswIndex.load(join(dir, 'exact.f32'))).rejects.toThrow(/not hnsw/);
    await writeFile(path, 'not a graph');
    await expect(HnswIndex.load(path, { vectors })).rejects.toThrow(AnnIndexError);
    await expect(HnswIndex.load(join(dir, 'missing.hnsw'))).rejects.toThrow(AnnIndexError);
  });

  it('keeps search settings across save/load unless overridden, and validates them', async () => {
    const { vectors } = clustered(300, 8, 5, 93);
    const index = await HnswIndex.build(vectors, { seed: 93, efSearch: 40 });
    const path = join(dir, 'settings.hnsw');
    await index.save(path);
    expect((await HnswIndex.load(path, { vectors })).searchOptions.efSearch).toBe(40);
    expect((await HnswIndex.load(path, { vectors, efSearch: 70 })).searchOptions.efSearch).toBe(70);
    expect(() => index.configure({ efSearch: 0 })).toThrow(RangeError);
    expect(() => index.configure({ overFetch: Number.NaN })).toThrow(RangeError);
    index.configure({ exactMaxAllowed: 0 });
    expect(index.searchOptions.exactMaxAllowed).toBe(0);
  });

  it('builds the same graph for the same seed, and another for another seed', async () => {
    const { vectors } = clustered(2000, 8, 10, 94);
    const paths = [1, 1, 2].map((_, j) => join(dir, `seed-${j}.hnsw`));
    for (const [j, seed] of [1, 1, 2].entries())
      await (await HnswIndex.build(vectors, { seed })).save(paths[j]!);
    const [a, b, c] = await Promise.all(paths.map((p) => readFile(p)));
    expect(a!.equals(b!)).toBe(true);
    expect(a!.equals(c!)).toBe(false);
  });

  it('ends its build at the next yield once its signal aborts, rejecting with the reason', async () => {
    const { vectors } = clustered(20_000, 16, 10, 95);
    const stop = new AbortController();
    const reason = new Error('the train job failed');
    const seen: number[] = [];
    const build = HnswIndex.build(vectors, {
      signal: stop.signal,
      onProgress: (done) => {
        seen.push(done);
        stop.abort(reason);
      },
    });
    await expect(build).rejects.toBe(reason);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeLessThan(20_000);
    await expect(HnswIndex.build(vectors, { signal: stop.signal })).rejects.toBe(reason);
  });
});

describe('HnswIndex: int8 scans of the allowed items', () => {
  const n = 20_000;
  const { vectors, clusterOf, queries } = clustered(n, 32, 200, 101);
  const exact = ExactIndex.build(vectors);
  let index: HnswIndex;
  beforeAll(async () => {
    index = await HnswIndex.build(vectors, { seed: 101 });
  });

  /** Random and whole-cluster filters allowing about `fraction` of the items. */
  const filtersFor = (fraction: number, seed: number): [string, ItemFilter][] => {
    const rng = createRng(seed);
    const take = new Uint8Array(200).map(() => (rng.next() < fraction ? 1 : 0));
    return [
      [
        `random ${fraction}`,
        ItemFilter.fromMask(new Uint8Array(n).map(() => (rng.next() < fraction ? 1 : 0))),
      ],
      [`cluster ${fraction}`, ItemFilter.fromMask(clusterOf.map((c) => take[c]!))],
    ];
  };

  it('keeps recall ≥ 0.99 against exact search at k = 20 and 100 with 1% and 10% allowed, with exact scores', () => {
    const qs = queries(30, 102);
    for (const [label, filter] of [...filtersFor(0.01, 103), ...filtersFor(0.1, 104)]) {
      for (const k of [20, 100]) {
        const before = index.counts.filteredExact;
        let sum = 0;
        for (const q of qs) {
          const r = index.search(q, k, filter);
          const truth = exact.search(q, k, filter);
          sum += recallAt(r, Array.from(truth.indices));
          // Every score is ExactIndex's for that item.
          const all = exact.search(q, filter.count, filter);
          const scoreOf = new Map(Array.from(all.indices, (i, j) => [i, all.scores[j]!]));
          for (let j = 0; j < r.indices.length; j++) {
            expect(filter.has(r.indices[j]!)).toBe(true);
            expect(r.scores[j]).toBe(scoreOf.get(r.indices[j]!));
          }
        }
        expect(index.counts.filteredExact - before, label).toBe(qs.length);
        expect(sum / qs.length, `${label}, k = ${k}`).toBeGreaterThanOrEqual(0.99);
      }
    }
  });

  it('scans strata in place of deep graph searches where that is cheaper', () => {
    // Few scanned rows per unit of ef: the graphs serve the first fetches, scans the deep ones.
    index.configure({ scanRowsPerEf: 1, exactMaxAllowed: 0 });
    try {
      const start = { ...index.counts };
      let sum = 0;
      const qs = queries(20, 105);
      const [, filter] = filtersFor(0.2, 106)[1]!;
      for (const q of qs) {
        const r = index.search(q, 20, filter);
        for (const i of r.indices) expect(filter.has(i)).toBe(true);
        sum += recallAt(r, Array.from(exact.search(q, 20, filter).indices));
      }
      expect(index.counts.filteredGraph - start.filteredGraph).toBe(qs.length);
      expect(index.counts.stratumScansByCost - start.stratumScansByCost).toBeGreaterThanOrEqual(1);
      expect(sum / qs.length).toBeGreaterThanOrEqual(0.95);
    } finally {
      index.configure({ scanRowsPerEf: 60, exactMaxAllowed: 5000 });
    }
  });

  it('never returns a removed item, and finds an added or replaced one', async () => {
    const small = clustered(5000, 16, 50, 107);
    const idx = await HnswIndex.build(small.vectors, { seed: 107 });
    // 10% allowed (and item 5500, added below): more than the int8 pass keeps, so it decides
    // what is re-scored.
    const filter = ItemFilter.fromItems([...Array.from({ length: 500 }, (_, j) => j * 10), 5500]);
    const q = small.queries(1, 108)[0]!;
    const first = idx.search(q, 20, filter);
    const removed = new Set(Array.from(first.indices.subarray(0, 5)));
    for (const i of removed) expect(idx.remove(i)).toBe(true);
    const after = idx.search(q, 20, filter);
    for (const i of after.indices) expect(removed.has(i)).toBe(false);
    const truth = bruteForce(small.vectors, q, 20, (i) => filter.has(i) && !removed.has(i));
    expect(recallAt(after, truth.indices)).toBeGreaterThanOrEqual(0.95);

    // An item added past the rows (the int8 copy grows), and one whose vector is replaced.
    const boosted = q.map((x) => 10 * x);
    idx.add(5500, boosted);
    const withNew = idx.search(q, 20, filter);
    expect(withNew.indices[0]).toBe(5500);
    expect(withNew.scores[0]).toBe(
      ExactIndex.build({ data: boosted, rows: 1, cols: 16 }).search(q, 1).scores[0],
    );
    const replaced = after.indices[10]!;
    idx.add(
      replaced,
      q.map((x) => 20 * x),
    );
    expect(idx.search(q, 2, filter).indices[0]).toBe(replaced);
    idx.add(
      replaced,
      q.map((x) => -x),
    );
    expect(Array.from(idx.search(q, 20, filter).indices)).not.toContain(replaced);
    // Removed ones revived.
    const revived = [...removed][0]!;
    idx.add(
      revived,
      q.map((x) => 30 * x),
    );
    expect(idx.search(q, 1, filter).indices[0]).toBe(revived);
  });

  it('with rescore 0 scans in float32 only: exactly the exact answer', () => {
    index.configure({ rescore: 0 });
    try {
      const [, filter] = filtersFor(0.1, 109)[0]!;
      for (const q of queries(5, 110))
        expect(index.search(q, 20, filter)).toEqual(exact.search(q, 20, filter));
    } finally {
      index.configure({ rescore: 4 });
    }
  });
});
