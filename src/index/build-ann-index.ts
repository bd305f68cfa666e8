/**
 * Picks the index for a catalogue and loads whichever kind was saved.
 *
 * Exact search scores every item: about 45 ns per item at 64 dims in V8 (a full scan of 1M
 * items takes ~45 ms; benchmarks/serving-index.ts), so up to 20,000 items × 64 dims
 * (1.28M floats) it answers in about a millisecond — the HNSW's p99 budget — with recall 1,
 * no build time, no graph memory (~1× the vectors instead of ~2×) and no filter strategy to
 * get wrong. Above that, the graph's cost stays ~0.1–0.5 ms while the scan grows linearly.
 * The threshold is in floats so that it scales with the vector length.
 */
import type { Vectors } from '../../models/matrix.ts';
import type { AnnIndex } from './ann-index.ts';
import { ExactIndex } from './exact-index.ts';
import type { ExactIndexOptions } from './exact-index.ts';
import { HnswIndex } from './hnsw-index.ts';
import type { HnswBuildOptions, HnswSearchOptions } from './hnsw-index.ts';
import { readMeta } from './index-file.ts';

/** Catalogues with at most this many floats (items × dims) get an `ExactIndex`. */
export const EXACT_MAX_FLOATS = 20_000 * 64;

export interface BuildAnnIndexOptions extends HnswBuildOptions, ExactIndexOptions {
  /** Overrides the choice (for tests and tools). */
  kind?: 'hnsw' | 'exact';
  /** @defaultValue EXACT_MAX_FLOATS */
  exactMaxFloats?: number;
}

/** Which index {@link buildAnnIndex} builds for `vectors`. */
export function annIndexKind(vectors: Vectors, options: BuildAnnIndexOptions = {}): 'hnsw' | 'exact' {
  return (
    options.kind ??
    (vectors.rows * vectors.cols <= (options.exactMaxFloats ?? EXACT_MAX_FLOATS) ? 'exact' : 'hnsw')
  );
}

/** An `ExactIndex` for small catalogues, an `HnswIndex` otherwise. */
export async function buildAnnIndex(vectors: Vectors, options: BuildAnnIndexOptions = {}): Promise<AnnIndex> {
  return annIndexKind(vectors, options) === 'exact'
    ? ExactIndex.build(vectors, options)
    : HnswIndex.build(vectors, options);
}

/** Loads an index saved by either implementation (its `.json` says which). */
export async function loadAnnIndex(
  path: string,
  options: HnswSearchOptions & { vectors?: Vectors } = {},
): Promise<AnnIndex> {
  const meta = await readMeta(path);
  return meta.kind === 'exact' ? ExactIndex.load(path, options) : HnswIndex.load(path, options);
}
