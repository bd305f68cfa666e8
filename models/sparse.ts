/** Compressed sparse rows: the user × item interaction matrix every model trains on. */
export interface Csr {
  rows: number;
  cols: number;
  /** Row r's entries are `indices/values[indptr[r] .. indptr[r+1])`, columns ascending. */
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/**
 * Builds a CSR matrix from coordinate triples; duplicate (row, col) pairs are summed.
 * Two counting passes, no per-entry objects: memory is O(nnz).
 */
export function csrFromCoo(
  rows: number,
  cols: number,
  rowIdx: Int32Array,
  colIdx: Int32Array,
  vals: Float32Array,
): Csr {
  const n = rowIdx.length;
  if (colIdx.length !== n || vals.length !== n) throw new RangeError('coo arrays differ in length');
  const counts = new Int32Array(rows + 1);
  for (let k = 0; k < n; k++) {
    const r = rowIdx[k]!;
    const c = colIdx[k]!;
    if (r < 0 || r >= rows || c < 0 || c >= cols)
      throw new RangeError(`entry ${k} (${r}, ${c}) out of range`);
    counts[r + 1]!++;
  }
  for (let r = 0; r < rows; r++) counts[r + 1]! += counts[r]!;
  const fill = counts.slice(0, rows);
  const tmpCols = new Int32Array(n);
  const tmpVals = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const p = fill[rowIdx[k]!]!++;
    tmpCols[p] = colIdx[k]!;
    tmpVals[p] = vals[k]!;
  }
  // Sort each row by column and merge duplicates. A row is read in full before it is written
  // back, since compaction may overwrite positions of the row not yet visited.
  const indptr = new Int32Array(rows + 1);
  let out = 0;
  const order: number[] = [];
  let rowCols = new Int32Array(16);
  let rowVals = new Float32Array(16);
  for (let r = 0; r < rows; r++) {
    const start = counts[r]!;
    const len = counts[r + 1]! - start;
    if (len > rowCols.length) {
      rowCols = new Int32Array(len * 2);
      rowVals = new Float32Array(len * 2);
    }
    rowCols.set(tmpCols.subarray(start, start + len));
    rowVals.set(tmpVals.subarray(start, start + len));
    order.length = 0;
    for (let q = 0; q < len; q++) order.push(q);
    order.sort((a, b) => rowCols[a]! - rowCols[b]! || a - b);
    let last = -1;
    for (const q of order) {
      const c = rowCols[q]!;
      if (c === last) tmpVals[out - 1]! += rowVals[q]!;
      else {
        tmpCols[out] = c;
        tmpVals[out] = rowVals[q]!;
        out++;
        last = c;
      }
    }
    indptr[r + 1] = out;
  }
  return { rows, cols, indptr, indices: tmpCols.slice(0, out), values: tmpVals.slice(0, out) };
}

export function transpose(m: Csr): Csr {
  const nnz = m.indices.length;
  const indptr = new Int32Array(m.cols + 1);
  for (let k = 0; k < nnz; k++) indptr[m.indices[k]! + 1]!++;
  for (let c = 0; c < m.cols; c++) indptr[c + 1]! += indptr[c]!;
  const fill = indptr.slice(0, m.cols);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  for (let r = 0; r < m.rows; r++) {
    for (let p = m.indptr[r]!; p < m.indptr[r + 1]!; p++) {
      const q = fill[m.indices[p]!]!++;
      indices[q] = r;
      values[q] = m.values[p]!;
    }
  }
  return { rows: m.cols, cols: m.rows, indptr, indices, values };
}

/** Row r's column indices (a view, no copy). */
export function rowIndices(m: Csr, r: number): Int32Array {
  return m.indices.subarray(m.indptr[r]!, m.indptr[r + 1]!);
}

/** Row r's values (a view, no copy). */
export function rowValues(m: Csr, r: number): Float32Array {
  return m.values.subarray(m.indptr[r]!, m.indptr[r + 1]!);
}
