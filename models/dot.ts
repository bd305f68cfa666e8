/**
 * Dot products of rows held in typed arrays, one function per pair of element types: V8 keeps a
 * function fast for the element kinds it has seen, so one function over every typed array
 * would run slower for all of them.
 */

/**
 * a[ao .. ao + n) · b[bo .. bo + n) over float32 rows, added in pairs into a float64: the order
 * src/index/vector-store.ts `scoreRowsInto` adds in, so an index reports the same score for an
 * item whichever of the two computed it.
 */
export function dotF32(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  const even = n & ~1;
  let s = 0;
  for (let t = 0; t < even; t += 2) s += a[ao + t]! * b[bo + t]! + a[ao + t + 1]! * b[bo + t + 1]!;
  if (even !== n) s += a[ao + even]! * b[bo + even]!;
  return s;
}

/** a[ao .. ao + n) · b[bo .. bo + n) over float64 rows (four partial sums, for the CPU's pipelines). */
export function dotF64(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let d0 = 0;
  let d1 = 0;
  let d2 = 0;
  let d3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    d0 += a[ao + i]! * b[bo + i]!;
    d1 += a[ao + i + 1]! * b[bo + i + 1]!;
    d2 += a[ao + i + 2]! * b[bo + i + 2]!;
    d3 += a[ao + i + 3]! * b[bo + i + 3]!;
  }
  for (; i < n; i++) d0 += a[ao + i]! * b[bo + i]!;
  return d0 + d1 + d2 + d3;
}

/** The float32 row a[ao .. ao + n) · the float64 row v[vo .. vo + n) (four partial sums). */
export function dotF32F64(a: Float32Array, ao: number, v: Float64Array, vo: number, n: number): number {
  let d0 = 0;
  let d1 = 0;
  let d2 = 0;
  let d3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    d0 += a[ao + i]! * v[vo + i]!;
    d1 += a[ao + i + 1]! * v[vo + i + 1]!;
    d2 += a[ao + i + 2]! * v[vo + i + 2]!;
    d3 += a[ao + i + 3]! * v[vo + i + 3]!;
  }
  for (; i < n; i++) d0 += a[ao + i]! * v[vo + i]!;
  return d0 + d1 + d2 + d3;
}
