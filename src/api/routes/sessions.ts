/** `POST /v1/sessions/:sessionId/merge`: a visitor logged in; their session's events become the user's. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Engine } from '../../serving/engine.ts';
import type { Store } from '../../store/types.ts';
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
      const moved = await store.mergeSession(req.params.sessionId, req.body.userId);
      await engine.mergeSession(req.params.sessionId, req.body.userId);
      return { sessionId: req.params.sessionId, userId: req.body.userId, eventsMoved: moved };
    },
  );
};
