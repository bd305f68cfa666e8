/**
 * Deterministic assignment: a unit id hashed with a seed into one of 10,000 buckets (GrowthBook's
 * hash v2: FNV-1a 32 of the seed and id, hashed again), so every replica and every restart puts a
 * visitor in the same bucket with no state and no store read. Variants hold contiguous bucket
 * ranges in their order: changing shares moves only the visitors whose buckets change hands (for
 * two variants exactly |Δshare|), where re-hashing would move about half of everyone.
 */

export const BUCKETS = 10_000;

/** FNV-1a, 32 bits, over the UTF-16 code units of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The bucket of `unitId` under `seed`, in [0, BUCKETS). */
export function bucketOf(seed: string, unitId: string): number {
  return fnv1a32(String(fnv1a32(seed + unitId))) % BUCKETS;
}

/**
 * The end (exclusive) of each variant's bucket range for `shares` (summing to 1), rounded so the
 * last ends at BUCKETS.
 */
export function shareBounds(shares: readonly number[]): Int32Array {
  const out = new Int32Array(shares.length);
  let sum = 0;
  for (let i = 0; i < shares.length; i++) {
    sum += shares[i]!;
    out[i] = i === shares.length - 1 ? BUCKETS : Math.round(sum * BUCKETS);
  }
  return out;
}

/** The index of the variant whose range holds `bucket`. */
export function variantOf(bounds: Int32Array, bucket: number): number {
  for (let i = 0; i < bounds.length; i++) if (bucket < bounds[i]!) return i;
  return bounds.length - 1;
}

/** The seed of a layer's hash: independent of every experiment's salt. */
export function layerSeed(layer: string): string {
  return `layer:${layer}:`;
}

/**
 * The lowest free range of `size` buckets of a layer, given the ranges its other live
 * experiments hold; null when the layer has no room.
 */
export function freeRange(
  taken: readonly (readonly [number, number])[],
  size: number,
): [number, number] | null {
  const sorted = [...taken].sort((a, b) => a[0] - b[0]);
  let start = 0;
  for (const [lo, hi] of sorted) {
    if (lo - start >= size) return [start, start + size];
    start = Math.max(start, hi);
  }
  return BUCKETS - start >= size ? [start, start + size] : null;
}
