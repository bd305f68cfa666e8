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

/** A variant's buckets: half-open ranges of the experiment's 10,000, ascending and disjoint. */
export type BucketRanges = [number, number][];

/** Each variant's contiguous range for `shares`, in order (how an experiment starts). */
export function rangesOf(shares: readonly number[]): BucketRanges[] {
  const bounds = shareBounds(shares);
  return [...bounds].map((hi, i) => [[i === 0 ? 0 : bounds[i - 1]!, hi]] as BucketRanges);
}

const size = (r: BucketRanges) => r.reduce((n, [lo, hi]) => n + hi - lo, 0);

/**
 * New ranges for `shares` moving as few buckets as possible from `current` (each variant's
 * ranges now): a variant that shrinks gives up buckets from its top end, one that grows takes
 * only freed buckets, the rest stay. The buckets moved are Σ max(0, old − new) over variants,
 * the least any reassignment can move.
 */
export function reshare(current: readonly BucketRanges[], shares: readonly number[]): BucketRanges[] {
  if (current.length !== shares.length) throw new RangeError('reshare: one share per variant');
  const bounds = shareBounds(shares);
  const target = [...bounds].map((hi, i) => hi - (i === 0 ? 0 : bounds[i - 1]!));
  const free: [number, number][] = [];
  const out = current.map((ranges, i) => {
    const kept: BucketRanges = ranges.map(([lo, hi]) => [lo, hi]);
    let surplus = size(kept) - target[i]!;
    while (surplus > 0) {
      const last = kept[kept.length - 1]!;
      const cut = Math.min(surplus, last[1] - last[0]);
      free.push([last[1] - cut, last[1]]);
      last[1] -= cut;
      if (last[1] === last[0]) kept.pop();
      surplus -= cut;
    }
    return kept;
  });
  free.sort((a, b) => a[0] - b[0]);
  out.forEach((kept, i) => {
    let need = target[i]! - size(kept);
    while (need > 0) {
      const f = free[0]!;
      const take = Math.min(need, f[1] - f[0]);
      kept.push([f[0], f[0] + take]);
      f[0] += take;
      if (f[0] === f[1]) free.shift();
      need -= take;
    }
    kept.sort((a, b) => a[0] - b[0]);
    // Adjacent ranges joined.
    for (let k = kept.length - 1; k > 0; k--) {
      if (kept[k - 1]![1] === kept[k]![0]) {
        kept[k - 1]![1] = kept[k]![1];
        kept.splice(k, 1);
      }
    }
  });
  return out;
}

/** Bucket → variant index over the experiment's 10,000 buckets (one array read per request). */
export function bucketTable(ranges: readonly BucketRanges[]): Uint8Array {
  if (ranges.length > 255) throw new RangeError('at most 255 variants');
  const t = new Uint8Array(BUCKETS);
  ranges.forEach((rs, i) => {
    for (const [lo, hi] of rs) t.fill(i, lo, hi);
  });
  return t;
}
