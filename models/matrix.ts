/** A row-major float32 matrix in memory: row r is `data.subarray(r * cols, (r + 1) * cols)`. */
export interface Vectors {
  data: Float32Array;
  rows: number;
  cols: number;
}
