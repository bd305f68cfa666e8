import { describe, expect, it } from 'vitest';
import { ArtefactError } from '../../../src/errors.ts';
import { ContentEncoder } from '../../../models/content-encoder.ts';
import type { ContentEncoderOptions, ItemContent } from '../../../models/content-encoder.ts';
import { createRng } from '../../../models/random.ts';
import { initTf } from '../../../models/tf-backend.ts';

const F = 8;

/**
 * Items whose factor vector is a known function of their content: the sum of a vector for the
 * department, one for the sub-category and one for the colour word in the title; the noun in
 * the title carries no signal. Every (department/sub, colour, noun) combination exists once.
 */
function synthetic(seed: number) {
  const rng = createRng(seed);
  const vec = () => Float32Array.from({ length: F }, () => rng.normal());
  const depts = Array.from({ length: 4 }, vec);
  const subs = Array.from({ length: 12 }, vec);
  const colours = ['red', 'blue', 'green', 'black', 'white', 'pink'];
  const colourVecs = colours.map(vec);
  const nouns = ['mug', 'lamp', 'towel', 'vase', 'clock'];
  const items: ItemContent[] = [];
  const targets: number[] = [];
  for (let s = 0; s < 12; s++) {
    const d = s % 4;
    for (let c = 0; c < colours.length; c++) {
      for (const noun of nouns) {
        items.push({
          title: `${colours[c]!} ${noun}`,
          categories: [`Dept ${d} > Sub ${s}`],
          price: 1 + (s % 5),
        });
        for (let j = 0; j < F; j++) targets.push(depts[d]![j]! + subs[s]![j]! + colourVecs[c]![j]!);
      }
    }
  }
  // Hold out a seeded sixth of the items: their combinations are unseen, their parts are not.
  const order = items.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const k = rng.int(i + 1);
    [order[i], order[k]] = [order[k]!, order[i]!];
  }
  const cut = Math.floor(items.length / 6);
  const pick = (idx: number[]) => ({
    items: idx.map((i) => items[i]!),
    targets: Float32Array.from(idx.flatMap((i) => targets.slice(i * F, (i + 1) * F))),
  });
  return { train: pick(order.slice(cut)), test: pick(order.slice(0, cut)) };
}

function meanCosine(a: Float32Array, b: Float32Array, f: number): number {
  let sum = 0;
  const n = a.length / f;
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < f; j++) {
      const x = a[i * f + j]!;
      const y = b[i * f + j]!;
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    sum += dot / Math.sqrt(na * nb);
  }
  return sum / n;
}

const data = synthetic(11);
const MLP: ContentEncoderOptions = {
  kind: 'mlp',
  hidden: 32,
  epochs: 20,
  batchSize: 32,
  learningRate: 0.02,
  weightDecay: 1e-4,
  seed: 5,
  dims: 1 << 12,
};

async function encode(encoder: ContentEncoder, items: ItemContent[]): Promise<Float32Array> {
  const out = new Float32Array(items.length * encoder.factors);
  encoder.encodeInto(items, out);
  return out;
}

