/**
 * Seeded synthetic item vectors for ANN tests and the serving benchmarks: Gaussian clusters
 * with log-normal norms (popularity-like), so inner-product search is not trivial, and
 * user-like queries mixing two centres.
 */
import type { Vectors } from '../../models/matrix.ts';
import { createRng } from '../../models/random.ts';

/** Item vectors around `clusters` Gaussian centres, with log-normal norms (popularity-like). */
export function clusteredItems(
  n: number,
  dims: number,
  clusters: number,
  seed: number,
): { vectors: Vectors; clusterOf: Int32Array; centers: Float32Array } {
  const rng = createRng(seed);
  const scale = 1 / Math.sqrt(dims);
  const centers = new Float32Array(clusters * dims);
  for (let i = 0; i < centers.length; i++) centers[i] = rng.normal() * scale;
  const data = new Float32Array(n * dims);
  const clusterOf = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(clusters);
    clusterOf[i] = c;
    const norm = Math.exp(0.25 * rng.normal());
    for (let j = 0; j < dims; j++) {
      data[i * dims + j] = norm * (centers[c * dims + j]! + 0.5 * rng.normal() * scale);
    }
  }
  return { vectors: { data, rows: n, cols: dims }, clusterOf, centers };
}

/** `count` user-like queries, row-major: 0.8 · one centre + 0.4 · another + noise. */
export function userQueries(centers: Float32Array, dims: number, count: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const clusters = centers.length / dims;
  const scale = 1 / Math.sqrt(dims);
  const out = new Float32Array(count * dims);
  for (let q = 0; q < count; q++) {
    const a = rng.int(clusters);
    const b = rng.int(clusters);
    for (let j = 0; j < dims; j++) {
      out[q * dims + j] =
        0.8 * centers[a * dims + j]! + 0.4 * centers[b * dims + j]! + 0.5 * rng.normal() * scale;
    }
  }
  return out;
}
