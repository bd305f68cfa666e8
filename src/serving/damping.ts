/**
 * Per-visitor score multipliers in the blend, after the configuration's boosts: rotation's
 * demotion of items shown again and again without engagement (src/realtime/rotation.ts), and
 * negative feedback — the nearest neighbours of an item the visitor disliked or hid are damped,
 * not only the item itself (which the filters keep out).
 */
import { typeBit } from './visitor.ts';
import type { Visitor } from './visitor.ts';
import type { Served } from './served.ts';

/** Neighbours of a disliked or hidden item that are damped, and by how much. */
export const DISLIKE_NEIGHBOURS = 10;
export const DISLIKE_DAMPING = 0.5;
const REJECTED = typeBit('dislike') | typeBit('hide');

/** The visitor's multiplier per item (null: none), `demotion` for rotation's demoted items. */
export function visitorDamping(
  s: Served,
  who: Visitor,
  demotion: number,
): ((index: number) => number) | null {
  const factors = new Map<number, number>();
  const c = s.catalog;
  for (const id of who.demoted) {
    const i = c.indexOf(id);
    if (i !== undefined) factors.set(i, demotion);
  }
  const lists = s.model.neighbours;
  if (lists) {
    // Each rejected item once: a recent dislike is in both the history and the consumed items,
    // and an item may be disliked twice. Neighbours of two rejected items are damped twice.
    const rejected = new Set<string>();
    for (const e of who.history) if (typeBit(e.type) & REJECTED) rejected.add(e.itemId);
    for (const [itemId, { types }] of who.consumed) if (types & REJECTED) rejected.add(itemId);
    const n = Math.min(DISLIKE_NEIGHBOURS, lists.k);
    for (const itemId of rejected) {
      const i = c.indexOf(itemId);
      if (i === undefined || i >= lists.rows) continue;
      for (let r = i * lists.k, end = r + n; r < end; r++) {
        const j = lists.indices[r]!;
        if (j >= 0) factors.set(j, (factors.get(j) ?? 1) * DISLIKE_DAMPING);
      }
    }
  }
  return factors.size ? (i) => factors.get(i) ?? 1 : null;
}

/** Two multipliers as one (either may be null). */
export function times(
  a: ((i: number) => number) | null,
  b: ((i: number) => number) | null,
): ((i: number) => number) | null {
  return a && b ? (i) => a(i) * b(i) : (a ?? b);
}
