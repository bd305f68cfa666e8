/**
 * Brute-force top-k over a flat Float32Array: every live item (∧ the filter) is scored, so
 * recall is 1 by construction. The ground truth in tests, and the index for small catalogues
 * (see `build-ann-index.ts` for the size threshold).
 *
 * Saved as the raw float32 rows (`path`, the same format as the model's vector files) and
 * `path.json` (live items).
 */
import type { Vectors } from '../../models/matrix.ts';
import type { AnnIndex, AnnResult } from './ann-index.ts';
import { AnnIndexError } from '../errors.ts';
import {
  decodeWords,
  encodeWords,
  INDEX_FILE_FORMAT,
  INDEX_FILE_VERSION,
  readFloat32File,
  readMeta,
  writeFloat32File,
  writeMeta,
} from './index-file.ts';
import type { ItemFilter } from './item-filter.ts';
import { checkQuery, checkVectors, VectorStore } from './vector-store.ts';

export interface ExactIndexOptions {
  /** Only these rows become searchable (e.g. the active items); default: every row. */
  include?: ItemFilter;
}

export interface ExactIndexLoadOptions {
  /**
   * The vectors the index was saved with (the model version's item vectors, already in
   * memory): used in place instead of reading the file when they hold at least the index's
   * item space (otherwise the file is read).
   */
  vectors?: Vectors;
}

export class ExactIndex implements AnnIndex {
  readonly kind = 'exact';

  private constructor(private readonly store: VectorStore) {}

  /** An empty index for `dims`-long vectors. */
  static empty(dims: number): ExactIndex {
    return new ExactIndex(new VectorStore(dims));
  }

  /** An index over the rows of `vectors`, which it takes without copying. */
  static build(vectors: Vectors, options: ExactIndexOptions = {}): ExactIndex {
    checkVectors(vectors);
    const store = new VectorStore(vectors.cols, vectors.data.subarray(0, vectors.rows * vectors.cols));
    for (let i = 0; i < vectors.rows; i++) {
      if (!options.include || options.include.has(i)) store.markLive(i);
    }
    return new ExactIndex(store);
  }

  /** Reads an index written by `save`. */
  static async load(path: string, options: ExactIndexLoadOptions = {}): Promise<ExactIndex> {
    const meta = await readMeta(path, 'exact');
    const floats = meta.itemSpace * meta.dims;
    let data: Float32Array | null = null;
    if (options.vectors) {
      checkVectors(options.vectors);
      if (options.vectors.cols !== meta.dims) {
        throw new AnnIndexError(`${path}: index has ${meta.dims} dims, vectors have ${options.vectors.cols}`);
      }
      // Fewer rows than the index (items added after the build): read the file instead.
      if (options.vectors.rows >= meta.itemSpace) data = options.vectors.data.subarray(0, floats);
    }
    data ??= await readFloat32File(path, floats);
    const store = new VectorStore(meta.dims, data);
    store.restoreLive(decodeWords(meta.live, 'live', meta.itemSpace), meta.itemSpace, meta.size);
    return new ExactIndex(store);
  }

  get dims(): number {
    return this.store.dims;
  }

  get size(): number {
    return this.store.size;
  }

  get itemSpace(): number {
    return this.store.itemSpace;
  }

  search(query: Float32Array, k: number, filter?: ItemFilter): AnnResult {
    checkQuery(query, this.dims, k);
    return this.store.search(query, Math.floor(k), filter);
  }

  has(itemIndex: number): boolean {
    return this.store.isLive(itemIndex);
  }

  vector(itemIndex: number): Float32Array | null {
    return this.store.isLive(itemIndex) ? this.store.row(itemIndex) : null;
  }

  add(itemIndex: number, vector: Float32Array): void {
    this.store.set(itemIndex, vector);
  }

  remove(itemIndex: number): boolean {
    return this.store.unset(itemIndex);
  }

  async save(path: string): Promise<string[]> {
    const space = this.store.itemSpace;
    const vectors = await writeFloat32File(path, this.store.data.subarray(0, space * this.dims));
    const meta = await writeMeta(path, {
      format: INDEX_FILE_FORMAT,
      version: INDEX_FILE_VERSION,
      kind: 'exact',
      dims: this.dims,
      itemSpace: space,
      size: this.size,
      live: encodeWords(this.store.live.subarray(0, (space + 31) >>> 5)),
    });
    return [vectors, meta];
  }
}
