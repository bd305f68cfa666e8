/**
 * The vector a tier searches with: the page item's (`similar`), the cart's mean (`cart`), or the
 * visitor's — the stored user vector, or folded in from their training row plus the events
 * since the version was trained.
 */
import { rowIndices, rowValues } from '../../models/sparse.ts';
import { REJECTIONS } from '../store/event-weights.ts';
import type { Context } from './filters.ts';
import type { Served } from './served.ts';
import type { Tier } from './types.ts';
import type { Visitor } from './visitor.ts';

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
  // Fold in: the user's training row (if any) plus the fresh events, weighted by the table the
  // version was trained with and kept as training keeps them: a positive sum, no rejection.
  const weights = new Map<number, number>();
  if (u !== undefined && m.userRows) {
    const idx = rowIndices(m.userRows, u);
    const val = rowValues(m.userRows, u);
    idx.forEach((i, k) => weights.set(i, val[k]!));
  }
  const disliked: number[] = [];
  for (const e of fresh) {
    const i = s.catalog.indexOf(e.itemId);
    if (i === undefined || i >= als.itemCount) continue;
    if (REJECTIONS.includes(e.type)) disliked.push(i);
    else weights.set(i, (weights.get(i) ?? 0) + m.eventWeights[e.type]);
  }
  for (const i of disliked) weights.delete(i);
  for (const [i, w] of weights) if (!(w > 1e-6)) weights.delete(i);
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
