/**
 * Business rules over blended candidates: pinned promotions at fixed slots, a slot for a new
 * arrival, at most N items per category, and MMR diversity over item vectors. Uncategorised items
 * are not one category (never capped), and the cap yields rather than leave a list short.
 */
import { dotF32 } from '../../models/dot.ts';
import type { ItemFilter } from '../index/item-filter.ts';
import type { Item } from '../store/types.ts';
import { inCategory } from './catalog.ts';
import type { Catalog } from './catalog.ts';
import type { Boosts, TierConfig, TierRules } from './types.ts';

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
  /** The item's category for the cap; null: uncategorised, never capped (not one category). */
  categoryOf: (index: number) => string | null;
  vectorOf: (index: number) => Float32Array | null;
  /**
   * The score MMR measures relevance against (`unboostedTop`); unset: the best candidate's. A
   * boost's multiple of the best score would make every other candidate's relevance a sliver of
   * it, and similarity alone would order the rest of the list.
   */
  relevanceTop?: number;
}

/** The reasons of the items a pin and the new-arrival slot place. */
export const PROMOTED = 'promoted';
export const NEW_ARRIVAL = 'new arrival';

/** The category id of an uncategorised item. */
const UNCAPPED = -1;

/** MMR looks this many candidates deep per slot (the rest cannot make the list anyway). */
export const RULES_POOL_PER_SLOT = 4;

export function applyRules(candidates: Scored[], o: RuleInput): Scored[] {
  let top = -Infinity;
  for (const c of candidates) if (c.score > top) top = c.score;
  if (top === -Infinity) top = 1;
  const slots: (Scored | undefined)[] = new Array(o.limit);
  const used = new Set<number>();
  // Categories as small integers, so the cap is an array lookup in the MMR loop.
  const categoryIds = new Map<string, number>();
  const perCategory: number[] = [];
  const categoryId = (i: number) => {
    const name = o.categoryOf(i);
    if (name === null) return UNCAPPED;
    let id = categoryIds.get(name);
    if (id === undefined) {
      id = categoryIds.size;
      categoryIds.set(name, id);
      perCategory.push(0);
    }
    return id;
  };
  const take = (s: Scored, slot: number, cat = categoryId(s.index)) => {
    slots[slot] = s;
    used.add(s.index);
    if (cat !== UNCAPPED) perCategory[cat]!++;
  };
  const cap = o.rules.maxPerCategory;
  const capped = (cat: number) => cat !== UNCAPPED && perCategory[cat]! >= cap;

  for (const p of o.pins) {
    if (p.slot < o.limit && !slots[p.slot] && !used.has(p.index))
      take({ index: p.index, score: top, reason: PROMOTED }, p.slot);
  }
  const newSlot = o.rules.newItemSlot;
  if (newSlot >= 0 && newSlot < o.limit && !slots[newSlot]) {
    // The best-scored new arrival (newest first among equals), never one already placed.
    const best = o.newArrivals
      .filter((n) => !used.has(n.index) && !capped(categoryId(n.index)))
      .reduce<{ index: number; score: number } | null>((a, n) => (!a || n.score > a.score ? n : a), null);
    if (best)
      take(
        {
          index: best.index,
          score: candidates.find((s) => s.index === best.index)?.score ?? 0,
          reason: NEW_ARRIVAL,
        },
        newSlot,
      );
  }

  const pool = bestFirst(
    used.size ? candidates.filter((s) => !used.has(s.index)) : candidates,
    o.limit * RULES_POOL_PER_SLOT,
  );
  const n = pool.length;
  const lambda = o.rules.mmrLambda;
  const relTop = o.relevanceTop ?? top;
  // Lazy MMR: the pool is sorted by relevance and a candidate's value is at most λ · rel, so
  // a slot's scan stops at the first candidate that cannot beat the best found; the
  // candidates it reaches catch up on their similarity to the items chosen since they were
  // last looked at, and stop catching up once they fall to the best found (similarity only
  // lowers a value). Same picks as the full O(limit · pool · dims) MMR, a fraction of the
  // work; at λ = 1 similarity weighs nothing and no vector is read.
  const dims = lambda < 1 ? pool.reduce((d, s) => d || (o.vectorOf(s.index)?.length ?? 0), 0) : 0;
  // hasUnit: -1 not computed yet, 0 no vector, 1 ready.
  const { cats, hasUnit, seen, maxSim, taken, unit } = scratchFor(n, (n + o.limit) * dims);
  for (let j = 0; j < n; j++) cats[j] = categoryId(pool[j]!.index);
  /** Rows of `unit` holding the chosen items' unit vectors, in the order they were chosen. */
  const chosenRows: number[] = [];
  let spare = n;
  if (dims > 0) {
    for (const s of slots) {
      if (s && unitInto(o.vectorOf(s.index), unit, spare * dims, dims)) chosenRows.push(spare++);
    }
  }
  for (let slot = 0; slot < o.limit; slot++) {
    if (slots[slot]) continue;
    let bestAt = -1;
    let bestValue = -Infinity;
    for (let j = 0; j < n; j++) {
      const rel = relTop > 0 ? pool[j]!.score / relTop : 0;
      if (lambda * rel <= bestValue) break;
      if (taken[j] || capped(cats[j]!)) continue;
      if (hasUnit[j] === -1)
        hasUnit[j] = dims > 0 && unitInto(o.vectorOf(pool[j]!.index), unit, j * dims, dims) ? 1 : 0;
      let value = lambda * rel - (1 - lambda) * Math.max(0, maxSim[j]!);
      if (hasUnit[j] === 1) {
        for (; seen[j]! < chosenRows.length && value > bestValue; seen[j]!++) {
          const d = dotF32(unit, j * dims, unit, chosenRows[seen[j]!]! * dims, dims);
          if (d > maxSim[j]!) {
            maxSim[j] = d;
            value = lambda * rel - (1 - lambda) * Math.max(0, d);
          }
        }
      }
      if (value > bestValue) {
        bestValue = value;
        bestAt = j;
      }
    }
    if (bestAt < 0) break;
    taken[bestAt] = 1;
    take(pool[bestAt]!, slot, cats[bestAt]!);
    if (hasUnit[bestAt] === -1)
      hasUnit[bestAt] =
        dims > 0 && unitInto(o.vectorOf(pool[bestAt]!.index), unit, bestAt * dims, dims) ? 1 : 0;
    if (hasUnit[bestAt] === 1) chosenRows.push(bestAt);
  }
  // The cap never leaves a list short: slots it left empty take the best candidates it held back.
  for (let slot = 0, j = 0; slot < o.limit && j < n; slot++) {
    if (slots[slot]) continue;
    while (j < n && taken[j]) j++;
    if (j === n) break;
    taken[j] = 1;
    take(pool[j]!, slot, cats[j]!);
  }
  return slots.filter((s): s is Scored => s !== undefined);
}

