/**
 * `POST /v1/sessions/:sessionId/merge`: a visitor logged in; their session's events become the
 * user's. The user id must be one an event could carry: pseudonymous, never an e-mail address.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Engine } from '../../serving/engine.ts';
import { ValidationError } from '../../errors.ts';
import type { Store } from '../../store/types.ts';
import { userIdProblem } from '../../store/validate.ts';
import { STOREFRONT } from '../auth.ts';
import * as S from '../schemas.ts';

export interface SessionRoutesOptions {
  store: Pick<Store, 'mergeSession'>;
  engine: Pick<Engine, 'mergeSession'>;
}

export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (
  app,
  { store, engine },
) => {
  app.post(
    '/v1/sessions/:sessionId/merge',
    {
      config: STOREFRONT,
      schema: {
        params: S.SessionParams,
        body: S.MergeBody,
        response: { 200: S.MergeReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const problem = userIdProblem(req.body.userId);
      if (problem) throw new ValidationError([{ field: 'body/userId', reason: problem }]);
      const moved = await store.mergeSession(req.params.sessionId, req.body.userId);
      await engine.mergeSession(req.params.sessionId, req.body.userId);
      return { sessionId: req.params.sessionId, userId: req.body.userId, eventsMoved: moved };
    },
  );
};
