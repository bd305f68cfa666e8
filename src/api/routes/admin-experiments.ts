/**
 * Experiments: `GET|POST /v1/admin/experiments`, `GET /v1/admin/experiments/:id`,
 * `POST /v1/admin/experiments/:id/start|pause|stop|ship|unship` (unship: a shipped variant is no
 * longer its tiers' default), `POST /v1/admin/experiments/:id/shares` (new shares, moving as few
 * visitors as possible), `GET /v1/admin/experiments/:id/results`; `GET /v1/admin/adaptive`: each
 * adaptive tier's arms and their chances now (an allocation, not a result: a bandit's arm means
 * are biased).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AdaptiveRouter } from '../../experiments/adaptive-router.ts';
import type { ExperimentService } from '../../experiments/experiment-service.ts';
import { ADMIN, actorOf } from '../auth.ts';
import * as S from '../schemas.ts';

export interface ExperimentRoutesOptions {
  experiments: ExperimentService;
  adaptive?: Pick<AdaptiveRouter, 'split'>;
}

export const experimentRoutes: FastifyPluginAsyncTypebox<ExperimentRoutesOptions> = async (
  app,
  { experiments, adaptive },
) => {
  app.get(
    '/v1/admin/adaptive',
    { config: ADMIN, schema: { response: { 200: S.AdaptiveReply, ...S.ErrorResponses } } },
    async () => ({ tiers: adaptive?.split() ?? {} }),
  );

  const one = { 200: S.ExperimentReply, ...S.ErrorResponses };

  app.get(
    '/v1/admin/experiments',
    { config: ADMIN, schema: { response: { 200: S.ExperimentsReply, ...S.ErrorResponses } } },
    async () => ({ experiments: await experiments.list() }),
  );

  app.post(
    '/v1/admin/experiments',
    {
      config: ADMIN,
      schema: { body: S.ExperimentBody, response: { 201: S.ExperimentReply, ...S.ErrorResponses } },
    },
    async (req, reply) => {
      const e = await experiments.create(actorOf(req), req.body);
      return reply.code(201).send(e);
    },
  );

  app.get(
    '/v1/admin/experiments/:id',
    { config: ADMIN, schema: { params: S.ExperimentParams, response: one } },
    async (req) => experiments.get(req.params.id),
  );

  for (const action of ['start', 'pause', 'stop', 'unship'] as const) {
    app.post(
      `/v1/admin/experiments/:id/${action}`,
      { config: ADMIN, schema: { params: S.ExperimentParams, response: one } },
      async (req) => experiments.act(actorOf(req), req.params.id, action),
    );
  }

  app.post(
    '/v1/admin/experiments/:id/ship',
    { config: ADMIN, schema: { params: S.ExperimentParams, body: S.ShipBody, response: one } },
    async (req) => experiments.act(actorOf(req), req.params.id, 'ship', req.body.variant),
  );

  app.post(
    '/v1/admin/experiments/:id/shares',
    { config: ADMIN, schema: { params: S.ExperimentParams, body: S.SharesBody, response: one } },
    async (req) => experiments.reshare(actorOf(req), req.params.id, req.body.variants),
  );

  app.get(
    '/v1/admin/experiments/:id/results',
    {
      config: ADMIN,
      schema: {
        params: S.ExperimentParams,
        querystring: S.ResultsQuery,
        response: { 200: S.ExperimentResultsReply, ...S.ErrorResponses },
      },
    },
    async (req) =>
      experiments.results(req.params.id, req.query.nStar !== undefined ? { nStar: req.query.nStar } : {}),
  );
};
