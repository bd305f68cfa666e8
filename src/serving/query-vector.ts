/**
 * The vector a tier searches with: the page item's (`similar`), the cart's mean (`cart`), or the
 * visitor's — the stored user vector, or folded in from their training row plus the events
 * since the version was trained.
 */
import { rowIndices, rowValues } from '../../models/sparse.ts';
import type { EventType } from '../store/types.ts';
import type { Context } from './filters.ts';
import type { Served } from './served.ts';
import type { Tier } from './types.ts';
import type { Visitor } from './visitor.ts';

/** How strongly each event type ties a user to an item when folding in fresh events. */
const FOLD_IN_WEIGHTS: Partial<Record<EventType, number>> = {
  view: 1,
  click: 2,
  add_to_cart: 4,
  purchase: 8,
  rating: 4,
};

export function queryVector(s: Served, tier: Tier, who: Visitor, ctx: Context): Float32Array | null {
  const v = s.vectors;
  if (!v.searchable) return null;
  if (tier === 'similar') return ctx.pageItem !== undefined ? v.vector(ctx.pageItem) : null;
  if (tier === 'cart')
    return meanVector(
      ctx.cart.flatMap((i) => v.vector(i) ?? []),
      v.dims,
    );
  const m = s.model;
  if (!who.personal || !m.als) return null;
  const als = m.als;
  const u = who.userId !== undefined && !who.forgotten ? m.userIndex.get(who.userId) : undefined;
  const trainedUntil = m.manifest?.data.to ?? Number.NEGATIVE_INFINITY;
  const fresh = who.history.filter((e) => e.timestamp > trainedUntil || u === undefined);
  if (u !== undefined && fresh.length === 0)
    return als.userFactors.subarray(u * als.factors, (u + 1) * als.factors);
  // Fold in: the user's training row (if any) plus the fresh events, on the training scale.
  const weights = new Map<number, number>();
  if (u !== undefined && m.userRows) {
    const idx = rowIndices(m.userRows, u);
    const val = rowValues(m.userRows, u);
    idx.forEach((i, k) => weights.set(i, val[k]!));
  }
  for (const e of fresh) {
    const i = s.catalog.indexOf(e.itemId);
    const wgt = FOLD_IN_WEIGHTS[e.type];
    if (i !== undefined && i < als.itemCount && wgt) weights.set(i, (weights.get(i) ?? 0) + wgt);
  }
  if (weights.size === 0) return null;
  const out = new Float32Array(als.factors);
  als.foldIn(Int32Array.from(weights.keys()), Float32Array.from(weights.values()), out);
  return out;
}

function meanVector(vectors: Float32Array[], dims: number): Float32Array | null {
  if (!vectors.length) return null;
  const out = new Float32Array(dims);
  for (const v of vectors) for (let d = 0; d < dims; d++) out[d]! += v[d]! / vectors.length;
  return out;
}
