/**
 * Small dense kernels on flat row-major `Float64Array` matrices: the f × f systems of ALS
 * (f = number of factors, typically 16–256). Every kernel writes into an argument, allocates
 * nothing and checks no shapes: callers check once at entry.
 */

/**
 * Cholesky factorisation in place: on return the lower triangle of `a` (n × n, symmetric,
 * only the lower triangle is read) holds L with A = L Lᵀ. The strict upper triangle is left
 * as it was. Throws `RangeError` when A is not positive definite.
 */
export function choleskyInPlace(a: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j]!;
    for (let k = 0; k < j; k++) {
      const v = a[rj + k]!;
      d -= v * v;
    }
    if (!(d > 0)) throw new RangeError(`matrix is not positive definite (pivot ${j} = ${d})`);
    d = Math.sqrt(d);
    a[rj + j] = d;
    const inv = 1 / d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j]!;
      for (let k = 0; k < j; k++) s -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = s * inv;
    }
  }
}

/** Solves L Lᵀ x = b in place (`b` becomes x), L from {@link choleskyInPlace}. */
export function choleskySolveInPlace(l: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[ri + k]! * b[k]!;
    b[i] = s / l[ri + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * b[k]!;
    b[i] = s / l[i * n + i]!;
  }
}

/**
 * Inverse of a symmetric positive definite matrix: `a` is overwritten by its Cholesky factor,
 * `out` receives A⁻¹ (full, symmetric), `col` is scratch of length n.
 */
export function spdInverseInto(a: Float64Array, n: number, col: Float64Array, out: Float64Array): void {
  choleskyInPlace(a, n);
  for (let j = 0; j < n; j++) {
    col.fill(0);
    col[j] = 1;
    choleskySolveInPlace(a, n, col);
    for (let i = 0; i < n; i++) out[i * n + j] = col[i]!;
  }
  // Symmetrise away rounding so that A⁻¹ is exactly symmetric.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (out[i * n + j]! + out[j * n + i]!);
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  }
}

/**
 * Adds Σ xᵣ xᵣᵀ over rows [start, end) of `data` (rows × f, row-major) to the upper triangle
 * of `out` (f × f). Four rows per pass so each `out` cell is loaded once per four products.
 */
export function gramUpperAccumulate(
  data: Float32Array,
  f: number,
  start: number,
  end: number,
  out: Float64Array,
): void {
  let r = start;
  for (; r + 4 <= end; r += 4) {
    const o0 = r * f;
    const o1 = o0 + f;
    const o2 = o1 + f;
    const o3 = o2 + f;
    for (let a = 0; a < f; a++) {
      const x0 = data[o0 + a]!;
      const x1 = data[o1 + a]!;
      const x2 = data[o2 + a]!;
      const x3 = data[o3 + a]!;
      const ra = a * f;
      for (let b = a; b < f; b++) {
        out[ra + b]! += x0 * data[o0 + b]! + x1 * data[o1 + b]! + x2 * data[o2 + b]! + x3 * data[o3 + b]!;
      }
    }
  }
  for (; r < end; r++) {
    const o = r * f;
    for (let a = 0; a < f; a++) {
      const x = data[o + a]!;
      const ra = a * f;
      for (let b = a; b < f; b++) out[ra + b]! += x * data[o + b]!;
    }
  }
}

/** Copies the upper triangle of `a` (n × n) onto its lower triangle. */
export function symmetrizeFromUpper(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) a[j * n + i] = a[i * n + j]!;
  }
}
