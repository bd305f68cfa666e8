/**
 * Cold start: maps an item's content (title, description, categories, brand, price) to a vector
 * in the item-factor space of a collaborative model (e.g. ALS), so that a brand-new item with no
 * interactions can be scored against user vectors and found by the ANN index like any other.
 *
 * Fitted on the known items: inputs are their {@link TextFeatures} rows, targets their factor
 * vectors. Two maps:
 * - `ridge` (default): linear, y = b + x W, minimising ‖X W − (Y − b)‖² + λ‖W‖² with b the mean
 *   target; solved exactly (to a relative residual of `tolerance`) by conjugate gradients on
 *   the sparse features (products in float32 WebAssembly SIMD) — deterministic, no tf;
 * - `mlp`: y = b₂ + relu(b₁ + x W₁) W₂, trained with TensorFlow.js (Adam — lazy, per touched
 *   row, on the sparse first layer — mean squared error on standardised targets, L2 on the
 *   weights a batch touches); weights initialised and batches shuffled from `seed` with
 *   models/random.ts (no tf random op), so the same seed on the same backend gives the same
 *   weights.
 * On online-retail (Description → ALS-64 item factors, 10% of items held out) ridge reached a
 * held-out cosine of 0.56 in ~1 s and the MLP 0.54 in ~10 s, hence ridge by default.
 * Inference of both is plain TypeScript on typed arrays (no tf at serving time), so an
 * encoder read back from its artefact gives bit-identical vectors.
 */
