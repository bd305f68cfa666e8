/**
 * Why / why not (`GET /v1/admin/explain`): where an item stands in the list a request would get,
 * from the pipeline's own trace — the first stage that kept it out (the catalogue, the filters,
 * the candidate sources, the ranking cut, the rules) and the scores involved.
 */
import type { Blend } from './blend.ts';
import { visitorDamping } from './damping.ts';
import type { Context } from './filters.ts';
import { whyNotAllowed } from './filters.ts';
import { NEW_ARRIVAL, PROMOTED } from './rules.ts';
import type { Scored } from './rules.ts';
import type { Served } from './served.ts';
import type { RecommendedItem, RecommendRequest, TierConfig } from './types.ts';
import type { Visitor } from './visitor.ts';

/** What `Engine.list` leaves behind when asked to trace. */
export interface ListTrace {
  ctx?: Context;
  /** The blended candidates the rules saw. */
  shortlist?: Scored[];
  /** Pins placed before the rules' own picks. */
  pins?: number;
  /** The new arrivals the slot could offer, before the visitor's damping passed over some. */
  newArrivals?: readonly number[];
}

export type ExplainStage = 'shown' | 'catalogue' | 'filters' | 'candidates' | 'ranking' | 'rules';

/** The stages where an item's score counted: its damping is named there. */
const SCORED: ReadonlySet<ExplainStage> = new Set(['shown', 'ranking', 'rules']);

export interface Explanation {
  itemId: string;
  shown: boolean;
  /** 0-based position in the list, when shown. */
  position: number | null;
  /** The first stage that kept the item out (`shown` when it is in the list). */
  stage: ExplainStage;
  reason: string;
  /** Its blended score (boosts applied when it reached the rules), or null if no source gave it one. */
  score: number | null;
  /** The lowest score in the list: what it had to beat. */
  lowestShown: number | null;
  /** The list the request gets now. */
  items: readonly RecommendedItem[];
}

export function explained(
  s: Served,
  req: RecommendRequest,
  who: Visitor,
  config: TierConfig,
  limit: number,
  chosen: readonly Scored[],
  trace: ListTrace,
  blend: Blend,
  itemId: string,
  items: readonly RecommendedItem[],
): Explanation {
  const i = s.catalog.indexOf(itemId);
  // What it had to beat: the items the ranking placed, not those a pin or the new-arrival slot
  // put in (a pin scores the top, a new arrival no source proposed scores 0).
  const ranked = chosen.filter((c) => c.reason !== PROMOTED && c.reason !== NEW_ARRIVAL);
  const lowestShown = ranked.length ? Math.min(...ranked.map((c) => c.score)) : null;
  // The visitor's damping: rotation (shown again and again without engagement), and nearness
  // to an item they disliked or hid; each multiplied its score down.
  const damped =
    i === undefined
      ? []
      : [
          ...(who.demoted.has(itemId) ? ['demoted by rotation: shown repeatedly without engagement'] : []),
          ...((visitorDamping(s, who, 1)?.(i) ?? 1) < 1
            ? ['damped as a near neighbour of an item the visitor disliked or hid']
            : []),
        ];
  const out = (
    stage: ExplainStage,
    reason: string,
    score: number | null,
    position: number | null = null,
  ): Explanation => ({
    itemId,
    shown: stage === 'shown',
    position,
    stage,
    reason: SCORED.has(stage) && damped.length ? `${reason} (${damped.join('; ')})` : reason,
    score,
    lowestShown,
    items,
  });
  if (i === undefined) return out('catalogue', 'not in the served catalogue', null);
  const at = chosen.findIndex((c) => c.index === i);
  if (at >= 0) return out('shown', chosen[at]!.reason, chosen[at]!.score, at);
  const notAllowed = whyNotAllowed(s, req, who, trace.ctx!, config, i);
  if (notAllowed) return out('filters', notAllowed, null);

  const listed = trace.shortlist!.find((c) => c.index === i);
  if (!listed) {
    const score = blend.scoreOf(i);
    if (score !== null) return out('ranking', 'ranked below the candidates the rules consider', score);
    // A new arrival no source scores reaches a list through the new-arrival slot alone.
    if (!trace.newArrivals?.includes(i)) return out('candidates', 'not a candidate of any source', null);
    if (damped.length)
      return out('rules', 'the new-arrival slot passes over an item the visitor’s damping lowers', null);
    const slotted = chosen.find((c) => c.reason === NEW_ARRIVAL);
    return out(
      'rules',
      slotted
        ? `the new-arrival slot went to ${s.catalog.item(slotted.index)?.itemId ?? 'another new arrival'}`
        : 'a new arrival no source scored, and the new-arrival slot was not free',
      null,
    );
  }
  // It reached the rules: the category cap, a pin or the new-arrival slot, or MMR took its place.
  const category = s.catalog.item(i)?.categories[0];
  const sameCategory = chosen.filter((c) => category && s.catalog.item(c.index)?.categories[0] === category);
  if (category && sameCategory.length >= config.maxPerCategory) {
    return out(
      'rules',
      `the category cap: ${sameCategory.length} items of ${category} already listed`,
      listed.score,
    );
  }
  const better = trace.shortlist!.filter((c) => c.score > listed.score).length;
  // Above an item the ranking listed, it was not ranked out: MMR chose the lower one over it.
  const aboveShown = lowestShown !== null && listed.score > lowestShown;
  if (better >= limit && !aboveShown)
    return out('ranking', `${better} candidates scored higher`, listed.score);
  const placed = (trace.pins ?? 0) + (config.newItemSlot >= 0 ? 1 : 0);
  if (better >= limit - placed && !aboveShown) {
    return out('rules', 'displaced by a pinned promotion or the new-arrival slot', listed.score);
  }
  return out('rules', `passed over for diversity (MMR, λ = ${config.mmrLambda})`, listed.score);
}
