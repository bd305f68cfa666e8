/**
 * "Frequently bought together" for the `cart` tier: for every item, the items that share its
 * baskets (orders, invoices or sessions) more often than their popularity explains.
 *
 * Over N baskets, with n_i baskets holding i and co(i, j) holding both, the score of
 * complement j for item i is a lift shrunk towards 1:
 *
 *     score(i → j) = (co(i, j) + shrink) / (E(i, j) + shrink),   E(i, j) = n_i · (n_j / N)^β
 *
 * With β = 1 (`popularityExponent`), E is the number of shared baskets expected if i and j
 * were bought independently, so shrink = 0 gives the lift P(i, j) / (P(i) P(j)). An item in
 * every basket (milk) has co = E: score exactly 1 whatever the shrink, below any genuine
 * complement. The shrink (pseudo-baskets added to observed and expected) pulls pairs with
 * little evidence towards 1: without it an item bought twice, both times with i, would have the
 * largest possible lift and top i's list. With β = 0, E = n_i and the score is the confidence
 * P(j | i), damped the same way (popular items then rank first). Pairs seen in fewer than
 * `minSupport` baskets are dropped. Scores stay near 1 for every item, so serving can blend
 * several cart items' lists.
 *
 * Cost: O(Σ_b size(b)²) over baskets capped at `maxBasketSize` (seeded down-sampling), memory
 * O(nnz + items · k). The output has the same compact format as item neighbours.
 */
import type { Csr } from './sparse.ts';
import { transpose } from './sparse.ts';
import type { NeighbourLists } from './item-neighbours.ts';
import { capRowLength, TopKSelector } from './item-neighbours.ts';

export interface BoughtTogetherOptions {
  /** Complements kept per item (clamped to items − 1). @defaultValue 50 */
  k?: number;
  /** Minimum number of baskets holding both items. @defaultValue 2 */
  minSupport?: number;
  /** Pseudo-baskets added to the observed and the expected co-count. @defaultValue 10 */
  shrink?: number;
  /** β: 1 ranks by (damped) lift, 0 by (damped) confidence. @defaultValue 1 */
  popularityExponent?: number;
  /** Baskets with more distinct items are down-sampled to this many (seeded). @defaultValue 500 */
  maxBasketSize?: number;
  /** Seed of that down-sampling. @defaultValue 1 */
  seed?: number;
  /**
   * Pairs scoring at or below this are dropped; 1 keeps only items bought together more often
   * than independence predicts (with β = 1). @defaultValue 0
   */
  minScore?: number;
}

/**
 * Top-k complements per item from a baskets × items matrix. Only the presence of an entry
 * counts (values are ignored, duplicates within a basket count once). Empty baskets count in N.
 */
