import { mkdir, mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlsModel } from '../../../models/als.ts';
import type { AlsOptions } from '../../../models/als.ts';
import { csrFromCoo } from '../../../models/sparse.ts';
import { AlsShardStore } from '../../../training/als-shard-store.ts';
import { checkShardSpec } from '../../../training/als-shard-job.ts';
import { ThreadShardTransport } from '../../../training/als-shard-threads.ts';
import { ShardedAlsSolver } from '../../../training/sharded-als-solver.ts';
import type { AlsShardTransport } from '../../../training/sharded-als-solver.ts';
import { powerLawInteractions } from '../../../training/datasets/synthetic-interactions.ts';
import { bitDifferences, sameBits } from '../../helpers/same-bits.ts';

const train = powerLawInteractions({ users: 2000, items: 300, interactions: 30_000, seed: 5 });
const OPTIONS: AlsOptions = { factors: 16, iterations: 4, seed: 9, workers: 1 };

describe('ShardedAlsSolver', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shelf-als-shards-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('fits over 2 worker threads to factors bit-identical to the single-process fit, and cleans up', async () => {
    const plain = new AlsModel(OPTIONS);
    await plain.fit(train);
    const store = new AlsShardStore(root);
    const transport = new ThreadShardTransport({ root, threads: 2 });
    let iterations = 0;
    try {
      const sharded = new AlsModel({
        ...OPTIONS,
        sideSolver: new ShardedAlsSolver({ store, transport, shards: 5 }),
        onIteration: () => iterations++,
      });
      await sharded.fit(train);
      expect(iterations).toBe(4);
      expect(bitDifferences(sharded.userFactors, plain.userFactors)).toEqual(
        sameBits(plain.userFactors.length),
      );
      expect(bitDifferences(sharded.itemFactors, plain.itemFactors)).toEqual(
        sameBits(plain.itemFactors.length),
      );
    } finally {
      await transport.close();
    }
    expect(await readdir(root)).toEqual([]);
  });

  it('fails the fit when its shards cannot be run, and removes its files', async () => {
    let calls = 0;
    const failing: AlsShardTransport = {
      parallelism: 1,
      run: () => {
        calls++;
        return Promise.reject(new Error('shard lost'));
      },
      close: () => Promise.resolve(),
    };
    const model = new AlsModel({
      ...OPTIONS,
      sideSolver: new ShardedAlsSolver({ store: new AlsShardStore(root), transport: failing }),
    });
    await expect(model.fit(train)).rejects.toThrow('shard lost');
    expect(calls).toBe(1);
    expect(await readdir(root)).toEqual([]);
  });
});

describe('AlsShardStore', () => {
  it('reads back any rows of a matrix, and refuses fit ids that are not one path segment', async () => {
    const root = await mkdtemp(join(tmpdir(), 'shelf-als-store-'));
    try {
      const store = new AlsShardStore(root);
      const m = csrFromCoo(
        4,
        3,
        new Int32Array([0, 0, 2, 3, 3, 3]),
        new Int32Array([0, 2, 1, 0, 1, 2]),
        new Float32Array([1, 2, 3, 4, 5, 6]),
      );
      await store.writeMatrix('fit-1', 'users', m);
      const rows = await store.readMatrixRows('fit-1', 'users', 2, 4);
      expect([...rows.indptr]).toEqual([0, 1, 4]);
      expect([...rows.indices]).toEqual([1, 0, 1, 2]);
      expect([...rows.values]).toEqual([3, 4, 5, 6]);
      const empty = await store.readMatrixRows('fit-1', 'users', 1, 2);
      expect([...empty.indptr]).toEqual([0, 0]);
      await expect(store.readMatrixRows('fit-1', 'users', 3, 5)).rejects.toThrow(RangeError);
      await store.writeHalfStep('fit-1', 1, 'users', { solved: new Float32Array([1, 2, 3, 4, 5, 6]) });
      const part = await store.readHalfStep('fit-1', 1, 'users', 'solved', new Float32Array(2), 3);
      expect([...part]).toEqual([4, 5]);
      await expect(store.readHalfStep('fit-1', 1, 'users', 'solved', new Float32Array(4), 3)).rejects.toThrow(
        'short',
      );
      expect(() => store.fitDir('../etc')).toThrow(RangeError);
      // A fit untouched for a day (its coordinator died) goes; a live one and other names stay.
      const dayAgo = new Date(Date.now() - 86_400_000);
      await utimes(store.fitDir('fit-1'), dayAgo, dayAgo);
      await mkdir(store.fitDir('fit-2'));
      await mkdir(join(root, 'not.a.fit'));
      await utimes(join(root, 'not.a.fit'), dayAgo, dayAgo);
      expect(await store.removeAbandoned(3_600_000)).toEqual(['fit-1']);
      expect((await readdir(root)).sort()).toEqual(['fit-2', 'not.a.fit']);
      expect(await new AlsShardStore(join(root, 'none')).removeAbandoned(0)).toEqual([]);
      expect(() => checkShardSpec({ fitId: 'x' })).toThrow(RangeError);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('ThreadShardTransport', () => {
  it('runs again the shard of a thread that died mid-fit, on a new thread: the same factors', async () => {
    const root = await mkdtemp(join(tmpdir(), 'shelf-als-threads-'));
    const marker = join(root, 'crashed');
    process.env.SHELF_TEST_CRASH_MARKER = marker;
    const entry = new URL('../../helpers/crashing-shard-thread.ts', import.meta.url);
    const transport = new ThreadShardTransport({ root, threads: 2, attempts: 2, entry });
    try {
      const plain = new AlsModel(OPTIONS);
      await plain.fit(train);
      const sharded = new AlsModel({
        ...OPTIONS,
        sideSolver: new ShardedAlsSolver({ store: new AlsShardStore(root), transport, shards: 5 }),
      });
      await sharded.fit(train);
      expect(await readdir(root)).toContain('crashed'); // a thread did die
      expect(bitDifferences(sharded.userFactors, plain.userFactors)).toEqual(
        sameBits(plain.userFactors.length),
      );
      expect(bitDifferences(sharded.itemFactors, plain.itemFactors)).toEqual(
        sameBits(plain.itemFactors.length),
      );
    } finally {
      delete process.env.SHELF_TEST_CRASH_MARKER;
      await transport.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('fails a shard whose files are missing after its attempts, naming the cause', async () => {
    const root = await mkdtemp(join(tmpdir(), 'shelf-als-threads-'));
    const transport = new ThreadShardTransport({ root, threads: 2, attempts: 2 });
    try {
      const spec = checkShardSpec({
        fitId: 'missing',
        iteration: 1,
        side: 'users',
        start: 0,
        end: 2,
        otherRows: 3,
        capacity: { rows: 2, nnz: 4 },
        plan: { woodburyMaxNnz: 0, exact: false },
        kernel: { factors: 4, alpha: 1, cgSteps: 2, simd: false, gatherRows: 0 },
      });
      await expect(transport.run([spec])).rejects.toThrow(/ALS shard failed: .*ENOENT/s);
      // The threads survive a failed shard and take the next one.
      await expect(transport.runOne(spec)).rejects.toThrow(/ENOENT/);
    } finally {
      await transport.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