/**
 * Which of `n` blended candidates (`scores[j]` of item `items[j]`) `applyRules` needs to see to
 * give the answer it gives for all of them: the best `m` in its order (score descending, then
 * item index ascending), and every candidate whose item is in `alsoKeep` (new arrivals, whose
 * blended score the exposure slot shows). With `m = limit × RULES_POOL_PER_SLOT` plus the slots
 * taken before the MMR pool is drawn (pins, the new-arrival slot), its MMR pool is the same.
 * Returns positions in increasing order.
 */
export function shortlist(
  scores: Float64Array,
  items: Int32Array,
  n: number,
  m: number,
  alsoKeep: readonly number[],
): number[] {
  const keep = (j: number) => alsoKeep.includes(items[j]!);
  if (n <= m) return Array.from({ length: n }, (_, j) => j);
  const cut = scores.slice(0, n).sort()[n - m]!;
  const above: number[] = [];
  const ties: number[] = [];
  const below: number[] = [];
  for (let j = 0; j < n; j++) {
    if (scores[j]! > cut) above.push(j);
    else if (scores[j] === cut) ties.push(j);
    else if (keep(j)) below.push(j);
  }
  ties.sort((a, b) => items[a]! - items[b]!);
  const room = m - above.length;
  return above
    .concat(
      ties.filter((j, t) => t < room || keep(j)),
      below,
    )
    .sort((a, b) => a - b);
}

/**
 * The best of `candidates`' scores with the boosts above 1 taken out (`boost`: `booster`'s): a
 * boosted item's relevance is then above 1, so it comes first, and the others' relevance is what
 * it was without the boost, so MMR orders them as it did.
 */
export function unboostedTop(candidates: readonly Scored[], boost: (index: number) => number): number {
  let top = -Infinity;
  for (const c of candidates) top = Math.max(top, c.score / Math.max(1, boost(c.index)));
  return top;
}

/** The multiplier of `item`'s blended score; null when no boost is configured. */
export function booster(b: Boosts, c: Catalog): ((index: number) => number) | null {
  if (!b.itemIds && !b.brands && !b.categories) return null;
  return (index) => boostOf(b, c.item(index)!);
}