export function boughtTogether(baskets: Csr, options: BoughtTogetherOptions = {}): NeighbourLists {
  const items = baskets.cols;
  const k = Math.max(0, Math.min(options.k ?? 50, items - 1));
  const minSupport = options.minSupport ?? 2;
  const shrink = options.shrink ?? 10;
  const beta = options.popularityExponent ?? 1;
  const maxBasketSize = options.maxBasketSize ?? 500;
  const minScore = options.minScore ?? 0;
  if (!(minSupport >= 1)) throw new RangeError(`minSupport must be >= 1, got ${minSupport}`);
  if (!(shrink >= 0)) throw new RangeError(`shrink must be >= 0, got ${shrink}`);
  if (!(beta >= 0 && beta <= 1)) throw new RangeError(`popularityExponent must be in [0, 1], got ${beta}`);
  if (!(maxBasketSize >= 2)) throw new RangeError(`maxBasketSize must be >= 2, got ${maxBasketSize}`);

  const byBasket = capRowLength(baskets, maxBasketSize, options.seed ?? 1);
  const byItem = transpose(byBasket);
  const total = baskets.rows;

  // E(i, j) = n_i · f_j with f_j = (n_j / N)^β.
  const basketsOf = new Float64Array(items);
  const share = new Float64Array(items);
  for (let i = 0; i < items; i++) {
    const n = byItem.indptr[i + 1]! - byItem.indptr[i]!;
    basketsOf[i] = n;
    share[i] = (n / Math.max(1, total)) ** beta;
  }

  const out: NeighbourLists = {
    rows: items,
    k,
    indices: new Int32Array(items * k).fill(-1),
    scores: new Float32Array(items * k),
  };
  if (k === 0) return out;

  // count[j] = co(i, j) for the current i; 0 marks "not touched yet", reset once read.
  const count = new Int32Array(items);
  const touched = new Int32Array(items);
  const selector = new TopKSelector(k);
  const bPtr = byBasket.indptr;
  const bIdx = byBasket.indices;

  for (let i = 0; i < items; i++) {
    let nTouched = 0;
    for (let p = byItem.indptr[i]!; p < byItem.indptr[i + 1]!; p++) {
      const b = byItem.indices[p]!;
      for (let q = bPtr[b]!, end = bPtr[b + 1]!; q < end; q++) {
        const j = bIdx[q]!;
        if (count[j]!++ === 0) touched[nTouched++] = j;
      }
    }
    selector.reset();
    const ni = basketsOf[i]!;
    for (let t = 0; t < nTouched; t++) {
      const j = touched[t]!;
      const c = count[j]!;
      count[j] = 0;
      if (j === i || c < minSupport) continue;
      const score = (c + shrink) / (ni * share[j]! + shrink);
      if (score > minScore) selector.push(j, score);
    }
    selector.writeInto(out.indices, out.scores, i * k);
  }
  return out;
}

/**
 * Builds the binary baskets × items matrix from parallel arrays (one entry per order line or
 * session event). `baskets` defaults to the largest basket index + 1; repeated lines merge.
 */
export function basketsFromPairs(
  basketIndex: Int32Array,
  itemIndex: Int32Array,
  items: number,
  baskets?: number,
): Csr {
  const n = basketIndex.length;
  if (itemIndex.length !== n) throw new RangeError('basketIndex and itemIndex differ in length');
  let rows = baskets ?? 0;
  if (baskets === undefined) for (const b of basketIndex) if (b + 1 > rows) rows = b + 1;
  for (let e = 0; e < n; e++) {
    const b = basketIndex[e]!;
    const i = itemIndex[e]!;
    if (!(b >= 0 && b < rows && i >= 0 && i < items))
      throw new RangeError(`entry ${e} (${b}, ${i}) out of range`);
  }
  // Two stable counting passes (by item, then by basket) sort the entries by (basket, item),
  // so duplicates are adjacent. (Not csrFromCoo: its in-row merge is only exact on input that
  // is already sorted, and sorting first leaves it nothing to do.)
  const byItem = countingOrder(itemIndex, items, null);
  const order = countingOrder(basketIndex, rows, byItem);
  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(n);
  let nnz = 0;
  let lastBasket = -1;
  for (let q = 0; q < n; q++) {
    const e = order[q]!;
    const b = basketIndex[e]!;
    const i = itemIndex[e]!;
    if (b === lastBasket && indices[nnz - 1] === i) continue;
    lastBasket = b;
    indices[nnz++] = i;
    indptr[b + 1] = nnz;
  }
  for (let b = 0; b < rows; b++) if (indptr[b + 1]! < indptr[b]!) indptr[b + 1] = indptr[b]!;
  return {
    rows,
    cols: items,
    indptr,
    indices: indices.slice(0, nnz),
    values: new Float32Array(nnz).fill(1),
  };
}

/** Positions sorted stably by `keys` in [0, range), visiting `within` order (or 0 … n−1). */
function countingOrder(keys: Int32Array, range: number, within: Int32Array | null): Int32Array {
  const n = keys.length;
  const start = new Int32Array(range + 1);
  for (let e = 0; e < n; e++) start[keys[e]! + 1]!++;
  for (let r = 0; r < range; r++) start[r + 1]! += start[r]!;
  const order = new Int32Array(n);
  for (let q = 0; q < n; q++) {
    const e = within ? within[q]! : q;
    order[start[keys[e]!]!++] = e;
  }
  return order;
}