describe('ContentEncoder (ridge)', () => {
  it('recovers the factors of held-out items from their category and words (cosine > 0.95; ≈ 0.999 here)', async () => {
    const encoder = await ContentEncoder.fit(data.train.items, data.train.targets, F, {
      l2: 0.05,
      dims: 1 << 12,
    });
    const predicted = await encode(encoder, data.test.items);
    expect(meanCosine(predicted, data.test.targets, F)).toBeGreaterThan(0.95);
    // A model that knew nothing would predict the mean vector: far worse.
    const mean = new Float32Array(data.test.targets.length);
    const b = encoder.weightArrays().b1;
    for (let i = 0; i < data.test.items.length; i++) mean.set(b, i * F);
    expect(meanCosine(mean, data.test.targets, F)).toBeLessThan(0.5);
  });

  it('solves the ridge normal equations: Xᵀ(XW + b − Y) + λW ≈ 0', async () => {
    const l2 = 0.3;
    const { items, targets } = data.train;
    const encoder = await ContentEncoder.fit(items, targets, F, { l2, dims: 1 << 12, tolerance: 1e-6 });
    const x = encoder.features.transform(items);
    const predicted = new Float32Array(targets.length);
    encoder.encodeFeaturesInto(x, predicted);
    const { w1 } = encoder.weightArrays();
    const grad = new Float64Array(w1.length);
    for (let r = 0; r < x.rows; r++) {
      for (let p = x.indptr[r]!; p < x.indptr[r + 1]!; p++) {
        for (let j = 0; j < F; j++)
          grad[x.indices[p]! * F + j]! += x.values[p]! * (predicted[r * F + j]! - targets[r * F + j]!);
      }
    }
    let gradNorm = 0;
    let rhsNorm = 0; // ‖Xᵀ(Y − b)‖ at W = 0, the scale of the gradient
    for (let k = 0; k < w1.length; k++) gradNorm += (grad[k]! + l2 * w1[k]!) ** 2;
    const b = encoder.weightArrays().b1;
    const rhs = new Float64Array(w1.length);
    for (let r = 0; r < x.rows; r++)
      for (let p = x.indptr[r]!; p < x.indptr[r + 1]!; p++)
        for (let j = 0; j < F; j++)
          rhs[x.indices[p]! * F + j]! += x.values[p]! * (targets[r * F + j]! - b[j]!);
    for (const v of rhs) rhsNorm += v * v;
    expect(Math.sqrt(gradNorm / rhsNorm)).toBeLessThan(1e-4);
    expect(encoder.training.iterations).toBeGreaterThan(1);
  });

  it('round-trips through its artefact with bit-identical outputs', async () => {
    const encoder = await ContentEncoder.fit(data.train.items, data.train.targets, F, { dims: 1 << 12 });
    const { manifest, files } = encoder.toArtefact();
    expect(Object.keys(files).sort()).toEqual([
      'content-b1.f32',
      'content-buckets.i32',
      'content-idf.f32',
      'content-w1.f32',
    ]);
    const back = ContentEncoder.fromArtefact(JSON.parse(JSON.stringify(manifest)), files);
    expect(await encode(back, data.test.items)).toEqual(await encode(encoder, data.test.items));
    expect(back.model).toBe('ridge');
  });

  it('maps an item with no known feature to the mean target', async () => {
    const encoder = await ContentEncoder.fit(data.train.items, data.train.targets, F, { dims: 1 << 12 });
    const out = await encode(encoder, [{ title: 'zzz qqq', categories: [] }]);
    const mean = new Float32Array(F);
    for (let i = 0; i < data.train.items.length; i++)
      for (let j = 0; j < F; j++) mean[j]! += data.train.targets[i * F + j]! / data.train.items.length;
    for (let j = 0; j < F; j++) expect(out[j]).toBeCloseTo(mean[j]!, 5);
  });

  it('checks shapes and options', async () => {
    const { items, targets } = data.train;
    await expect(ContentEncoder.fit(items, targets.subarray(1), F)).rejects.toThrow(RangeError);
    await expect(ContentEncoder.fit(items, targets, F, { l2: 0 })).rejects.toThrow(RangeError);
    const bad = targets.slice();
    bad[3] = Number.NaN;
    await expect(ContentEncoder.fit(items, bad, F)).rejects.toThrow(RangeError);
    const encoder = await ContentEncoder.fit(items, targets, F, { dims: 1 << 12 });
    expect(() => encoder.encodeInto(items, new Float32Array(F))).toThrow(RangeError);
  });
});

