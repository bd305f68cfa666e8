import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import { annIndexKind } from '../../../src/index/build-ann-index.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { VERSION_FILES as F } from '../../../src/registry/version-files.ts';
import { loadServingModel } from '../../../src/serving/serving-model.ts';

describe('loadServingModel', () => {
  it('searches a version published without a graph (hnsw: 0) exactly, however large', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shelf-serving-model-'));
    try {
      const registry = new ModelRegistry(join(dir, 'models'));
      const [items, factors] = [21_000, 64];
      const rng = createRng(5);
      const itemFactors = Float32Array.from({ length: items * factors }, () => rng.next() - 0.5);
      // Large enough that a version without the parameter would get a graph at load.
      expect(annIndexKind({ rows: items, cols: factors, data: itemFactors })).toBe('hnsw');
      const { version } = await registry.create(
        {
          kind: 'als',
          params: { factors, alpha: 1, regularization: 0.1, hnsw: 0 },
          seed: 1,
          data: { from: null, to: null, users: 1, items, interactions: 0 },
          metrics: null,
          codeVersion: 'test',
        },
        {
          [F.users]: Buffer.from(JSON.stringify(['u1'])),
          [F.items]: Buffer.from(JSON.stringify(Array.from({ length: items }, (_, i) => `i${i}`))),
          [F.userFactors]: new Uint8Array(new Float32Array(factors).fill(0.1).buffer),
          [F.itemFactors]: new Uint8Array(itemFactors.buffer),
        },
      );
      const model = await loadServingModel(registry, version);
      expect(model.index?.kind).toBe('exact');
      expect(model.index?.size).toBe(items);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
