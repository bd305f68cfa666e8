/**
 * `GET /v1/recommendations/:tier`: the hot path. Every request runs only what a tier needs: no
 * spreads, no async function of its own, and the reply's JSON from recommendation-json.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { AdaptiveRouter } from '../../experiments/adaptive-router.ts';
import type { ExperimentRouter } from '../../experiments/experiment-router.ts';
import type { Engine } from '../../serving/engine.ts';
import type { Recommendation, Tier } from '../../serving/types.ts';
import { STOREFRONT } from '../auth.ts';
import { recommendationJson } from '../recommendation-json.ts';
import { requestOf } from '../recommend-request.ts';
import * as S from '../schemas.ts';

export interface RecommendationRoutesOptions {
  engine: Pick<Engine, 'recommend' | 'defaultConfig'>;
  /** Running experiments and shipped variants: the request's configuration (src/experiments/). */
  experiments?: Pick<ExperimentRouter, 'active' | 'route'>;
  /** Adaptive tiers: a bandit's or exploration's arm for requests in no experiment (src/experiments/). */
  adaptive?: Pick<AdaptiveRouter, 'active' | 'route'>;
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
  { engine, experiments, adaptive },
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
      // The schema's enum admits only tiers (Type.Unsafe carries no static type through the provider).
      const r = requestOf(req.params.tier as Tier, req.query);
      if (experiments?.active || adaptive?.active) {
        const base = engine.defaultConfig(r.tier);
        // A promise only for a visitor of an experiment with an audience (its segment looked up).
        const routed = base && experiments?.active ? experiments.route(r, base) : undefined;
        if (routed)
          return routed
            .then(() => {
              if (adaptive?.active) adaptive.route(r, r.config ?? base!);
              return engine.recommend(r);
            })
            .then((answer) => sendAnswer(reply, answer));
        if (base && adaptive?.active) adaptive.route(r, r.config ?? base);
      }
      // Not an async function (its own promise and resumption per request): the engine's promise,
      // which Fastify awaits (a rejection reaches the error handler).
      // The items array must reach the serializer as is: that is how a cached list's JSON is reused.
      // No named closure per request: tsx names each one when it is made (a defineProperty).
      return engine.recommend(r).then((answer) => sendAnswer(reply, answer));
    },
  );
};
