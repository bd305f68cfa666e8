/** An admin route that queues a job by name and answers 202 with its status (poll `/v1/admin/jobs/:id`). */
import type { FastifyInstance } from 'fastify';
import type { JobQueue } from '../../jobs/inline-jobs.ts';
import { ADMIN } from '../auth.ts';
import * as S from '../schemas.ts';

export function jobRoute<N extends string>(
  app: FastifyInstance,
  url: string,
  jobs: JobQueue<N>,
  name: N,
): void {
  app.post(
    url,
    { config: ADMIN, schema: { response: { 202: S.JobReply, ...S.ErrorResponses } } },
    async (_req, reply) => reply.status(202).send(jobs.enqueue(name)),
  );
}