import type { Scalar, Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { Csr } from './sparse.ts';
import { ArtefactError } from '../src/errors.ts';
import { createRng } from './random.ts';
import type { Rng } from './random.ts';
import { columnMeans, ridgeByColumns } from './ridge-columns.ts';
import { TextFeatures } from './text-features.ts';
import type { ItemContent, TermsMemo, TextFeaturesOptions, TextFeaturesState } from './text-features.ts';
import { initTf } from './tf-backend.ts';
import type { TfBackendName } from './tf-backend.ts';

export type { ItemContent } from './text-features.ts';

export type ContentEncoderKind = 'ridge' | 'mlp';

export interface ContentEncoderEpochInfo {
  /** 1-based. */
  epoch: number;
  /** Mean squared error on the standardised targets (plus the L2 term), over the epoch. */
  loss: number;
  seconds: number;
}

export interface ContentEncoderOptions extends TextFeaturesOptions {
  /** `ridge` (closed form, default) or `mlp` (TensorFlow.js). @defaultValue 'ridge' */
  kind?: ContentEncoderKind;
  /** Ridge: λ of the L2 penalty (rows of X have unit norm). @defaultValue 0.5 */
  l2?: number;
  /**
   * Ridge: stop when every column's residual ‖r‖/‖b‖ is below this. The solution moves ~0.2% on
   * the way to 1e-4 (a third more iterations), well inside what content predicts of a factor
   * vector: the quality benchmark's encoder and cold-start figures on online-retail and
   * MovieLens agree to 1e-4 either way. @defaultValue 1e-3
   */
  tolerance?: number;
  /** Ridge: cap on conjugate-gradient iterations. @defaultValue 500 */
  maxIterations?: number;
  /**
   * Ridge: solve on worker threads only, leaving the calling thread free for other work while
   * `fit` is pending (ridge-columns.ts `offThread`). @defaultValue false
   */
  offThread?: boolean;
  /** MLP: hidden units. @defaultValue 256 */
  hidden?: number;
  /** MLP: passes over the items. @defaultValue 10 */
  epochs?: number;
  /** MLP: Adam's step size. @defaultValue 0.003 */
  learningRate?: number;
  /** MLP: items per step. @defaultValue 128 */
  batchSize?: number;
  /** MLP: L2 penalty on the weights used by a batch. @defaultValue 1e-4 */
  weightDecay?: number;
  /** MLP: seed of the weight initialisation and the shuffles. @defaultValue 1 */
  seed?: number;
  /** MLP: TensorFlow.js backends to try, in order. @defaultValue ['tensorflow', 'wasm', 'cpu'] */
  backends?: TfBackendName[];
  /** MLP: called after each epoch. */
  onEpoch?: (info: ContentEncoderEpochInfo) => void;
  /** Items' terms already collected (made with the same text options), reused and added to. */
  terms?: TermsMemo;
}

type ResolvedOptions = Required<
  Omit<ContentEncoderOptions, keyof TextFeaturesOptions | 'onEpoch' | 'backends' | 'terms'>
> &
  Pick<ContentEncoderOptions, 'onEpoch' | 'backends'>;

/** What {@link ContentEncoder.toArtefact} writes: JSON-safe, parsed and validated on load. */
export interface ContentEncoderManifest {
  schemaVersion: number;
  kind: 'content-encoder';
  model: ContentEncoderKind;
  factors: number;
  /** Hidden units (mlp), 0 for ridge. */
  hidden: number;
  features: Omit<TextFeaturesState, 'buckets' | 'idf'> & { columns: number };
  /** Each file: little-endian raw values of the dtype, row-major in the shape. */
  files: Record<string, { dtype: 'float32' | 'int32'; shape: number[] }>;
  /** How it was fitted (informative; not needed to encode). */
  training: Record<string, unknown>;
}

export interface ContentEncoderArtefact {
  manifest: ContentEncoderManifest;
  files: Record<string, Buffer>;
}

export const CONTENT_ENCODER_SCHEMA_VERSION = 1;

/** Weights of the map from feature columns to factors (see the module comment). */
interface Weights {
  /** columns × (hidden or factors). */
  w1: Float32Array;
  b1: Float32Array;
  /** hidden × factors; empty for ridge. */
  w2: Float32Array;
  b2: Float32Array;
}

export class ContentEncoder {
  readonly model: ContentEncoderKind;
  readonly factors: number;
  readonly hidden: number;
  readonly features: TextFeatures;
  /** How it was fitted: options, counts, seconds, final loss or iterations. */
  readonly training: Record<string, unknown>;
  private readonly weights: Weights;
  private readonly hiddenScratch: Float64Array;
  private readonly outScratch: Float64Array;

  private constructor(
    model: ContentEncoderKind,
    factors: number,
    hidden: number,
    features: TextFeatures,
    weights: Weights,
    training: Record<string, unknown>,
  ) {
    this.model = model;
    this.factors = factors;
    this.hidden = hidden;
    this.features = features;
    this.weights = weights;
    this.training = training;
    this.hiddenScratch = new Float64Array(model === 'mlp' ? hidden : factors);
    this.outScratch = new Float64Array(factors);
  }

  /**
   * Fits the encoder so that `encodeInto(items)` ≈ `targets` (items.length × factors,
   * row-major; row i is the factor vector of items[i]).
   */
  static async fit(
    items: readonly ItemContent[],
    targets: Float32Array,
    factors: number,
    options: ContentEncoderOptions = {},
  ): Promise<ContentEncoder> {
    if (!Number.isInteger(factors) || factors < 1) throw new RangeError('factors must be a positive integer');
    if (targets.length !== items.length * factors)
      throw new RangeError(`targets has ${targets.length} values, expected ${items.length} × ${factors}`);
    if (items.length === 0) throw new RangeError('no items to fit on');
    for (let k = 0; k < targets.length; k++)
      if (!Number.isFinite(targets[k]!)) throw new RangeError(`targets[${k}] is not finite`);
    const o = resolveOptions(options);
    const started = performance.now();
    const { features, x } = TextFeatures.fitTransform(items, options, options.terms);
    const base = { items: items.length, columns: features.columns, nnz: x.indices.length };
    if (o.kind === 'ridge') {
      const { weights, iterations, residual } = await fitRidge(x, targets, factors, o);
      const training = {
        ...base,
        l2: o.l2,
        tolerance: o.tolerance,
        iterations,
        residual,
        seconds: (performance.now() - started) / 1000,
      };
      return new ContentEncoder('ridge', factors, 0, features, weights, training);
    }
    const { weights, loss, backend } = await fitMlp(x, targets, factors, o);
    const training = {
      ...base,
      hidden: o.hidden,
      epochs: o.epochs,
      learningRate: o.learningRate,
      batchSize: o.batchSize,
      weightDecay: o.weightDecay,
      seed: o.seed,
      backend,
      loss,
      seconds: (performance.now() - started) / 1000,
    };
    return new ContentEncoder('mlp', factors, o.hidden, features, weights, training);
  }

  /**
   * Writes one factor vector per item into `out` (items.length × factors, row-major); `terms`
   * saves tokenizing items it has seen.
   */
  encodeInto(items: readonly ItemContent[], out: Float32Array, terms?: TermsMemo): void {
    if (out.length !== items.length * this.factors)
      throw new RangeError(`out has ${out.length} values, expected ${items.length} × ${this.factors}`);
    this.encodeFeaturesInto(this.features.transform(items, terms), out);
  }

  /** As {@link encodeInto}, from rows already made by `this.features.transform`. */
  encodeFeaturesInto(x: Csr, out: Float32Array): void {
    const f = this.factors;
    if (x.cols !== this.features.columns)
      throw new RangeError(`x has ${x.cols} columns, expected ${this.features.columns}`);
    if (out.length !== x.rows * f)
      throw new RangeError(`out has ${out.length} values, expected ${x.rows} × ${f}`);
    const { w1, b1, w2, b2 } = this.weights;
    const h = this.hiddenScratch;
    const y = this.outScratch;
    const width = h.length;
    for (let r = 0; r < x.rows; r++) {
      for (let j = 0; j < width; j++) h[j] = b1[j]!;
      for (let p = x.indptr[r]!; p < x.indptr[r + 1]!; p++) {
        const v = x.values[p]!;
        const row = x.indices[p]! * width;
        for (let j = 0; j < width; j++) h[j]! += v * w1[row + j]!;
      }
      const o = r * f;
      if (this.model === 'ridge') {
        for (let j = 0; j < f; j++) out[o + j] = h[j]!;
        continue;
      }
      for (let j = 0; j < f; j++) y[j] = b2[j]!;
      for (let k = 0; k < width; k++) {
        const a = h[k]!;
        if (a <= 0) continue; // relu
        const row = k * f;
        for (let j = 0; j < f; j++) y[j]! += a * w2[row + j]!;
      }
      for (let j = 0; j < f; j++) out[o + j] = y[j]!;
    }
  }

  /** Manifest and raw little-endian files; file names are safe for the model registry. */
  toArtefact(): ContentEncoderArtefact {
    const { buckets, idf, ...params } = this.features.state();
    const files: Record<string, Buffer> = {};
    const meta: ContentEncoderManifest['files'] = {};
    const put = (name: string, data: Float32Array | Int32Array, shape: number[]) => {
      files[name] = toLittleEndian(data);
      meta[name] = { dtype: data instanceof Int32Array ? 'int32' : 'float32', shape };
    };
    const width = this.model === 'mlp' ? this.hidden : this.factors;
    put(FILES.buckets, buckets, [buckets.length]);
    put(FILES.idf, idf, [idf.length]);
    put(FILES.w1, this.weights.w1, [buckets.length, width]);
    put(FILES.b1, this.weights.b1, [width]);
    if (this.model === 'mlp') {
      put(FILES.w2, this.weights.w2, [this.hidden, this.factors]);
      put(FILES.b2, this.weights.b2, [this.factors]);
    }
    const manifest: ContentEncoderManifest = {
      schemaVersion: CONTENT_ENCODER_SCHEMA_VERSION,
      kind: 'content-encoder',
      model: this.model,
      factors: this.factors,
      hidden: this.hidden,
      features: { ...params, columns: buckets.length },
      files: meta,
      training: this.training,
    };
    return { manifest, files };
  }

  /**
   * Reads back {@link toArtefact}'s output. The manifest may come straight from `JSON.parse`:
   * every field, file size and value is checked, and a mismatch throws {@link ArtefactError}
   * (`SHELF_ERR_ARTEFACT`).
   */
  static fromArtefact(manifest: unknown, files: Record<string, Uint8Array>): ContentEncoder {
    const m = checkManifest(manifest);
    const width = m.model === 'mlp' ? m.hidden : m.factors;
    const columns = m.features.columns;
    const read = <T extends Float32Array | Int32Array>(
      name: string,
      dtype: 'float32' | 'int32',
      shape: number[],
    ): T => {
      const entry = m.files[name];
      if (!entry || entry.dtype !== dtype || entry.shape.join(',') !== shape.join(','))
        throw new ArtefactError(`artefact: ${name} must be ${dtype} of shape [${shape.join(', ')}]`);
      const bytes = files[name];
      const size = shape.reduce((a, b) => a * b, 1);
      if (!bytes || bytes.byteLength !== size * 4)
        throw new ArtefactError(
          `artefact: ${name} must hold ${size * 4} bytes, got ${bytes?.byteLength ?? 'none'}`,
        );
      const data = fromLittleEndian(bytes, dtype) as T;
      if (data instanceof Float32Array)
        for (let k = 0; k < data.length; k++)
          if (!Number.isFinite(data[k]!)) throw new ArtefactError(`artefact: ${name}[${k}] is not finite`);
      return data;
    };
    const buckets = read<Int32Array>(FILES.buckets, 'int32', [columns]);
    const idf = read<Float32Array>(FILES.idf, 'float32', [columns]);
    const { columns: _columns, ...state } = m.features;
    let features: TextFeatures;
    try {
      features = TextFeatures.fromState({ ...state, buckets, idf });
    } catch (err) {
      throw new ArtefactError(`content-encoder features: ${(err as Error).message}`);
    }
    const weights: Weights = {
      w1: read(FILES.w1, 'float32', [columns, width]),
      b1: read(FILES.b1, 'float32', [width]),
      w2: m.model === 'mlp' ? read(FILES.w2, 'float32', [m.hidden, m.factors]) : new Float32Array(0),
      b2: m.model === 'mlp' ? read(FILES.b2, 'float32', [m.factors]) : new Float32Array(0),
    };
    const expected = m.model === 'mlp' ? 6 : 4;
    if (Object.keys(m.files).length !== expected)
      throw new ArtefactError('artefact: unexpected files in the manifest');
    return new ContentEncoder(
      m.model,
      m.factors,
      m.model === 'mlp' ? m.hidden : 0,
      features,
      weights,
      m.training,
    );
  }

  /** A copy of the weights (for tests and inspection). */
  weightArrays(): { w1: Float32Array; b1: Float32Array; w2: Float32Array; b2: Float32Array } {
    const { w1, b1, w2, b2 } = this.weights;
    return { w1: w1.slice(), b1: b1.slice(), w2: w2.slice(), b2: b2.slice() };
  }
}

const FILES = {
  buckets: 'content-buckets.i32',
  idf: 'content-idf.f32',
  w1: 'content-w1.f32',
  b1: 'content-b1.f32',
  w2: 'content-w2.f32',
  b2: 'content-b2.f32',
} as const;

function resolveOptions(options: ContentEncoderOptions): ResolvedOptions {
  const o: ResolvedOptions = {
    kind: options.kind ?? 'ridge',
    l2: options.l2 ?? 0.5,
    tolerance: options.tolerance ?? 1e-3,
    maxIterations: options.maxIterations ?? 500,
    offThread: options.offThread ?? false,
    hidden: options.hidden ?? 256,
    epochs: options.epochs ?? 10,
    learningRate: options.learningRate ?? 0.003,
    batchSize: options.batchSize ?? 128,
    weightDecay: options.weightDecay ?? 1e-4,
    seed: options.seed ?? 1,
    backends: options.backends,
    onEpoch: options.onEpoch,
  };
  if (o.kind !== 'ridge' && o.kind !== 'mlp') throw new RangeError(`unknown kind ${String(o.kind)}`);
  if (!(o.l2 > 0)) throw new RangeError('l2 must be > 0');
  if (!(o.tolerance > 0)) throw new RangeError('tolerance must be > 0');
  for (const key of ['maxIterations', 'hidden', 'epochs', 'batchSize'] as const)
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new RangeError(`${key} must be a positive integer`);
  if (!(o.learningRate > 0)) throw new RangeError('learningRate must be > 0');
  if (!(o.weightDecay >= 0)) throw new RangeError('weightDecay must be >= 0');
  if (!Number.isInteger(o.seed)) throw new RangeError('seed must be an integer');
  return o;
}

/**
 * Ridge regression of the targets on the feature rows (ridge-columns.ts): the mean target as
 * the bias, the weights by conjugate gradients per target column, split over worker threads.
 */
async function fitRidge(
  x: Csr,
  targets: Float32Array,
  f: number,
  o: ResolvedOptions,
): Promise<{ weights: Weights; iterations: number; residual: number }> {
  const { w, mean, iterations, residual } = await ridgeByColumns(x, targets, f, o);
  const weights: Weights = {
    w1: w,
    b1: Float32Array.from(mean),
    w2: new Float32Array(0),
    b2: new Float32Array(0),
  };
  return { weights, iterations, residual };
}

/** Uniform in [−limit, limit) from the seeded generator. */
function uniformInto(rng: Rng, limit: number, out: Float32Array): Float32Array {
  for (let k = 0; k < out.length; k++) out[k] = (2 * rng.next() - 1) * limit;
  return out;
}

/**
 * Trains the MLP with TensorFlow.js. The first layer is an embedding bag over the batch's
 * distinct feature columns U: gather W₁[U], scale the rows by the feature values, sum per item
 * (`unsortedSegmentSum`), so a step costs O(nnz × hidden), not O(batch × columns × hidden).
 * W₁ is updated lazily (only the rows in U, Adam moments kept per row, bias correction from the
 * global step, as TensorFlow's LazyAdam); b₁, W₂, b₂ by a dense Adam with the same settings.
 */
async function fitMlp(
  x: Csr,
  targets: Float32Array,
  f: number,
  o: ResolvedOptions,
): Promise<{ weights: Weights; loss: number; backend: TfBackendName }> {
  const { tf, backend } = await initTf(o.backends ? { prefer: o.backends } : {});
  const n = x.rows;
  const p = x.cols;
  const h = o.hidden;
  // Standardise the targets: z = (y − mean) / scale with one scale for all columns, so one
  // learning rate fits any factor magnitude; undone on W₂ and b₂ at the end.
  const mean = columnMeans(targets, n, f);
  let ss = 0;
  for (let r = 0; r < n; r++) for (let j = 0; j < f; j++) ss += (targets[r * f + j]! - mean[j]!) ** 2;
  const scale = Math.sqrt(ss / (n * f)) || 1;
  const z = new Float32Array(n * f);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < f; j++) z[r * f + j] = (targets[r * f + j]! - mean[j]!) / scale;

  const rng = createRng(o.seed);
  // Rows of X have unit norm, so a pre-activation's variance is W₁'s. W₁ starts small: a
  // feature seen in few training items keeps much of its initial row, which is noise for a new
  // item (on online-retail, ±1 gave held-out cosine 0.44, ±0.1 0.53, ±0.03 0.54).
  // W₁ and its Adam moments live in plain arrays: a step reads and writes only its rows.
  const w1 = uniformInto(rng, 0.03, new Float32Array(p * h));
  const m1 = new Float32Array(p * h);
  const v1 = new Float32Array(p * h);
  const rowsBuf = new Float32Array(p * h);
  const b1 = tf.variable(tf.zeros([h]), true);
  const w2 = tf.variable(
    tf.tensor2d(uniformInto(rng, Math.sqrt(6 / (h + f)), new Float32Array(h * f)), [h, f]),
  );
  const b2 = tf.variable(tf.zeros([f]), true);
  const beta1 = 0.9;
  const beta2 = 0.999;
  const epsilon = 1e-7; // tf.train.adam's default
  const optimizer = tf.train.adam(o.learningRate, beta1, beta2, epsilon);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const batchTargets = new Float32Array(o.batchSize * f);
  const slotOf = new Int32Array(p).fill(-1);
  let step = 0;
  let lastLoss = Number.NaN;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const started = performance.now();
      for (let i = n - 1; i > 0; i--) {
        const k = rng.int(i + 1);
        const tmp = order[i]!;
        order[i] = order[k]!;
        order[k] = tmp;
      }
      let lossSum = 0;
      let steps = 0;
      for (let start = 0; start < n; start += o.batchSize) {
        const size = Math.min(o.batchSize, n - start);
        // The batch's entries, with columns renumbered to slots in U (first-seen order).
        let nnz = 0;
        for (let b = 0; b < size; b++) {
          const r = order[start + b]!;
          nnz += x.indptr[r + 1]! - x.indptr[r]!;
        }
        const slots = new Int32Array(nnz);
        const vals = new Float32Array(nnz);
        const segs = new Int32Array(nnz);
        const used: number[] = [];
        let q = 0;
        for (let b = 0; b < size; b++) {
          const r = order[start + b]!;
          for (let e = x.indptr[r]!; e < x.indptr[r + 1]!; e++, q++) {
            const c = x.indices[e]!;
            if (slotOf[c] === -1) {
              slotOf[c] = used.length;
              used.push(c);
            }
            slots[q] = slotOf[c]!;
            vals[q] = x.values[e]!;
            segs[q] = b;
          }
          batchTargets.set(z.subarray(r * f, (r + 1) * f), b * f);
        }
        for (const c of used) slotOf[c] = -1;
        step++;
        const lossTensor = tf.tidy((): Scalar => {
          const slotT = tf.tensor1d(slots, 'int32');
          const valT = tf.tensor2d(vals, [nnz, 1]);
          const segT = tf.tensor1d(segs, 'int32');
          const yT = tf.tensor2d(batchTargets.subarray(0, size * f), [size, f]);
          for (let u = 0; u < used.length; u++)
            rowsBuf.set(w1.subarray(used[u]! * h, (used[u]! + 1) * h), u * h);
          const rowsU = tf.tensor2d(rowsBuf.subarray(0, used.length * h), [used.length, h]);
          // pre[b] = Σ vals[k] · rows[slots[k]] over the entries k of item b, and its gradient
          // dRows[u] = Σ vals[k] · dPre[segs[k]] over the entries k with slots[k] = u.
          // (tf.gather's own gradient transposes the whole table and is slow on wasm.)
          const slot2d = tf.reshape(slotT, [nnz, 1]);
          const seg2d = tf.reshape(segT, [nnz, 1]);
          const bag = tf.customGrad((rows) => ({
            value: tf.unsortedSegmentSum(tf.mul(tf.gatherND(rows as Tensor, slot2d), valT), segT, size),
            gradFunc: (dy: Tensor) =>
              tf.unsortedSegmentSum(tf.mul(tf.gatherND(dy, seg2d), valT), slotT, used.length),
          }));
          const { value, grads } = tf.valueAndGrads(
            (rows: Tensor, bias1: Tensor, weight2: Tensor, bias2: Tensor): Scalar => {
              const pre = tf.add(bag(rows), bias1);
              const out = tf.add(tf.matMul(tf.relu(pre), weight2 as Tensor2D), bias2);
              const mse = tf.losses.meanSquaredError(yT, out) as Scalar;
              if (o.weightDecay === 0) return mse;
              const l2 = tf.mul(
                tf.add(tf.sum(tf.square(rows)), tf.sum(tf.square(weight2))),
                o.weightDecay / size,
              );
              return tf.add(mse, l2) as Scalar;
            },
          )([rowsU, b1, w2, b2]);
          const [gRows, gB1, gW2, gB2] = grads as [Tensor2D, Tensor, Tensor, Tensor];
          // Lazy Adam on the touched rows of W₁ (same update as tf.train.adam's, per row).
          const g = gRows.dataSync();
          const lr = (o.learningRate * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
          for (let u = 0; u < used.length; u++) {
            const base = used[u]! * h;
            const gBase = u * h;
            for (let j = 0; j < h; j++) {
              const gj = g[gBase + j]!;
              const m = (m1[base + j] = beta1 * m1[base + j]! + (1 - beta1) * gj);
              const v = (v1[base + j] = beta2 * v1[base + j]! + (1 - beta2) * gj * gj);
              w1[base + j]! -= (lr * m) / (Math.sqrt(v) + epsilon);
            }
          }
          optimizer.applyGradients([
            { name: b1.name, tensor: gB1 },
            { name: w2.name, tensor: gW2 },
            { name: b2.name, tensor: gB2 },
          ]);
          return value;
        });
        lossSum += (await lossTensor.data())[0]!;
        lossTensor.dispose();
        steps++;
      }
      lastLoss = lossSum / steps;
      o.onEpoch?.({ epoch, loss: lastLoss, seconds: (performance.now() - started) / 1000 });
    }
    const [b1v, w2v, b2v] = await Promise.all([b1.data(), w2.data(), b2.data()]);
    const weights: Weights = {
      w1,
      b1: Float32Array.from(b1v as Float32Array),
      w2: Float32Array.from(w2v as Float32Array, (v) => v * scale),
      b2: Float32Array.from(b2v as Float32Array, (v, j) => v * scale + mean[j]!),
    };
    return { weights, loss: lastLoss, backend };
  } finally {
    optimizer.dispose();
    for (const v of [b1, w2, b2]) v.dispose();
  }
}

