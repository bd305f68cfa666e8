/** `POST /v1/admin/segments` (the segments job) and `GET /v1/admin/segments` (its latest report). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ShelfError } from '../../errors.ts';
import type { JobQueue } from '../../jobs/job-types.ts';
import type { SegmentReports } from '../../segments/segment-reports.ts';
import { SEGMENTS } from '../../segments/segments.ts';
import { ADMIN } from '../auth.ts';
import * as S from '../schemas.ts';
import { jobRoute } from './job-route.ts';

export interface SegmentRoutesOptions {
  segments: Pick<SegmentReports, 'latest'>;
  /** Runs the `segments` job (src/jobs/segments-processor.ts). */
  jobs: JobQueue<'segments'>;
}

export const segmentRoutes: FastifyPluginAsyncTypebox<SegmentRoutesOptions> = async (
  app,
  { segments, jobs },
) => {
  jobRoute(app, '/v1/admin/segments', jobs, 'segments');

  app.get(
    '/v1/admin/segments',
    {
      config: ADMIN,
      schema: {
        summary:
          'The latest segment report: users per segment and lifecycle stage, what each engages with, KPIs',
        tags: ['segments'],
        querystring: S.SegmentsQuery,
        response: { 200: S.SegmentsReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const report = segments.latest;
      if (!report)
        throw ShelfError.of(
          'SHELF_ERR_NOT_FOUND',
          'no segment report yet: one is computed at start, or POST /v1/admin/segments',
        );
      const { summary, trending } = report;
      const top = req.query.top ?? 20;
      const finite = (x: number) => (Number.isFinite(x) ? x : null);
      return {
        computedAt: new Date(report.computedAt).toISOString(),
        tookMs: report.tookMs,
        users: summary.users,
        bySegment: summary.bySegment,
        byLifecycle: summary.byLifecycle,
        highValueRevenue: finite(summary.highValueRevenue),
        rules: summary.rules,
        kpis: summary.kpis,
        trending: Object.fromEntries(
          SEGMENTS.map((s) => [s, { users: trending.users[s], items: trending.items[s].slice(0, top) }]),
        ),
      };
    },
  );
};
