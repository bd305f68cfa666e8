/**
 * Model versions and the train job: `POST /v1/admin/train`, `GET /v1/admin/jobs/:id`,
 * `GET /v1/admin/models`, `POST /v1/admin/models/:version/promote`, `POST /v1/admin/models/rollback`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFoundError, ShelfError } from '../../errors.ts';
import type { JobQueue } from '../../jobs/inline-jobs.ts';
import type { ModelRegistry } from '../../registry/model-registry.ts';
import type { Engine } from '../../serving/engine.ts';
import { ADMIN } from '../auth.ts';
import * as S from '../schemas.ts';
import { jobRoute } from './job-route.ts';

/** The quality gate's answer on a version. */
export interface GateVerdict {
  promoted: boolean;
  message: string;
  candidate: number | null;
  current: number | null;
}

export interface ModelRoutesOptions {
  engine: Pick<Engine, 'version' | 'refresh'>;
  registry: Pick<ModelRegistry, 'versions' | 'manifest' | 'current' | 'rollback'>;
  /** Runs the `train` job (src/jobs/train-processor.ts); also answers the status of every job. */
  jobs: JobQueue<'train'>;
  /** Promotes a version through the gate (force skips it). */
  promote: (version: string, force: boolean) => Promise<GateVerdict>;
}

export const modelRoutes: FastifyPluginAsyncTypebox<ModelRoutesOptions> = async (
  app,
  { engine, registry, jobs, promote },
) => {
  jobRoute(app, '/v1/admin/train', jobs, 'train');

  app.get(
    '/v1/admin/jobs/:id',
    {
      config: ADMIN,
      schema: { params: S.JobParams, response: { 200: S.JobReply, ...S.ErrorResponses } },
    },
    async (req) => {
      const job = jobs.status(req.params.id);
      if (!job) throw new NotFoundError('job', req.params.id);
      return job;
    },
  );

  app.get(
    '/v1/admin/models',
    { config: ADMIN, schema: { response: { 200: S.ModelsReply, ...S.ErrorResponses } } },
    async () => {
      const versions = await Promise.all((await registry.versions()).map((v) => registry.manifest(v)));
      return { current: await registry.current(), serving: engine.version, versions };
    },
  );

  app.post(
    '/v1/admin/models/:version/promote',
    {
      config: ADMIN,
      schema: {
        params: S.VersionParams,
        querystring: S.PromoteQuery,
        response: { 200: S.VerdictReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const verdict = await promote(req.params.version, req.query.force ?? false);
      if (!verdict.promoted) throw ShelfError.of('SHELF_ERR_QUALITY_GATE', verdict.message);
      await engine.refresh();
      return verdict;
    },
  );

  app.post(
    '/v1/admin/models/rollback',
    { config: ADMIN, schema: { response: { 200: S.RollbackReply, ...S.ErrorResponses } } },
    async () => {
      const version = await registry.rollback('rollback requested over the API');
      await engine.refresh();
      return { current: version };
    },
  );
};
