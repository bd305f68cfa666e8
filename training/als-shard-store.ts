/**
 * The files a sharded ALS fit exchanges through a directory every worker mounts (the models
 * dir's `als-shards/`): per fit, both orientations of the matrix once; per half-step (keyed by
 * fit id, iteration and side) the other side's factors Y, B = YᵀY + λI, Z = Y B⁻¹ when the
 * Woodbury rows need it and the solved side's current factors; per shard its solved rows.
 * Every file is written to a temporary name and renamed, so a reader never sees half a file and
 * a retried shard (its first worker killed mid-write) replaces its result whole. Arrays are
 * stored raw in the platform's byte order (little-endian on every Node target).
 *
 * Layout: `<root>/<fitId>/{users,items}.csr` (int32 rows, cols, nnz; indptr; indices; float32
 * values) and `<root>/<fitId>/<iteration>-<side>/{other,solved,projected}.f32, system.f64,
 * shard-<start>-<end>.f32`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AlsSide } from '../models/als-kernel.ts';
import type { Csr } from '../models/sparse.ts';

const FIT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const HEADER_BYTES = 12;

export type HalfStepArray = 'other' | 'solved' | 'projected' | 'system';

/** The part of a CSR file one shard reads: its rows, indptr rebased to 0. */
export interface CsrRows {
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

export class AlsShardStore {
  constructor(readonly root: string) {}

  /** Throws `RangeError` unless `fitId` is a safe single path segment. */
  static checkFitId(fitId: string): void {
    if (!FIT_ID.test(fitId)) throw new RangeError(`bad ALS fit id ${JSON.stringify(fitId)}`);
  }

  fitDir(fitId: string): string {
    AlsShardStore.checkFitId(fitId);
    return join(this.root, fitId);
  }

  halfStepDir(fitId: string, iteration: number, side: AlsSide): string {
    if (!Number.isInteger(iteration) || iteration < 1) throw new RangeError('iteration must be >= 1');
    if (side !== 'users' && side !== 'items') throw new RangeError(`bad side ${String(side)}`);
    return join(this.fitDir(fitId), `${iteration}-${side}`);
  }

  async writeMatrix(fitId: string, side: AlsSide, m: Csr): Promise<void> {
    const nnz = m.indptr[m.rows]!;
    const header = new Int32Array([m.rows, m.cols, nnz]);
    await mkdir(this.fitDir(fitId), { recursive: true });
    await writeAtomic(join(this.fitDir(fitId), `${side}.csr`), [
      header,
      m.indptr.subarray(0, m.rows + 1),
      m.indices.subarray(0, nnz),
      m.values.subarray(0, nnz),
    ]);
  }

  /** Rows [start, end) of the fit's `side` matrix, read at their offsets (not the whole file). */
  async readMatrixRows(fitId: string, side: AlsSide, start: number, end: number): Promise<CsrRows> {
    const file = await open(join(this.fitDir(fitId), `${side}.csr`), 'r');
    try {
      const header = new Int32Array(3);
      await readExactly(file, header, 0);
      const [rows, , nnz] = header as unknown as [number, number, number];
      if (!(0 <= start && start <= end && end <= rows))
        throw new RangeError(`rows [${start}, ${end}) outside the ${rows} rows of ${side}`);
      const ptr = new Int32Array(end - start + 1);
      await readExactly(file, ptr, HEADER_BYTES + 4 * start);
      const base = ptr[0]!;
      for (let i = 0; i < ptr.length; i++) ptr[i]! -= base;
      const count = ptr[end - start]!;
      const indices = new Int32Array(count);
      const values = new Float32Array(count);
      const indicesAt = HEADER_BYTES + 4 * (rows + 1);
      await readExactly(file, indices, indicesAt + 4 * base);
      await readExactly(file, values, indicesAt + 4 * nnz + 4 * base);
      return { indptr: ptr, indices, values };
    } finally {
      await file.close();
    }
  }