function boostOf(b: Boosts, item: Item): number {
  let f = b.itemIds?.[item.itemId] ?? 1;
  if (item.brand && b.brands?.[item.brand]) f *= b.brands[item.brand]!;
  for (const [path, factor] of Object.entries(b.categories ?? {})) {
    if (inCategory(item, path)) f *= factor;
  }
  return f;
}

/** The configuration's pins that may show in this list (its category, allowed by `filter`). */
export function pinsOf(
  config: TierConfig,
  category: string | undefined,
  filter: ItemFilter,
  c: Catalog,
): { index: number; slot: number }[] {
  if (!config.pins.length) return [];
  return config.pins
    .filter((p) => !p.category || p.category === category)
    .flatMap((p) => {
      const i = c.indexOf(p.itemId);
      return i !== undefined && filter.has(i) ? [{ index: i, slot: p.slot }] : [];
    });
}

/** The per-list arrays of `applyRules`'s MMR: a pool of `n`, and its unit vectors. */
interface RulesScratch {
  cats: Int32Array;
  hasUnit: Int8Array;
  seen: Int32Array;
  maxSim: Float64Array;
  taken: Uint8Array;
  unit: Float32Array;
}

/**
 * Kept between lists and grown on demand: a thread makes one list at a time, and allocating
 * these six arrays for every list took about a quarter of `applyRules`'s time (a 20-item list
 * from 40–160 candidates at λ = 1: 28 → 20 µs).
 */
const scratch: RulesScratch = {
  cats: new Int32Array(0),
  hasUnit: new Int8Array(0),
  seen: new Int32Array(0),
  maxSim: new Float64Array(0),
  taken: new Uint8Array(0),
  unit: new Float32Array(0),
};

/** `scratch`, at least `n` entries (and `floats` unit floats) long, its first `n` reset. */
function scratchFor(n: number, floats: number): RulesScratch {
  const s = scratch;
  if (s.cats.length < n) {
    const size = Math.max(n, 2 * s.cats.length);
    s.cats = new Int32Array(size);
    s.hasUnit = new Int8Array(size);
    s.seen = new Int32Array(size);
    s.maxSim = new Float64Array(size);
    s.taken = new Uint8Array(size);
  }
  if (s.unit.length < floats) s.unit = new Float32Array(Math.max(floats, 2 * s.unit.length));
  s.hasUnit.fill(-1, 0, n);
  s.seen.fill(0, 0, n);
  s.maxSim.fill(-1, 0, n);
  s.taken.fill(0, 0, n);
  return s;
}

const byScore = (a: Scored, b: Scored) => b.score - a.score || a.index - b.index;

/** Up to this many, `bestFirst` sorts by insertion; more, with `byScore`. */
const INSERTION_MAX = 128;
/** `bestFirst`'s copy of the scores, reused. */
let bestScores = new Float64Array(0);

/**
 * The best `m` by score (ties: lower index first), sorted, without sorting all of them: the
 * m-th best score from a native numeric sort of the scores, then only those at or above it are
 * sorted, by insertion while they are few (a serving request blends a few hundred candidates
 * for ~80 places; calling the comparator was most of a sort's time: 20 → 16 µs a list at λ = 1).
 */
function bestFirst(candidates: readonly Scored[], m: number): Scored[] {
  const n = candidates.length;
  let cut = -Infinity;
  if (n > m) {
    if (bestScores.length < n) bestScores = new Float64Array(Math.max(n, 2 * bestScores.length));
    for (let j = 0; j < n; j++) bestScores[j] = candidates[j]!.score;
    cut = bestScores.subarray(0, n).sort()[n - m]!;
  }
  const out = n > m ? candidates.filter((c) => c.score >= cut) : candidates.slice();
  if (out.length > INSERTION_MAX) out.sort(byScore);
  else {
    for (let a = 1; a < out.length; a++) {
      const c = out[a]!;
      let b = a - 1;
      for (; b >= 0; b--) {
        const q = out[b]!;
        if (q.score > c.score || (q.score === c.score && q.index <= c.index)) break;
        out[b + 1] = q;
      }
      out[b + 1] = c;
    }
  }
  if (out.length > m) out.length = m;
  return out;
}

/** Writes v / |v| to out[at .. at + dims); false when there is no vector, a zero one, or a short one. */
function unitInto(v: Float32Array | null, out: Float32Array, at: number, dims: number): boolean {
  if (!v || v.length < dims) return false;
  const d = dims;
  const norm = Math.sqrt(dotF32(v, 0, v, 0, d));
  if (!(norm > 0)) return false;
  for (let k = 0; k < d; k++) out[at + k] = v[k]! / norm;
  return true;
}
