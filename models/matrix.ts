/** A row-major float32 matrix in memory: row r is `data.subarray(r * cols, (r + 1) * cols)`. */
export interface Vectors {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** The rows of `top`, then those of `bottom` (one copy; `top` itself when `bottom` is empty). */
export function stackRows(top: Float32Array, bottom: Float32Array | null, cols: number): Vectors {
  if (!bottom?.length) return { data: top, rows: top.length / cols, cols };
  const data = new Float32Array(top.length + bottom.length);
  data.set(top);
  data.set(bottom, top.length);
  return { data, rows: data.length / cols, cols };
}
