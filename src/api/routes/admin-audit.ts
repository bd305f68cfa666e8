/** `GET /v1/admin/audit`: the audit log, newest first, a page at a time (`before` = the last seq seen). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Store } from '../../store/types.ts';
import { ADMIN } from '../auth.ts';
import * as S from '../schemas.ts';

export interface AuditRoutesOptions {
  store: Pick<Store, 'audit'>;
}

export const auditRoutes: FastifyPluginAsyncTypebox<AuditRoutesOptions> = async (app, { store }) => {
  app.get(
    '/v1/admin/audit',
    {
      config: ADMIN,
      schema: {
        summary: 'The audit log, newest first: erasures, consent changes and admin actions (who, what, when)',
        tags: ['audit'],
        querystring: S.AuditQuery,
        response: { 200: S.AuditReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const entries = await store.audit({
        ...(req.query.before !== undefined ? { before: req.query.before } : {}),
        limit: req.query.limit ?? 100,
      });
      return { entries: entries.map((e) => ({ ...e, at: new Date(e.at).toISOString() })) };
    },
  );
};