/** Float32Array / Int32Array → bytes in little-endian order, whatever the platform's. */
function toLittleEndian(data: Float32Array | Int32Array): Buffer {
  const out = Buffer.alloc(data.length * 4);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (data instanceof Float32Array)
    for (let k = 0; k < data.length; k++) view.setFloat32(k * 4, data[k]!, true);
  else for (let k = 0; k < data.length; k++) view.setInt32(k * 4, data[k]!, true);
  return out;
}

function fromLittleEndian(bytes: Uint8Array, dtype: 'float32' | 'int32'): Float32Array | Int32Array {
  const n = bytes.byteLength / 4;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'float32') {
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) out[k] = view.getFloat32(k * 4, true);
    return out;
  }
  const out = new Int32Array(n);
  for (let k = 0; k < n; k++) out[k] = view.getInt32(k * 4, true);
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkManifest(value: unknown): ContentEncoderManifest {
  const fail = (what: string): never => {
    throw new ArtefactError(`content-encoder manifest: ${what}`);
  };
  if (!isRecord(value)) return fail('not an object');
  if (value.schemaVersion !== CONTENT_ENCODER_SCHEMA_VERSION)
    fail(`schemaVersion ${String(value.schemaVersion)} is not ${CONTENT_ENCODER_SCHEMA_VERSION}`);
  if (value.kind !== 'content-encoder') fail('kind is not content-encoder');
  if (value.model !== 'ridge' && value.model !== 'mlp') fail(`unknown model ${String(value.model)}`);
  const positiveInt = (v: unknown, name: string, min = 1) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      fail(`${name} must be an integer >= ${min}`);
  };
  positiveInt(value.factors, 'factors');
  positiveInt(value.hidden, 'hidden', value.model === 'mlp' ? 1 : 0);
  const features = value.features;
  if (!isRecord(features)) return fail('features is not an object');
  positiveInt(features.columns, 'features.columns', 0);
  for (const key of [
    'dims',
    'hashSeed',
    'priceBandsPerDoubling',
    'minDf',
    'charNgrams',
    'documents',
  ] as const)
    if (typeof features[key] !== 'number') fail(`features.${key} must be a number`);
  if (typeof features.bigrams !== 'boolean') fail('features.bigrams must be a boolean');
  const files = value.files;
  if (!isRecord(files)) return fail('files is not an object');
  for (const [name, entry] of Object.entries(files)) {
    if (
      !isRecord(entry) ||
      (entry.dtype !== 'float32' && entry.dtype !== 'int32') ||
      !Array.isArray(entry.shape)
    )
      fail(`files.${name} must be { dtype, shape }`);
    const shape = (entry as { shape: unknown[] }).shape;
    if (!shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0))
      fail(`files.${name}.shape must hold non-negative integers`);
  }
  if (value.training !== undefined && !isRecord(value.training)) fail('training is not an object');
  return {
    ...(value as unknown as ContentEncoderManifest),
    training: (value.training ?? {}) as Record<string, unknown>,
  };
}
