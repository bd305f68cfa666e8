/**
 * A model version on disk, as pure data: a manifest object (→ manifest.json) plus raw
 * little-endian float32 vector files. No file I/O here: `writeArtefact` returns buffers to
 * write, `readArtefact` validates what was read. The manifest is parsed and checked, never
 * evaluated; any mismatch throws {@link ArtefactError}.
 */
import { AlsModel } from './als.ts';

export const ARTEFACT_SCHEMA_VERSION = 1;

/**
 * A stored artefact that cannot be used: bad manifest, missing or mis-sized file. Shaped like
 * the engine's `ShelfError` (stable `code`, HTTP status) without models/ depending on src/.
 */
export class ArtefactError extends Error {
  readonly code = 'SHELF_ERR_ARTEFACT';
  readonly statusCode = 500;
  constructor(message: string) {
    super(message);
    this.name = 'ArtefactError';
  }
}

/** A row-major float32 matrix in memory. */
export interface Vectors {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** How the manifest describes one vector file. */
export interface VectorFile {
  /** File name inside the version directory (no path separators). */
  file: string;
  rows: number;
  cols: number;
}

export type ParamValue = string | number | boolean | null;

export interface ArtefactManifest {
  schemaVersion: typeof ARTEFACT_SCHEMA_VERSION;
  /** Model kind, e.g. `als`. */
  kind: string;
  /** Hyper-parameters the model was fitted with. */
  params: Record<string, ParamValue>;
  seed: number;
  /** At least users, items and interactions. */
  counts: { users: number; items: number; interactions: number } & Record<string, number>;
  /** ISO 8601. */
  createdAt: string;
  vectors: Record<string, VectorFile>;
  /** Training data window, ISO 8601 bounds. */
  dataWindow?: { from: string; to: string };
  /** Files of the id ↔ index maps, by name (e.g. `users`, `items`); written by the caller. */
  idMaps?: Record<string, string>;
  /** Offline metrics of this version, e.g. `ndcgAt20`. */
  metrics?: Record<string, number>;
  codeVersion?: string;
}

export interface ArtefactInput {
  kind: string;
  params: Record<string, ParamValue>;
  seed: number;
  counts: ArtefactManifest['counts'];
  createdAt: Date | string;
  /** Named vectors; each becomes `<kebab-name>.f32`. */
  vectors: Record<string, Vectors>;
  dataWindow?: ArtefactManifest['dataWindow'];
  idMaps?: ArtefactManifest['idMaps'];
  metrics?: ArtefactManifest['metrics'];
  codeVersion?: string;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SAFE_FILE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** The manifest object and the vector files' bytes of one model version. */
export function writeArtefact(input: ArtefactInput): {
  manifest: ArtefactManifest;
  files: Record<string, Buffer>;
} {
  const files: Record<string, Buffer> = {};
  const vectors: Record<string, VectorFile> = {};
  for (const [name, v] of Object.entries(input.vectors)) {
    if (v.data.length !== v.rows * v.cols)
      throw new RangeError(`vectors ${name}: ${v.data.length} values, expected ${v.rows} × ${v.cols}`);
    const file = `${name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()}.f32`;
    if (files[file]) throw new RangeError(`vectors ${name}: file name ${file} used twice`);
    files[file] = float32ToBuffer(v.data);
    vectors[name] = { file, rows: v.rows, cols: v.cols };
  }
  const createdAt = input.createdAt instanceof Date ? input.createdAt.toISOString() : input.createdAt;
  const manifest: ArtefactManifest = {
    schemaVersion: ARTEFACT_SCHEMA_VERSION,
    kind: input.kind,
    params: { ...input.params },
    seed: input.seed,
    counts: { ...input.counts },
    createdAt,
    vectors,
    ...(input.dataWindow ? { dataWindow: { ...input.dataWindow } } : {}),
    ...(input.idMaps ? { idMaps: { ...input.idMaps } } : {}),
    ...(input.metrics ? { metrics: { ...input.metrics } } : {}),
    ...(input.codeVersion !== undefined ? { codeVersion: input.codeVersion } : {}),
  };
  // Round-trip through the validator so that a writer bug cannot produce an unreadable version.
  return { manifest: parseManifest(JSON.parse(JSON.stringify(manifest))), files };
}

/** Validates a manifest (e.g. `JSON.parse` of manifest.json) field by field. */
export function parseManifest(value: unknown): ArtefactManifest {
  const m = object(value, 'manifest');
  if (m.schemaVersion !== ARTEFACT_SCHEMA_VERSION)
    throw new ArtefactError(
      `manifest: unsupported schemaVersion ${JSON.stringify(m.schemaVersion)} (expected ${ARTEFACT_SCHEMA_VERSION})`,
    );
  const kind = str(m.kind, 'manifest.kind');
  if (kind.length === 0) throw new ArtefactError('manifest.kind: empty');
  const params: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(object(m.params, 'manifest.params'))) {
    if (v !== null && !['string', 'number', 'boolean'].includes(typeof v))
      throw new ArtefactError(`manifest.params.${k}: must be a string, number, boolean or null`);
    params[k] = v as ParamValue;
  }
  const seed = int(m.seed, 'manifest.seed', -(2 ** 53));
  const countsIn = object(m.counts, 'manifest.counts');
  const counts = {} as ArtefactManifest['counts'];
  for (const [k, v] of Object.entries(countsIn))
    (counts as Record<string, number>)[k] = int(v, `manifest.counts.${k}`);
  for (const k of ['users', 'items', 'interactions'] as const)
    if (counts[k] === undefined) throw new ArtefactError(`manifest.counts.${k}: missing`);
  const createdAt = isoDate(m.createdAt, 'manifest.createdAt');
  const vectors: Record<string, VectorFile> = {};
  const seen = new Set<string>();
  for (const [name, raw] of Object.entries(object(m.vectors, 'manifest.vectors'))) {
    const v = object(raw, `manifest.vectors.${name}`);
    const file = str(v.file, `manifest.vectors.${name}.file`);
    if (!SAFE_FILE.test(file))
      throw new ArtefactError(`manifest.vectors.${name}.file: unsafe file name ${JSON.stringify(file)}`);
    if (seen.has(file)) throw new ArtefactError(`manifest.vectors.${name}.file: ${file} used twice`);
    seen.add(file);
    vectors[name] = {
      file,
      rows: int(v.rows, `manifest.vectors.${name}.rows`),
      cols: int(v.cols, `manifest.vectors.${name}.cols`),
    };
  }
  const out: ArtefactManifest = {
    schemaVersion: ARTEFACT_SCHEMA_VERSION,
    kind,
    params,
    seed,
    counts,
    createdAt,
    vectors,
  };
  if (m.dataWindow !== undefined) {
    const w = object(m.dataWindow, 'manifest.dataWindow');
    out.dataWindow = {
      from: isoDate(w.from, 'manifest.dataWindow.from'),
      to: isoDate(w.to, 'manifest.dataWindow.to'),
    };
  }
  if (m.idMaps !== undefined) {
    out.idMaps = {};
    for (const [k, v] of Object.entries(object(m.idMaps, 'manifest.idMaps'))) {
      const file = str(v, `manifest.idMaps.${k}`);
      if (!SAFE_FILE.test(file))
        throw new ArtefactError(`manifest.idMaps.${k}: unsafe file name ${JSON.stringify(file)}`);
      out.idMaps[k] = file;
    }
  }
  if (m.metrics !== undefined) {
    out.metrics = {};
    for (const [k, v] of Object.entries(object(m.metrics, 'manifest.metrics'))) {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new ArtefactError(`manifest.metrics.${k}: must be a finite number`);
      out.metrics[k] = v;
    }
  }
  if (m.codeVersion !== undefined) out.codeVersion = str(m.codeVersion, 'manifest.codeVersion');
  return out;
}

/**
 * Validates a manifest against the files read for it and decodes the vectors. Every vector
 * file must be present and hold exactly rows × cols float32 values.
 */
export function readArtefact(
  manifestValue: unknown,
  files: Record<string, Uint8Array>,
): { manifest: ArtefactManifest; vectors: Record<string, Vectors> } {
  const manifest = parseManifest(manifestValue);
  const vectors: Record<string, Vectors> = {};
  for (const [name, v] of Object.entries(manifest.vectors)) {
    const bytes = files[v.file];
    if (!bytes) throw new ArtefactError(`vectors ${name}: file ${v.file} missing`);
    const expected = v.rows * v.cols * 4;
    if (bytes.byteLength !== expected)
      throw new ArtefactError(
        `vectors ${name}: ${v.file} has ${bytes.byteLength} bytes, expected ${expected} (${v.rows} × ${v.cols} float32)`,
      );
    vectors[name] = { data: bufferToFloat32(bytes), rows: v.rows, cols: v.cols };
  }
  return { manifest, vectors };
}

/** An ALS model's artefact: `userFactors` and `itemFactors` plus its fit parameters. */
export function writeAlsArtefact(
  model: AlsModel,
  extra: Omit<ArtefactInput, 'kind' | 'params' | 'seed' | 'vectors' | 'counts'> & {
    counts: { interactions: number } & Record<string, number>;
  },
): { manifest: ArtefactManifest; files: Record<string, Buffer> } {
  const o = model.options;
  return writeArtefact({
    ...extra,
    kind: 'als',
    params: {
      factors: o.factors,
      regularization: o.regularization,
      alpha: o.alpha,
      iterations: o.iterations,
      cgSteps: o.cgSteps,
      solver: o.solver,
    },
    seed: o.seed,
    counts: { ...extra.counts, users: model.userCount, items: model.itemCount },
    vectors: {
      userFactors: { data: model.userFactors, rows: model.userCount, cols: model.factors },
      itemFactors: { data: model.itemFactors, rows: model.itemCount, cols: model.factors },
    },
  });
}

/** An {@link AlsModel} ready for fold-in and scoring, from an ALS artefact. */
export function readAlsArtefact(manifestValue: unknown, files: Record<string, Uint8Array>): AlsModel {
  const { manifest, vectors } = readArtefact(manifestValue, files);
  if (manifest.kind !== 'als') throw new ArtefactError(`manifest.kind: expected als, got ${manifest.kind}`);
  const users = vectors.userFactors;
  const items = vectors.itemFactors;
  if (!users || !items) throw new ArtefactError('vectors: userFactors and itemFactors are required');
  const f = manifest.params.factors;
  if (typeof f !== 'number') throw new ArtefactError('manifest.params.factors: must be a number');
  if (users.cols !== f || items.cols !== f)
    throw new ArtefactError(
      `vectors: ${users.cols} and ${items.cols} columns, params.factors is ${String(f)}`,
    );
  if (users.rows !== manifest.counts.users || items.rows !== manifest.counts.items)
    throw new ArtefactError('vectors: row counts differ from manifest.counts');
  const p = manifest.params;
  return AlsModel.fromFactors(users.data, items.data, f, {
    ...(typeof p.regularization === 'number' ? { regularization: p.regularization } : {}),
    ...(typeof p.alpha === 'number' ? { alpha: p.alpha } : {}),
    seed: manifest.seed,
  });
}

function float32ToBuffer(data: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const out = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i]!, i * 4);
  return out;
}

function bufferToFloat32(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes); // a copy: `bytes` need not be 4-byte aligned
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function object(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ArtefactError(`${path}: must be an object`);
  return v as Record<string, unknown>;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ArtefactError(`${path}: must be a string`);
  return v;
}

function int(v: unknown, path: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new ArtefactError(`${path}: must be an integer >= ${min}`);
  return v;
}

function isoDate(v: unknown, path: string): string {
  const s = str(v, path);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(s) || Number.isNaN(Date.parse(s)))
    throw new ArtefactError(`${path}: must be an ISO 8601 date-time`);
  return s;
}