describe('ContentEncoder artefact validation', () => {
  it('rejects a corrupt manifest or files', async () => {
    const encoder = await ContentEncoder.fit(data.train.items, data.train.targets, F, { dims: 1 << 12 });
    const { manifest, files } = encoder.toArtefact();
    const m = () => JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
    expect(() => ContentEncoder.fromArtefact({ ...m(), schemaVersion: 99 }, files)).toThrow(/schemaVersion/);
    expect(() => ContentEncoder.fromArtefact({ ...m(), model: 'svm' }, files)).toThrow(/model/);
    expect(() => ContentEncoder.fromArtefact({ ...m(), factors: F + 1 }, files)).toThrow(/content-w1/);
    expect(() => ContentEncoder.fromArtefact(null, files)).toThrow(ArtefactError);
    const badFeatures = { ...m(), features: { ...(m().features as object), dims: 1000 } };
    expect(() => ContentEncoder.fromArtefact(badFeatures, files)).toThrow(/dims must be a power of two/);
    try {
      ContentEncoder.fromArtefact({ ...m(), kind: 'als' }, files);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ArtefactError);
      expect((err as ArtefactError).code).toBe('SHELF_ERR_ARTEFACT');
    }
    const { ['content-idf.f32']: _idf, ...missing } = files;
    expect(() => ContentEncoder.fromArtefact(m(), missing)).toThrow(/content-idf/);
    const short = { ...files, 'content-w1.f32': files['content-w1.f32']!.subarray(4) };
    expect(() => ContentEncoder.fromArtefact(m(), short)).toThrow(/bytes/);
    const nan = Buffer.from(files['content-b1.f32']!);
    nan.writeFloatLE(Number.NaN, 4);
    expect(() => ContentEncoder.fromArtefact(m(), { ...files, 'content-b1.f32': nan })).toThrow(/finite/);
  });

  it('stores raw little-endian float32 weights', async () => {
    const encoder = await ContentEncoder.fit(data.train.items, data.train.targets, F, { dims: 1 << 12 });
    const { files } = encoder.toArtefact();
    const b1 = encoder.weightArrays().b1;
    const bytes = files['content-b1.f32']!;
    expect(bytes.byteLength).toBe(F * 4);
    for (let j = 0; j < F; j++) expect(bytes.readFloatLE(j * 4)).toBe(b1[j]);
  });
});

describe('ContentEncoder (mlp, TensorFlow.js)', () => {
  it('recovers the factors of held-out items (cosine > 0.9) and round-trips its artefact', async () => {
    const encoder = await ContentEncoder.fit(data.train.items, data.train.targets, F, MLP);
    expect(encoder.model).toBe('mlp');
    const predicted = await encode(encoder, data.test.items);
    expect(meanCosine(predicted, data.test.targets, F)).toBeGreaterThan(0.9); // ≈ 0.999 on this data
    const { manifest, files } = encoder.toArtefact();
    expect(Object.keys(files)).toHaveLength(6);
    const back = ContentEncoder.fromArtefact(JSON.parse(JSON.stringify(manifest)), files);
    expect(await encode(back, data.test.items)).toEqual(predicted);
  });

  it('gives identical weights for the same seed and different ones for another seed', async () => {
    const options = { ...MLP, epochs: 3 };
    const a = await ContentEncoder.fit(data.train.items, data.train.targets, F, options);
    const b = await ContentEncoder.fit(data.train.items, data.train.targets, F, options);
    const c = await ContentEncoder.fit(data.train.items, data.train.targets, F, { ...options, seed: 6 });
    expect(b.weightArrays()).toEqual(a.weightArrays());
    expect(c.weightArrays().w1).not.toEqual(a.weightArrays().w1);
  });
});

describe('initTf', () => {
  it('loads once, on tfjs-node when installed else wasm, and computes a correct matmul', async () => {
    const first = await initTf();
    const again = await initTf();
    expect(again).toBe(first);
    expect(['tensorflow', 'wasm']).toContain(first.backend);
    const { tf } = first;
    expect(tf.getBackend()).toBe(first.backend);
    const rng = createRng(3);
    const n = 33;
    const a = Float32Array.from({ length: n * n }, () => rng.normal());
    const b = Float32Array.from({ length: n * n }, () => rng.normal());
    const got = await tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])).data();
    for (let i = 0; i < n; i += 7) {
      for (let j = 0; j < n; j += 5) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k]! * b[k * n + j]!;
        expect(got[i * n + j]).toBeCloseTo(s, 3);
      }
    }
  });

  it('differentiates gather (unsortedSegmentSum) on the active backend', async () => {
    const { tf } = await initTf();
    const w = tf.variable(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]));
    const idx = tf.tensor1d([2, 0, 2], 'int32');
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.gather(w, idx), tf.tensor2d([[1], [2], [3]]))));
    expect(Array.from(await grads[w.name]!.data())).toEqual([2, 2, 0, 0, 4, 4]);
    const sums = tf.unsortedSegmentSum(
      tf.tensor2d([1, 1, 2, 2, 3, 3], [3, 2]),
      tf.tensor1d([1, 5, 1], 'int32'),
      3,
    );
    expect(Array.from(await sums.data())).toEqual([0, 0, 4, 4, 0, 0]); // id 5 is out of range: dropped
    w.dispose();
  });
});
