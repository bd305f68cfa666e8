/**
 * Top-k over a dense score vector. Order: score descending, then index ascending (pinned by a
 * test). `exclude` marks indices never returned (a user's own items, the current item).
 */
export interface TopK {
  indices: Int32Array;
  scores: Float32Array;
}

export function topK(scores: Float32Array, k: number, exclude?: Int32Array | Uint8Array): TopK {
  const n = scores.length;
  const cap = Math.min(k, n);
  // Min-heap of the best `cap` so far; the root is the worst kept.
  const heapIdx = new Int32Array(cap);
  const heapVal = new Float32Array(cap);
  let size = 0;
  const excluded = makeExcluded(n, exclude);
  // `a` is worse than `b` when its score is lower, or equal with a larger index.
  const worse = (ia: number, va: number, ib: number, vb: number) => va < vb || (va === vb && ia > ib);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && worse(heapIdx[l]!, heapVal[l]!, heapIdx[m]!, heapVal[m]!)) m = l;
      if (r < size && worse(heapIdx[r]!, heapVal[r]!, heapIdx[m]!, heapVal[m]!)) m = r;
      if (m === i) return;
      swap(heapIdx, heapVal, i, m);
      i = m;
    }
  };
  for (let i = 0; i < n; i++) {
    if (excluded && excluded[i]) continue;
    const v = scores[i]!;
    if (Number.isNaN(v)) continue;
    if (size < cap) {
      let j = size++;
      heapIdx[j] = i;
      heapVal[j] = v;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (!worse(heapIdx[j]!, heapVal[j]!, heapIdx[p]!, heapVal[p]!)) break;
        swap(heapIdx, heapVal, j, p);
        j = p;
      }
    } else if (worse(heapIdx[0]!, heapVal[0]!, i, v)) {
      heapIdx[0] = i;
      heapVal[0] = v;
      siftDown(0);
    }
  }
  // Heapsort in place: the worst kept goes to the end, then the next worst before it, …
  const kept = size;
  while (size > 1) {
    swap(heapIdx, heapVal, 0, --size);
    siftDown(0);
  }
  return kept === cap
    ? { indices: heapIdx, scores: heapVal }
    : { indices: heapIdx.slice(0, kept), scores: heapVal.slice(0, kept) };
}

function makeExcluded(n: number, exclude?: Int32Array | Uint8Array): Uint8Array | null {
  if (!exclude) return null;
  if (exclude instanceof Uint8Array && exclude.length === n) return exclude;
  const mask = new Uint8Array(n);
  for (const i of exclude) if (i >= 0 && i < n) mask[i] = 1;
  return mask;
}

function swap(idx: Int32Array, val: Float32Array, a: number, b: number): void {
  const ti = idx[a]!;
  idx[a] = idx[b]!;
  idx[b] = ti;
  const tv = val[a]!;
  val[a] = val[b]!;
  val[b] = tv;
}

/** Drops trailing entries whose score is not positive (topK keeps them when k is large). */
export function positive(r: TopK): TopK {
  let n = r.indices.length;
  while (n > 0 && !(r.scores[n - 1]! > 0)) n--;
  return n === r.indices.length ? r : { indices: r.indices.subarray(0, n), scores: r.scores.subarray(0, n) };
}
