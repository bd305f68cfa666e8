/**
 * Steps 2–4 of serving a tier (DESIGN.md "Serving a tier"): what may be shown, where candidates
 * come from, blend and rules. The engine runs them for a list it has no cached copy of; explain
 * runs them traced. One instance per engine: the filters and the blend reuse their buffers from
 * one request to the next, so a list is computed without an await in between.
 */
import type { RotationPolicy } from '../realtime/rotation.ts';
import { times, visitorDamping } from './damping.ts';
import type { ListTrace } from './explain.ts';
import { Blend } from './blend.ts';
import { Candidates } from './candidates.ts';
import type { CandidateRequest, SegmentLists } from './candidates.ts';
import { contextOf, Filters } from './filters.ts';
import { queryVector } from './query-vector.ts';
import type { Served } from './served.ts';
import { applyRules, booster, pinsOf, RULES_POOL_PER_SLOT, unboostedTop } from './rules.ts';
import type { Scored } from './rules.ts';
import type { RecommendRequest, TierConfig } from './types.ts';
import type { Visitor } from './visitor.ts';

export class ListStages {
  private readonly filters = new Filters();
  private readonly sources = new Candidates();
  /** The candidates of the request being computed (reused: see blend.ts). */
  readonly blend = new Blend();

  /** `rotation`: how much an item shown without engagement is damped (its `factor`). */
  constructor(private readonly rotation: Pick<RotationPolicy, 'factor'>) {}

  /** Replaces the segment lists; visitors without history get the `new` segment's. */
  setSegmentLists(lists: SegmentLists): void {
    this.sources.setSegmentLists(lists);
  }

  /** Steps 2–4 for one request, without an await (the filters live in reused buffers). */
  list(
    s: Served,
    req: RecommendRequest,
    who: Visitor,
    config: TierConfig,
    limit: number,
    now: number,
    trace?: ListTrace,
  ) {
    const c = s.catalog;
    const ctx = contextOf(c, req);
    // 3. What may be shown (before the candidates: every source searches within it).
    const allowed = this.filters.allowed(s, req, who, ctx, config);
    // 2. Candidates, weighted into the blend.
    const r: CandidateRequest = {
      s,
      req,
      who,
      ctx,
      allowed,
      x: queryVector(s, req.tier, who, ctx),
      config,
      limit,
      now,
    };
    this.blend.reset();
    this.sources.collect(this.blend, r);
    const damping = visitorDamping(s, who, this.rotation.factor);
    const offered = this.sources.newArrivals(r);
    const newArrivals = undamped(offered, damping);
    // 4. Boosts, then the rules: pins, the new-arrival slot, the category cap, MMR.
    const pins = pinsOf(config, req.category, allowed.filter, c);
    const boost = booster(config.boosts, c);
    const candidates = this.blend.shortlisted(
      times(boost, damping),
      limit * RULES_POOL_PER_SLOT + pins.length + 1,
      newArrivals.map((a) => a.index),
    );
    if (trace) {
      trace.ctx = ctx;
      trace.shortlist = candidates;
      trace.pins = pins.length;
      trace.newArrivals = offered.map((a) => a.index);
    }
    return applyRules(candidates, {
      limit,
      rules: config,
      pins,
      newArrivals,
      categoryOf: (i) => c.item(i)?.categories[0] ?? null,
      vectorOf: (i) => s.vectors.vector(i),
      ...(boost ? { relevanceTop: unboostedTop(candidates, boost) } : {}),
    }) satisfies Scored[];
  }
}

/**
 * The new arrivals that may take the new-arrival slot: not one the visitor's damping lowers
 * (rotation's demotion: shown again and again without engagement; or near an item they
 * disliked). The slot goes to another new arrival, or to none; those still compete in the
 * ranking with their damped scores.
 */
function undamped<T extends { index: number }>(arrivals: T[], damping: ((i: number) => number) | null): T[] {
  return damping ? arrivals.filter((a) => damping(a.index) >= 1) : arrivals;
}
