/**
 * Element-wise bit comparison of float32 arrays: how many elements differ in their bits (so
 * -0 ≠ +0), and the first that does. The sharded ALS fit is meant to be bit-identical to the
 * single-process one; a tolerance would hide a change in the order of a sum.
 */
export function bitDifferences(
  a: Float32Array,
  b: Float32Array,
): { length: [number, number]; differing: number; first: number | null } {
  const n = Math.min(a.length, b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let differing = 0;
  let first: number | null = null;
  for (let i = 0; i < n; i++) {
    if (ua[i] !== ub[i]) {
      differing++;
      first ??= i;
    }
  }
  return { length: [a.length, b.length], differing, first };
}

/** The value `expect(...).toEqual` should see when the arrays are bit-identical. */
export function sameBits(length: number): { length: [number, number]; differing: 0; first: null } {
  return { length: [length, length], differing: 0, first: null };
}
