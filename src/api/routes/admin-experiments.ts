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
    {
      config: ADMIN,
      schema: {
        summary: 'The adaptive (bandit) split of each tier with adaptive weights',
        tags: ['experiments'],
        response: { 200: S.AdaptiveReply, ...S.ErrorResponses },
      },
    },
    async () => ({ tiers: adaptive?.split() ?? {} }),
  );

  const one = { 200: S.ExperimentReply, ...S.ErrorResponses };

  app.get(
    '/v1/admin/experiments',
    {
      config: ADMIN,
      schema: {
        summary: 'All experiments with their state and variants',
        tags: ['experiments'],
        response: { 200: S.ExperimentsReply, ...S.ErrorResponses },
      },
    },
    async () => ({ experiments: await experiments.list() }),
  );

  app.post(
    '/v1/admin/experiments',
    {
      config: ADMIN,
      schema: {
        summary: 'Create an experiment (draft)',
        tags: ['experiments'],
        body: S.ExperimentBody,
        response: { 201: S.ExperimentReply, ...S.ErrorResponses },
      },
    },
    async (req, reply) => {
      const e = await experiments.create(actorOf(req), req.body);
      return reply.code(201).send(e);
    },
  );

  app.get(
    '/v1/admin/experiments/:id',
    {
      config: ADMIN,
      schema: { summary: 'One experiment', tags: ['experiments'], params: S.ExperimentParams, response: one },
    },
    async (req) => experiments.get(req.params.id),
  );

  const acts = {
    start: 'Start (or resume) an experiment: its variants are served',
    pause: 'Pause an experiment: its tiers serve the default, assignments kept',
    stop: 'Stop an experiment for good: its tiers serve the default',
    unship: "Take a shipped variant back: its tiers serve the engine's default on the current version",
  } as const;
  for (const [action, summary] of Object.entries(acts) as [keyof typeof acts, string][]) {
    app.post(
      `/v1/admin/experiments/:id/${action}`,
      {
        config: ADMIN,
        schema: { summary, tags: ['experiments'], params: S.ExperimentParams, response: one },
      },
      async (req) => experiments.act(actorOf(req), req.params.id, action),
    );
  }

  app.post(
    '/v1/admin/experiments/:id/ship',
    {
      config: ADMIN,
      schema: {
        summary: "Ship a variant: its config becomes the tiers' default",
        tags: ['experiments'],
        params: S.ExperimentParams,
        body: S.ShipBody,
        response: one,
      },
    },
    async (req) => experiments.act(actorOf(req), req.params.id, 'ship', req.body.variant),
  );

  app.post(
    '/v1/admin/experiments/:id/shares',
    {
      config: ADMIN,
      schema: {
        summary: "Change the variants' traffic shares of a running experiment",
        tags: ['experiments'],
        params: S.ExperimentParams,
        body: S.SharesBody,
        response: one,
      },
    },
    async (req) => experiments.reshare(actorOf(req), req.params.id, req.body.variants),
  );

  app.get(
    '/v1/admin/experiments/:id/results',
    {
      config: ADMIN,
      schema: {
        summary: "An experiment's results per variant: CTR, conversion, revenue, lifts, intervals, SRM",
        tags: ['experiments'],
        params: S.ExperimentParams,
        querystring: S.ResultsQuery,
        response: { 200: S.ExperimentResultsReply, ...S.ErrorResponses },
      },
    },
    async (req) =>
      experiments.results(req.params.id, req.query.nStar !== undefined ? { nStar: req.query.nStar } : {}),
  );
};
