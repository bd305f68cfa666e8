/**
 * The `<path>.json` file written beside every saved index: what kind it is, the vector length,
 * the item space, and which items are live, as base64 little-endian bitsets. Parsed and
 * checked field by field, never evaluated.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { AnnIndexError } from '../errors.ts';
import { countBits } from './item-filter.ts';

export const INDEX_FILE_FORMAT = 'shelf-ann-index';
export const INDEX_FILE_VERSION = 1;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface HnswParams {
  m: number;
  efConstruction: number;
  seed: number;
  efSearch: number;
}

/** One norm stratum of an hnsw index: its graph is the file `<path>.<position>`. */
export interface StratumMeta {
  minNorm: number;
  maxNorm: number;
  /** Bitset of the items whose vector lives in this graph (live or marked deleted). */
  members: string;
}

export interface IndexFileMeta {
  format: typeof INDEX_FILE_FORMAT;
  version: typeof INDEX_FILE_VERSION;
  kind: 'hnsw' | 'exact';
  dims: number;
  itemSpace: number;
  /** Live items (bits set in `live`). */
  size: number;
  /** Bitset of live items, base64 of little-endian uint32 words. */
  live: string;
  hnsw?: HnswParams & { strata: StratumMeta[] };
}

export function metaPath(path: string): string {
  return `${path}.json`;
}

export function encodeWords(words: Uint32Array): string {
  assertLittleEndian();
  return Buffer.from(words.buffer, words.byteOffset, words.byteLength).toString('base64');
}

export function decodeWords(text: string, what: string, itemSpace: number): Uint32Array {
  assertLittleEndian();
  const bytes = Buffer.from(text, 'base64');
  const words = (itemSpace + 31) >>> 5;
  if (bytes.length !== words * 4)
    throw new AnnIndexError(`${what}: ${bytes.length} bytes, expected ${words * 4}`);
  const out = new Uint32Array(words);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export async function writeMeta(path: string, meta: IndexFileMeta): Promise<string> {
  const file = metaPath(path);
  await writeFile(file, JSON.stringify(meta) + '\n');
  return file;
}

/** Reads and checks `<path>.json`; `kind` is the kind the caller can load. */
export async function readMeta(path: string, kind?: IndexFileMeta['kind']): Promise<IndexFileMeta> {
  const file = metaPath(path);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new AnnIndexError(`${file}: cannot read index metadata (${(err as Error).message})`);
  }
  const fail = (reason: string): never => {
    throw new AnnIndexError(`${file}: ${reason}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.format !== INDEX_FILE_FORMAT) fail(`format is not ${INDEX_FILE_FORMAT}`);
  if (o.version !== INDEX_FILE_VERSION) fail(`unsupported version ${String(o.version)}`);
  if (o.kind !== 'hnsw' && o.kind !== 'exact') fail(`unknown kind ${String(o.kind)}`);
  if (kind && o.kind !== kind) fail(`is a ${String(o.kind)} index, not ${kind}`);
  const int = (v: unknown, name: string, min: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`${name} must be an integer ≥ ${min}`);
    return v as number;
  };
  const dims = int(o.dims, 'dims', 1);
  const itemSpace = int(o.itemSpace, 'itemSpace', 0);
  const size = int(o.size, 'size', 0);
  if (typeof o.live !== 'string') fail('live must be a string');
  if (countBits(decodeWords(o.live as string, 'live', itemSpace)) !== size) fail('size does not match live');
  const meta: IndexFileMeta = {
    format: INDEX_FILE_FORMAT,
    version: INDEX_FILE_VERSION,
    kind: o.kind as IndexFileMeta['kind'],
    dims,
    itemSpace,
    size,
    live: o.live as string,
  };
  if (meta.kind === 'hnsw') {
    const h = o.hnsw;
    if (typeof h !== 'object' || h === null) return fail('hnsw parameters missing');
    const p = h as Record<string, unknown>;
    if (!Array.isArray(p.strata) || p.strata.length === 0)
      return fail('hnsw.strata must be a non-empty array');
    const norm = (v: unknown, name: string): number => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${name} must be a number ≥ 0`);
      return v as number;
    };
    meta.hnsw = {
      m: int(p.m, 'hnsw.m', 2),
      efConstruction: int(p.efConstruction, 'hnsw.efConstruction', 1),
      seed: int(p.seed, 'hnsw.seed', 0),
      efSearch: int(p.efSearch, 'hnsw.efSearch', 1),
      strata: (p.strata as unknown[]).map((raw, s) => {
        const st = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
        if (typeof st.members !== 'string') fail(`hnsw.strata[${s}].members must be a string`);
        decodeWords(st.members as string, `hnsw.strata[${s}].members`, itemSpace);
        return {
          minNorm: norm(st.minNorm, `hnsw.strata[${s}].minNorm`),
          maxNorm: norm(st.maxNorm, `hnsw.strata[${s}].maxNorm`),
          members: st.members as string,
        };
      }),
    };
  }
  return meta;
}

function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new AnnIndexError('index files are little-endian; this host is big-endian');
}

/** Reads a raw little-endian float32 file of exactly `floats` values. */
export async function readFloat32File(path: string, floats: number): Promise<Float32Array> {
  assertLittleEndian();
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new AnnIndexError(`${path}: cannot read vectors (${(err as Error).message})`);
  }
  if (bytes.length !== floats * 4)
    throw new AnnIndexError(`${path}: ${bytes.length} bytes, expected ${floats * 4}`);
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, floats);
  const out = new Float32Array(floats);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Writes `data` as raw little-endian float32. */
export async function writeFloat32File(path: string, data: Float32Array): Promise<string> {
  assertLittleEndian();
  await writeFile(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return path;
}
