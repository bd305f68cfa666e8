/**
 * Model versions and the train job: `POST /v1/admin/train` (body: the train payload),
 * `GET /v1/admin/models`, `POST /v1/admin/models/:version/promote`, `POST /v1/admin/models/rollback`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditLog } from '../../changes/audit-log.ts';
import type { ChangeFeed } from '../../changes/change-feed.ts';
import { ShelfError } from '../../errors.ts';
import type { JobQueue } from '../../jobs/job-types.ts';
import type { ModelRegistry } from '../../registry/model-registry.ts';
import type { Engine } from '../../serving/engine.ts';
import { ADMIN, actorOf } from '../auth.ts';
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
  engine: Pick<Engine, 'version'>;
  registry: Pick<ModelRegistry, 'versions' | 'manifest' | 'current' | 'rollback'>;
  /** Runs the `train` job (src/jobs/train-processor.ts). */
  jobs: JobQueue<'train'>;
  /** Promotes a version through the gate (force skips it). */
  promote: (version: string, force: boolean) => Promise<GateVerdict>;
  /** A version made current reaches every replica through the feed. */
  changes: Pick<ChangeFeed, 'publish'>;
  audit: Pick<AuditLog, 'record'>;
}

export const modelRoutes: FastifyPluginAsyncTypebox<ModelRoutesOptions> = async (
  app,
  { engine, registry, jobs, promote, changes, audit },
) => {
  jobRoute(
    app,
    '/v1/admin/train',
    jobs,
    'train',
    (req) => audit.record(actorOf(req), 'model.train', null),
    S.TrainBody,
  );

  app.get(
    '/v1/admin/models',
    {
      config: ADMIN,
      schema: {
        summary: 'Published model versions, their metrics and which is current',
        tags: ['models'],
        response: { 200: S.ModelsReply, ...S.ErrorResponses },
      },
    },
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
        summary: 'Make a version current (through the quality gate unless force)',
        tags: ['models'],
        params: S.VersionParams,
        querystring: S.PromoteQuery,
        response: { 200: S.VerdictReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const { version } = req.params;
      const force = req.query.force ?? false;
      const verdict = await promote(version, force);
      if (!verdict.promoted) throw ShelfError.of('SHELF_ERR_QUALITY_GATE', verdict.message);
      await audit.record(actorOf(req), 'model.promote', version, { force, candidate: verdict.candidate });
      await changes.publish([{ kind: 'version', version }]);
      return verdict;
    },
  );

  app.post(
    '/v1/admin/models/rollback',
    {
      config: ADMIN,
      schema: {
        summary: 'Make the previously current version current again',
        tags: ['models'],
        response: { 200: S.RollbackReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const version = await registry.rollback('rollback requested over the API');
      await audit.record(actorOf(req), 'model.rollback', version);
      await changes.publish([{ kind: 'version', version }]);
      return { current: version };
    },
  );
};
