/**
 * A recommendation request from a query string, and the configuration it is served with
 * (`GET /v1/recommendations/:tier`, the explain route).
 */
import { ShelfError } from '../errors.ts';
import type { AdaptiveRouter } from '../experiments/adaptive-router.ts';
import type { ExperimentRouter } from '../experiments/experiment-router.ts';
import type { Engine } from '../serving/engine.ts';
import type { RecommendRequest, RequestFilters, Tier } from '../serving/types.ts';
import type { RecommendQuery } from './schemas.ts';
import { requireUserId } from './user-id.ts';

/** A comma-separated list, each id once: a cart naming an item 1,300 times multiplied its complements' scores. */
const list = (s: string | undefined) =>
  s
    ? [
        ...new Set(
          s
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
        ),
      ]
    : undefined;

/** A query-string error as the schema's are answered: the field and reason, in the message and in details. */
function invalid(field: string, reason: string): ShelfError {
  return ShelfError.of('SHELF_ERR_VALIDATION', `querystring/${field} ${reason}`, [
    { field: `querystring/${field}`, reason },
  ]);
}

/**
 * A category no stored item is under: 404, not an empty list that looks like a category sold
 * out (most often a path written otherwise than the catalogue's: `Kitchen` for `Home > Kitchen`).
 */
export function unknownCategory(category: string): ShelfError {
  const reason = `'${category}' is no category of the catalogue (a category is a path as the items give it, such as 'Home > Kitchen'; a parent holds its subcategories)`;
  return ShelfError.of('SHELF_ERR_NOT_FOUND', `querystring/category ${reason}`, [
    { field: 'querystring/category', reason },
  ]);
}

/** Only the parameters given, as properties (not spreads: this runs on every request). */
export function requestOf(tier: Tier, q: RecommendQuery): RecommendRequest {
  if (tier === 'similar' && !q.itemId) throw invalid('itemId', 'is required for the similar tier');
  if (tier === 'category' && !q.category) throw invalid('category', 'is required for the category tier');
  // Not an empty list that looks like a shop with nothing in the range.
  if (q.minPrice !== undefined && q.maxPrice !== undefined && q.minPrice > q.maxPrice)
    throw invalid('minPrice', `must be at most maxPrice (${q.maxPrice}), got ${q.minPrice}`);
  const r: RecommendRequest = { tier, limit: q.limit ?? 20 };
  if (q.userId !== undefined) {
    requireUserId(q.userId, 'querystring/userId');
    r.userId = q.userId;
  }
  if (q.sessionId !== undefined) r.sessionId = q.sessionId;
  if (q.itemId !== undefined) r.itemId = q.itemId;
  if (q.category !== undefined) r.category = q.category;
  const exclude = list(q.exclude);
  if (exclude) r.exclude = exclude;
  const cartItemIds = list(q.cartItemIds);
  if (cartItemIds) r.cartItemIds = cartItemIds;
  if (q.minPrice !== undefined || q.maxPrice !== undefined || q.brand !== undefined) {
    const filters: RequestFilters = {};
    if (q.minPrice !== undefined) filters.minPrice = q.minPrice;
    if (q.maxPrice !== undefined) filters.maxPrice = q.maxPrice;
    if (q.brand !== undefined) filters.brand = q.brand;
    r.filters = filters;
  }
  return r;
}

/** What chooses a request's configuration, beside the engine's default. */
export interface Routers {
  engine: Pick<Engine, 'defaultConfig'>;
  /** Running experiments and shipped variants (src/experiments/). */
  experiments?: Pick<ExperimentRouter, 'active' | 'route'> | undefined;
  /** Adaptive tiers: a bandit's or exploration's arm for requests in no experiment. */
  adaptive?: Pick<AdaptiveRouter, 'active' | 'route'> | undefined;
}

/**
 * Sets `r`'s configuration as serving does: a running experiment's variant or a shipped one,
 * then an adaptive tier's arm; the engine's default when none applies. A promise only when an
 * experiment with an audience looks the visitor's segment up (not an async function: this runs
 * on every request).
 */
export function routeRequest(r: RecommendRequest, o: Routers): Promise<void> | undefined {
  const { experiments, adaptive } = o;
  if (!experiments?.active && !adaptive?.active) return undefined;
  const base = o.engine.defaultConfig(r.tier);
  if (!base) return undefined;
  const routed = experiments?.active ? experiments.route(r, base) : undefined;
  if (routed)
    return routed.then(() => {
      if (adaptive?.active) adaptive.route(r, r.config ?? base);
    });
  if (adaptive?.active) adaptive.route(r, r.config ?? base);
  return undefined;
}
