/** An admin route that queues a job by name and answers 202 with its status (poll `/v1/admin/jobs/:id`). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JobQueue } from '../../jobs/inline-jobs.ts';
import { ADMIN } from '../auth.ts';
import * as S from '../schemas.ts';

export function jobRoute<N extends string>(
  app: FastifyInstance,
  url: string,
  jobs: JobQueue<N>,
  name: N,
  /** Called before the job is queued (the audit log). */
  onQueue?: (req: FastifyRequest) => Promise<void>,
): void {
  app.post(
    url,
    { config: ADMIN, schema: { response: { 202: S.JobReply, ...S.ErrorResponses } } },
    async (req, reply) => {
      await onQueue?.(req);
      return reply.status(202).send(jobs.enqueue(name));
    },
  );
}
