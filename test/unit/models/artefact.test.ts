import { describe, it, expect } from 'vitest';
import {
  ArtefactError,
  ARTEFACT_SCHEMA_VERSION,
  parseManifest,
  readAlsArtefact,
  readArtefact,
  writeAlsArtefact,
  writeArtefact,
} from '../../../models/artefact.ts';
import type { ArtefactInput } from '../../../models/artefact.ts';
import { AlsModel } from '../../../models/als.ts';
import { rowIndices, rowValues } from '../../../models/sparse.ts';
import { checkerboard } from './describe-model.ts';

function input(): ArtefactInput {
  return {
    kind: 'als',
    params: { factors: 2, alpha: 10, solver: 'cg' },
    seed: 7,
    counts: { users: 3, items: 2, interactions: 5 },
    createdAt: new Date('2026-01-02T03:04:05.000Z'),
    vectors: {
      userFactors: { data: Float32Array.from([1, -2, 0.5, 1e-8, 3.25, -0]), rows: 3, cols: 2 },
      itemFactors: { data: Float32Array.from([0.1, 0.2, 0.3, 0.4]), rows: 2, cols: 2 },
    },
    dataWindow: { from: '2011-01-01T00:00:00.000Z', to: '2011-11-09T00:00:00.000Z' },
    idMaps: { users: 'users.json', items: 'items.json' },
    metrics: { ndcgAt20: 0.25 },
    codeVersion: 'abc123',
  };
}

/** What a reader gets back from disk: JSON text and Buffers at arbitrary offsets. */
function viaDisk(manifest: unknown, files: Record<string, Buffer>): [unknown, Record<string, Uint8Array>] {
  const copies: Record<string, Uint8Array> = {};
  for (const [name, b] of Object.entries(files)) {
    const padded = Buffer.alloc(b.length + 1);
    b.copy(padded, 1);
    copies[name] = padded.subarray(1); // odd byteOffset: readers must not assume alignment
  }
  return [JSON.parse(JSON.stringify(manifest)), copies];
}

function errorOf(fn: () => unknown): ArtefactError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ArtefactError) return err;
    throw err;
  }
  throw new Error('expected an ArtefactError');
}

describe('artefact', () => {
  it('writes raw little-endian float32 files and a manifest', () => {
    const { manifest, files } = writeArtefact(input());
    expect(manifest).toMatchObject({
      schemaVersion: ARTEFACT_SCHEMA_VERSION,
      kind: 'als',
      seed: 7,
      createdAt: '2026-01-02T03:04:05.000Z',
      counts: { users: 3, items: 2, interactions: 5 },
      vectors: {
        userFactors: { file: 'user-factors.f32', rows: 3, cols: 2 },
        itemFactors: { file: 'item-factors.f32', rows: 2, cols: 2 },
      },
    });
    const bytes = files['user-factors.f32']!;
    expect(bytes.length).toBe(24);
    expect(bytes.readFloatLE(4)).toBe(-2);
    expect(bytes.readFloatLE(16)).toBe(3.25);
  });

  it('reads back bit-identical vectors and the same manifest', () => {
    const { manifest, files } = writeArtefact(input());
    const back = readArtefact(...viaDisk(manifest, files));
    expect(back.manifest).toEqual(manifest);
    expect(back.vectors.userFactors!.data).toEqual(input().vectors.userFactors!.data);
    expect(back.vectors.itemFactors).toEqual(input().vectors.itemFactors);
  });

  it('rejects a wrong schema version', () => {
    const { manifest, files } = writeArtefact(input());
    const err = errorOf(() => readArtefact({ ...manifest, schemaVersion: 2 }, files));
    expect(err.code).toBe('SHELF_ERR_ARTEFACT');
    expect(err.message).toMatch(/schemaVersion 2/);
  });

  it('rejects a file whose size does not match rows × cols', () => {
    const { manifest, files } = writeArtefact(input());
    const short = { ...files, 'item-factors.f32': files['item-factors.f32']!.subarray(0, 12) };
    expect(errorOf(() => readArtefact(manifest, short)).message).toMatch(
      /item-factors\.f32 has 12 bytes, expected 16/,
    );
    const bigger = structuredClone(manifest);
    bigger.vectors.userFactors!.rows = 4;
    expect(errorOf(() => readArtefact(bigger, files)).message).toMatch(/expected 32/);
  });

  it('rejects missing files, unsafe file names and malformed fields', () => {
    const { manifest, files } = writeArtefact(input());
    expect(
      errorOf(() => readArtefact(manifest, { 'user-factors.f32': files['user-factors.f32']! })).message,
    ).toMatch(/item-factors\.f32 missing/);
    const unsafe = structuredClone(manifest);
    unsafe.vectors.userFactors!.file = '../../etc/passwd';
    expect(errorOf(() => parseManifest(unsafe)).message).toMatch(/unsafe file name/);
    expect(errorOf(() => parseManifest({ ...manifest, counts: { users: 3, items: 2 } })).message).toMatch(
      /counts\.interactions: missing/,
    );
    expect(errorOf(() => parseManifest({ ...manifest, seed: 1.5 })).message).toMatch(/manifest\.seed/);
    expect(errorOf(() => parseManifest({ ...manifest, createdAt: 'yesterday' })).message).toMatch(/ISO 8601/);
    expect(errorOf(() => parseManifest({ ...manifest, params: { f: [1] } })).message).toMatch(/params\.f/);
    expect(errorOf(() => parseManifest('{}')).message).toMatch(/manifest: must be an object/);
  });

  it('refuses to write vectors whose length is not rows × cols', () => {
    const bad = input();
    bad.vectors.userFactors!.rows = 4;
    expect(() => writeArtefact(bad)).toThrow(RangeError);
  });

  it('round-trips an ALS model: same scores, same fold-in', async () => {
    const train = checkerboard();
    const model = new AlsModel({
      factors: 8,
      regularization: 1,
      alpha: 5,
      iterations: 5,
      seed: 3,
      workers: 1,
    });
    await model.fit(train);
    const { manifest, files } = writeAlsArtefact(model, {
      createdAt: new Date(0),
      counts: { interactions: train.indptr[train.rows]! },
    });
    expect(manifest.params).toMatchObject({ factors: 8, alpha: 5, regularization: 1, cgSteps: 3 });
    const back = readAlsArtefact(...viaDisk(manifest, files));
    expect(back.userFactors).toEqual(model.userFactors);
    expect(back.itemFactors).toEqual(model.itemFactors);
    const a = new Float32Array(train.cols);
    const b = new Float32Array(train.cols);
    for (const u of [0, 30]) {
      model.scoreInto(-1, rowIndices(train, u), rowValues(train, u), a);
      back.scoreInto(-1, rowIndices(train, u), rowValues(train, u), b);
      expect(b).toEqual(a);
    }
  });
});
