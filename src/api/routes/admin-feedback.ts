/**
 * `POST /v1/admin/feedback/aggregate` (the aggregate-feedback job) and `GET /v1/admin/metrics`
 * (CTR, conversion and revenue from the aggregates, grouped as asked).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { feedbackMetrics } from '../../feedback/feedback-metrics.ts';
import type { JobQueue } from '../../jobs/job-types.ts';
import type { Store } from '../../store/types.ts';
import { ADMIN } from '../auth.ts';
import * as S from '../schemas.ts';
import { jobRoute } from './job-route.ts';

export interface FeedbackRoutesOptions {
  store: Pick<Store, 'feedbackTotals'>;
  /** Runs the `aggregate-feedback` job (src/feedback/aggregate-feedback.ts). */
  jobs: JobQueue<'aggregate-feedback'>;
}

export const feedbackRoutes: FastifyPluginAsyncTypebox<FeedbackRoutesOptions> = async (
  app,
  { store, jobs },
) => {
  jobRoute(app, '/v1/admin/feedback/aggregate', jobs, 'aggregate-feedback');

  app.get(
    '/v1/admin/metrics',
    {
      config: ADMIN,
      schema: {
        summary:
          'Impressions, clicks, purchases, revenue and their rates, grouped by tier, model version, config, variant, day or position',
        tags: ['feedback'],
        querystring: S.FeedbackMetricsQuery,
        response: { 200: S.FeedbackMetricsReply, ...S.ErrorResponses },
      },
    },
    async (req) => feedbackMetrics(store, req.query),
  );
};
