/** An admin route that queues a job by name and answers 202 with its status (poll `/v1/admin/jobs/:id`). */
import type { TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JobQueue } from '../../jobs/job-types.ts';
import { ADMIN } from '../auth.ts';
import * as S from '../schemas.ts';

export function jobRoute<N extends string>(
  app: FastifyInstance,
  url: string,
  jobs: JobQueue<N>,
  name: N,
  /** Called before the job is queued (the audit log). */
  onQueue?: (req: FastifyRequest) => Promise<void>,
  /** The job's payload schema, taken as the (optional) body; none: the job takes no payload. */
  body?: TSchema,
): void {
  app.post(
    url,
    {
      config: ADMIN,
      schema: {
        summary: `Queue a ${name} job (202: its status; poll /v1/admin/jobs/{id})`,
        tags: ['jobs'],
        ...(body ? { body } : {}),
        response: { 202: S.JobReply, ...S.ErrorResponses },
      },
      // The payload is optional: no body is the empty payload (the job's defaults).
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req, reply) => {
      await onQueue?.(req);
      return reply.status(202).send(await jobs.enqueue(name, body ? (req.body ?? {}) : {}));
    },
  );
}
