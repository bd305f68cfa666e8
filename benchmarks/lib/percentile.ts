/** The value at fraction `p` of `sorted` (ascending): index ⌊p·n⌋, the last at most; NaN when empty. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
