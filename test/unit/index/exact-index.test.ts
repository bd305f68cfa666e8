import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AnnIndexError } from '../../../src/errors.ts';
import { ExactIndex } from '../../../src/index/exact-index.ts';
import { ItemFilter } from '../../../src/index/item-filter.ts';
import { describeAnnIndex, matrix } from '../../helpers/describe-ann-index.ts';

describeAnnIndex('ExactIndex', () => ({
  build: async (vectors) => ExactIndex.build(vectors),
  load: (path, vectors) => ExactIndex.load(path, vectors ? { vectors } : {}),
}));

describe('ExactIndex', () => {
  it('saves the rows as raw float32 and shares the vectors it is given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shelf-exact-'));
    try {
      const v = matrix([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const index = ExactIndex.build(v);
      expect(index.vector(1)!.buffer).toBe(v.data.buffer);
      const [file] = await index.save(join(dir, 'items.f32'));
      expect((await stat(file!)).size).toBe(2 * 3 * 4);
      const loaded = await ExactIndex.load(join(dir, 'items.f32'), { vectors: v });
      expect(loaded.vector(0)!.buffer).toBe(v.data.buffer);
      await expect(ExactIndex.load(join(dir, 'items.f32'), { vectors: matrix([[1, 2]]) })).rejects.toThrow(
        AnnIndexError,
      );
      await expect(ExactIndex.load(join(dir, 'missing.f32'))).rejects.toThrow(AnnIndexError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('indexes only the included rows', () => {
    const index = ExactIndex.build(matrix([[3], [2], [1], [4]]), { include: ItemFilter.fromItems([0, 2]) });
    expect(index.size).toBe(2);
    expect(Array.from(index.search(Float32Array.from([1]), 4).indices)).toEqual([0, 2]);
    index.add(1, Float32Array.from([9]));
    expect(Array.from(index.search(Float32Array.from([1]), 4).indices)).toEqual([1, 0, 2]);
  });
});
