/**
 * Business rules over blended candidates: pinned promotions at fixed slots, a slot for a new
 * arrival, at most N items per category, and MMR diversity over item vectors.
 */
import type { TierRules } from './types.ts';

export interface Scored {
  index: number;
  score: number;
  reason: string;
}

export interface RuleInput {
  limit: number;
  rules: TierRules;
  /** Already filtered: available and allowed. */
  pins: { index: number; slot: number }[];
  /** Already filtered, best first, with a relevance score (ties: the earlier one). */
  newArrivals: { index: number; score: number }[];
  categoryOf: (index: number) => string;
  vectorOf: (index: number) => Float32Array | null;
}

/** MMR looks this many candidates deep per slot (the rest cannot make the list anyway). */
const MMR_POOL = 4;

export function applyRules(candidates: Scored[], o: RuleInput): Scored[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score || a.index - b.index);
  const top = sorted[0]?.score ?? 1;
  const slots: (Scored | undefined)[] = new Array(o.limit);
  const used = new Set<number>();
  const perCategory = new Map<string, number>();
  const take = (s: Scored, slot: number) => {
    slots[slot] = s;
    used.add(s.index);
    const cat = o.categoryOf(s.index);
    perCategory.set(cat, (perCategory.get(cat) ?? 0) + 1);
  };
  const fits = (i: number) => (perCategory.get(o.categoryOf(i)) ?? 0) < o.rules.maxPerCategory;

  for (const p of o.pins) {
    if (p.slot < o.limit && !slots[p.slot] && !used.has(p.index))
      take({ index: p.index, score: top, reason: 'promoted' }, p.slot);
  }
  const newSlot = o.rules.newItemSlot;
  if (newSlot >= 0 && newSlot < o.limit && !slots[newSlot]) {
    // The best-scored new arrival (newest first among equals), never one already placed.
    const best = o.newArrivals
      .filter((n) => !used.has(n.index) && fits(n.index))
      .reduce<{ index: number; score: number } | null>((a, n) => (!a || n.score > a.score ? n : a), null);
    if (best)
      take(
        {
          index: best.index,
          score: candidates.find((s) => s.index === best.index)?.score ?? 0,
          reason: 'new arrival',
        },
        newSlot,
      );
  }

  const pool = sorted.filter((s) => !used.has(s.index)).slice(0, o.limit * MMR_POOL);
  // Each candidate's largest cosine to what is already chosen, kept up to date per pick.
  const unit = pool.map((s) => unitVector(o.vectorOf(s.index)));
  const maxSim = new Float64Array(pool.length).fill(-1);
  const chosen = (v: Float32Array | null) => {
    if (!v) return;
    unit.forEach((u, j) => {
      if (u) maxSim[j] = Math.max(maxSim[j]!, dot(u, v));
    });
  };
  for (const s of slots) if (s) chosen(unitVector(o.vectorOf(s.index)));
  const lambda = o.rules.mmrLambda;
  for (let slot = 0; slot < o.limit; slot++) {
    if (slots[slot]) continue;
    let bestAt = -1;
    let bestValue = -Infinity;
    for (let j = 0; j < pool.length; j++) {
      const s = pool[j]!;
      if (used.has(s.index) || !fits(s.index)) continue;
      const rel = top > 0 ? s.score / top : 0;
      const value = lambda * rel - (1 - lambda) * Math.max(0, maxSim[j]!);
      if (value > bestValue) {
        bestValue = value;
        bestAt = j;
      }
    }
    if (bestAt < 0) break;
    take(pool[bestAt]!, slot);
    chosen(unit[bestAt]!);
  }
  return slots.filter((s): s is Scored => s !== undefined);
}

function unitVector(v: Float32Array | null): Float32Array | null {
  if (!v) return null;
  const n = Math.sqrt(dot(v, v));
  if (!(n > 0)) return null;
  const out = new Float32Array(v.length);
  for (let k = 0; k < v.length; k++) out[k] = v[k]! / n;
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let k = 0; k < a.length; k++) d += a[k]! * b[k]!;
  return d;
}