  async writeHalfStep(
    fitId: string,
    iteration: number,
    side: AlsSide,
    arrays: Partial<Record<HalfStepArray, Float32Array | Float64Array>>,
  ): Promise<void> {
    const dir = this.halfStepDir(fitId, iteration, side);
    await mkdir(dir, { recursive: true });
    await Promise.all(
      Object.entries(arrays).map(([name, a]) => writeAtomic(join(dir, fileOf(name as HalfStepArray)), [a])),
    );
  }

  /** A whole half-step array (`count` elements), or `count` elements from element `from`. */
  async readHalfStep<T extends Float32Array | Float64Array>(
    fitId: string,
    iteration: number,
    side: AlsSide,
    name: HalfStepArray,
    out: T,
    from = 0,
  ): Promise<T> {
    const path = join(this.halfStepDir(fitId, iteration, side), fileOf(name));
    const file = await open(path, 'r');
    try {
      await readExactly(file, out, from * out.BYTES_PER_ELEMENT);
      return out;
    } finally {
      await file.close();
    }
  }

  shardResultPath(fitId: string, iteration: number, side: AlsSide, start: number, end: number): string {
    return join(this.halfStepDir(fitId, iteration, side), `shard-${start}-${end}.f32`);
  }

  async writeShardResult(
    fitId: string,
    iteration: number,
    side: AlsSide,
    start: number,
    end: number,
    factors: Float32Array,
  ): Promise<void> {
    await writeAtomic(this.shardResultPath(fitId, iteration, side, start, end), [factors]);
  }

  /** A shard's solved rows into `out` (throws when the file is missing or short). */
  async readShardResult(
    fitId: string,
    iteration: number,
    side: AlsSide,
    start: number,
    end: number,
    out: Float32Array,
  ): Promise<void> {
    const file = await open(this.shardResultPath(fitId, iteration, side, start, end), 'r');
    try {
      await readExactly(file, out, 0);
    } finally {
      await file.close();
    }
  }

  async removeHalfStep(fitId: string, iteration: number, side: AlsSide): Promise<void> {
    await rm(this.halfStepDir(fitId, iteration, side), { recursive: true, force: true });
  }

  async removeFit(fitId: string): Promise<void> {
    await rm(this.fitDir(fitId), { recursive: true, force: true });
  }

  /**
   * Removes the files of fits untouched for `ageMs` (their coordinator died: a live fit's
   * directory changes at every half-step); the ids removed.
   */
  async removeAbandoned(ageMs: number, now = Date.now()): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const removed: string[] = [];
    for (const name of names) {
      if (!FIT_ID.test(name)) continue;
      const info = await stat(join(this.root, name)).catch(() => null);
      if (info?.isDirectory() && now - info.mtimeMs > ageMs) {
        await this.removeFit(name);
        removed.push(name);
      }
    }
    return removed;
  }
}

function fileOf(name: HalfStepArray): string {
  return name === 'system' ? 'system.f64' : `${name}.f32`;
}

type Typed = Int32Array | Float32Array | Float64Array;

/** Writes the arrays one after another to a temporary file, then renames it to `path`. */
async function writeAtomic(path: string, parts: Typed[]): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const file = await open(tmp, 'w');
    try {
      for (const p of parts) {
        const bytes = new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
        for (let done = 0; done < bytes.length;)
          done += (await file.write(bytes, done, bytes.length - done)).bytesWritten;
      }
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Fills `out` from byte `position` of the file; throws `RangeError` when the file is shorter. */
async function readExactly(
  file: Awaited<ReturnType<typeof open>>,
  out: Typed,
  position: number,
): Promise<void> {
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  let done = 0;
  while (done < bytes.length) {
    const { bytesRead } = await file.read(bytes, done, bytes.length - done, position + done);
    if (bytesRead === 0) throw new RangeError(`file ends ${bytes.length - done} bytes short`);
    done += bytesRead;
  }
}
