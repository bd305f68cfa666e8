/** Small sampling helpers over a seeded `Rng`; every draw of the demo generator goes through them. */
import type { Rng } from '../../models/random.ts';

/** Running sums of `weights`, for `pickCumulative`. */
export function cumulative(weights: ArrayLike<number>): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) {
    sum += weights[i]!;
    out[i] = sum;
  }
  return out;
}

/** An index drawn with probability proportional to its weight (binary search over running sums). */
export function pickCumulative(cum: Float64Array, rng: Rng): number {
  const n = cum.length;
  if (n === 0) throw new RangeError('cannot pick from no weights');
  const u = rng.next() * cum[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid]! > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A uniform element of a non-empty list. */
export function pickOne<T>(list: readonly T[], rng: Rng): T {
  return list[rng.int(list.length)]!;
}

/** Log-normal with the given median and log-space spread. */
export function logNormal(rng: Rng, median: number, sigma: number): number {
  return median * Math.exp(sigma * rng.normal());
}

/** Uniform in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}

/** Failures before the first success, with the given mean (geometric on 0, 1, 2, …). */
export function geometric(rng: Rng, mean: number): number {
  if (mean <= 0) return 0;
  const p = 1 / (1 + mean);
  let u = rng.next();
  while (u === 0) u = rng.next();
  return Math.floor(Math.log(u) / Math.log(1 - p));
}

/** Fisher–Yates, in place. */
export function shuffleInPlace<T>(list: T[] | Int32Array, rng: Rng): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = list[i]!;
    list[i] = list[j]!;
    list[j] = tmp;
  }
}
