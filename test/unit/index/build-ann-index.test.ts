import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AnnIndexError } from '../../../src/errors.ts';
import { buildAnnIndex, EXACT_MAX_FLOATS, loadAnnIndex } from '../../../src/index/build-ann-index.ts';
import { clustered } from '../../helpers/describe-ann-index.ts';

describe('buildAnnIndex / loadAnnIndex', () => {
  it('picks exact search for small catalogues and HNSW above the threshold', async () => {
    const { vectors } = clustered(500, 8, 5, 1);
    expect(500 * 8).toBeLessThanOrEqual(EXACT_MAX_FLOATS);
    expect((await buildAnnIndex(vectors)).kind).toBe('exact');
    expect((await buildAnnIndex(vectors, { exactMaxFloats: 1000 })).kind).toBe('hnsw');
    expect((await buildAnnIndex(vectors, { kind: 'hnsw' })).kind).toBe('hnsw');
  });

  it('loads either kind from its metadata, and rejects what is not an index', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shelf-ann-build-'));
    try {
      const { vectors, queries } = clustered(500, 8, 5, 2);
      const q = queries(1, 3)[0]!;
      for (const kind of ['exact', 'hnsw'] as const) {
        const index = await buildAnnIndex(vectors, { kind });
        await index.save(join(dir, kind));
        const loaded = await loadAnnIndex(join(dir, kind), { vectors });
        expect(loaded.kind).toBe(kind);
        expect(loaded.search(q, 10)).toEqual(index.search(q, 10));
      }
      await expect(loadAnnIndex(join(dir, 'nothing'))).rejects.toThrow(AnnIndexError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
