/**
 * Seeded synthetic implicit feedback with power-law rows and columns (a few heavy users and
 * popular items, a long tail of both), for benchmarks and tests of the fits at any size.
 */
import { createRng } from '../../models/random.ts';
import { csrFromCoo } from '../../models/sparse.ts';
import type { Csr } from '../../models/sparse.ts';

export interface SyntheticInteractionsOptions {
  users: number;
  items: number;
  /** Interactions drawn (repeated user–item pairs are summed, so the matrix holds fewer). */
  interactions: number;
  seed: number;
  /** Skew of the user draw: index ⌊uᵖ · users⌋. @defaultValue 3 */
  userSkew?: number;
  /** Skew of the item draw. @defaultValue 1.5 */
  itemSkew?: number;
}

/** A users × items matrix of `interactions` seeded draws, values 1–3. */
export function powerLawInteractions(o: SyntheticInteractionsOptions): Csr {
  const rng = createRng(o.seed);
  const n = o.interactions;
  const userSkew = o.userSkew ?? 3;
  const itemSkew = o.itemSkew ?? 1.5;
  const r = new Int32Array(n);
  const c = new Int32Array(n);
  const v = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    r[k] = Math.floor(rng.next() ** userSkew * o.users);
    c[k] = Math.floor(rng.next() ** itemSkew * o.items);
    v[k] = 1 + rng.int(3);
  }
  return csrFromCoo(o.users, o.items, r, c, v);
}
