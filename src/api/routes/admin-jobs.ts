/**
 * Jobs and their schedules: `GET /v1/admin/jobs` (counts per state and the newest jobs, with
 * stage, percent, attempts and the reason of a failure), `GET /v1/admin/jobs/:id`,
 * `GET /v1/admin/schedules` (each job's schedule and next firing).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFoundError } from '../../errors.ts';
import type { JobQueue } from '../../jobs/job-types.ts';
import type { Schedules } from '../../jobs/schedules.ts';
import { ADMIN } from '../auth.ts';
import * as S from '../schemas.ts';

export interface JobRoutesOptions {
  jobs: JobQueue;
  schedules: Schedules;
}

export const jobRoutes: FastifyPluginAsyncTypebox<JobRoutesOptions> = async (app, { jobs, schedules }) => {
  app.get(
    '/v1/admin/jobs',
    {
      config: ADMIN,
      schema: {
        summary: 'Jobs per state and the newest jobs, with stage, percent, attempts and failure',
        tags: ['jobs'],
        querystring: S.JobsQuery,
        response: { 200: S.JobsReply, ...S.ErrorResponses },
      },
    },
    async (req) => ({ counts: await jobs.counts(), jobs: await jobs.list(req.query.limit ?? 50) }),
  );

  app.get(
    '/v1/admin/jobs/:id',
    {
      config: ADMIN,
      schema: {
        summary: "One job's status",
        tags: ['jobs'],
        params: S.JobParams,
        response: { 200: S.JobReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const job = await jobs.status(req.params.id);
      if (!job) throw new NotFoundError('job', req.params.id);
      return job;
    },
  );

  app.get(
    '/v1/admin/schedules',
    {
      config: ADMIN,
      schema: {
        summary: "Each job's schedule and next run",
        tags: ['jobs'],
        response: { 200: S.SchedulesReply, ...S.ErrorResponses },
      },
    },
    async () => ({ schedules: await schedules.schedules() }),
  );
};
