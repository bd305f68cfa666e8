/**
 * `GET /v1/recommendations/:tier`: the hot path. Every request runs only what a tier needs: no
 * spreads, no async function of its own, and the reply's JSON from recommendation-json.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ShelfError } from '../../errors.ts';
import type { Engine } from '../../serving/engine.ts';
import type { RecommendRequest, RequestFilters, Tier } from '../../serving/types.ts';
import { STOREFRONT } from '../auth.ts';
import { recommendationJson } from '../recommendation-json.ts';
import * as S from '../schemas.ts';

export interface RecommendationRoutesOptions {
  engine: Pick<Engine, 'recommend'>;
}

const list = (s: string | undefined) =>
  s
    ? s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;

export const recommendationRoutes: FastifyPluginAsyncTypebox<RecommendationRoutesOptions> = async (
  app,
  { engine },
) => {
  app.get(
    '/v1/recommendations/:tier',
    {
      config: STOREFRONT,
      schema: {
        params: S.TierParams,
        querystring: S.RecommendQuery,
        response: { 200: S.RecommendationReply, ...S.ErrorResponses },
      },
    },
    (req, reply) => {
      const q = req.query;
      // The schema's enum admits only tiers (Type.Unsafe carries no static type through the provider).
      const tier = req.params.tier as Tier;
      if (tier === 'similar' && !q.itemId)
        throw ShelfError.of('SHELF_ERR_VALIDATION', 'querystring/itemId is required for the similar tier');
      if (tier === 'category' && !q.category)
        throw ShelfError.of('SHELF_ERR_VALIDATION', 'querystring/category is required for the category tier');
      // Only the parameters given, as properties (not spreads: this runs on every request).
      const r: RecommendRequest = { tier, limit: q.limit ?? 20 };
      if (q.userId !== undefined) r.userId = q.userId;
      if (q.sessionId !== undefined) r.sessionId = q.sessionId;
      if (q.itemId !== undefined) r.itemId = q.itemId;
      if (q.category !== undefined) r.category = q.category;
      if (q.variant !== undefined) r.variant = q.variant;
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
      // Not an async function (its own promise and resumption per request): the engine's promise,
      // which Fastify awaits (a rejection reaches the error handler).
      // Serialised by recommendation-json.ts (items made once per cached list), not the schema's serializer.
      // The items array must reach the serializer as is: that is how a cached list's JSON is reused.
      return engine.recommend(r).then((answer) => {
        reply
          .type('application/json; charset=utf-8')
          .serializer(recommendationJson)
          .send(answer as S.RecommendationReply);
      });
    },
  );
};
