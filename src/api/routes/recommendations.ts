/**
 * `GET /v1/recommendations/:tier`: the hot path. Every request runs only what a tier needs: no
 * spreads, no async function of its own, and the reply's JSON from recommendation-json.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { Engine } from '../../serving/engine.ts';
import type { Recommendation, Tier } from '../../serving/types.ts';
import { STOREFRONT } from '../auth.ts';
import { recommendationJson } from '../recommendation-json.ts';
import { requestOf, routeRequest, unknownCategory } from '../recommend-request.ts';
import type { Routers } from '../recommend-request.ts';
import * as S from '../schemas.ts';

export interface RecommendationRoutesOptions extends Omit<Routers, 'engine'> {
  engine: Pick<Engine, 'recommend' | 'defaultConfig' | 'hasCategory'>;
}

/** Serialised by recommendation-json.ts (items made once per cached list), not the schema's serializer. */
function sendAnswer(reply: FastifyReply, answer: Recommendation): void {
  reply
    .type('application/json; charset=utf-8')
    .serializer(recommendationJson)
    .send(answer as S.RecommendationReply);
}

export const recommendationRoutes: FastifyPluginAsyncTypebox<RecommendationRoutesOptions> = async (
  app,
  routers,
) => {
  const { engine } = routers;
  app.get(
    '/v1/recommendations/:tier',
    {
      config: STOREFRONT,
      schema: {
        summary:
          'A list of one tier (homepage, category, personalized, similar, cart) with its recommendationId',
        tags: ['recommendations'],
        params: S.TierParams,
        querystring: S.RecommendQuery,
        response: { 200: S.RecommendationReply, ...S.ErrorResponses },
      },
    },
    (req, reply) => {
      // The schema's enum admits only tiers (Type.Unsafe carries no static type through the provider).
      const r = requestOf(req.params.tier as Tier, req.query);
      if (r.category !== undefined && !engine.hasCategory(r.category)) throw unknownCategory(r.category);
      const routed = routeRequest(r, routers);
      if (routed) return routed.then(() => engine.recommend(r)).then((answer) => sendAnswer(reply, answer));
      // Not an async function (its own promise and resumption per request): the engine's promise,
      // which Fastify awaits (a rejection reaches the error handler).
      // The items array must reach the serializer as is: that is how a cached list's JSON is reused.
      // No named closure per request: tsx names each one when it is made (a defineProperty).
      return engine.recommend(r).then((answer) => sendAnswer(reply, answer));
    },
  );
};
