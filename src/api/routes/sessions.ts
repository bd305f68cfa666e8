/**
 * `POST /v1/sessions/:sessionId/merge`: a visitor logged in; their session's events become the
 * user's. The user id must be one an event could carry: pseudonymous, never an e-mail address.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ChangeFeed } from '../../changes/change-feed.ts';
import type { Engine } from '../../serving/engine.ts';
import type { Store } from '../../store/types.ts';
import { STOREFRONT } from '../auth.ts';
import * as S from '../schemas.ts';
import { requireUserId } from '../user-id.ts';

export interface SessionRoutesOptions {
  store: Pick<Store, 'mergeSession'>;
  engine: Pick<Engine, 'mergeSession'>;
  changes: Pick<ChangeFeed, 'publish'>;
}

export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (
  app,
  { store, engine, changes },
) => {
  app.post(
    '/v1/sessions/:sessionId/merge',
    {
      config: STOREFRONT,
      schema: {
        summary: 'Merge an anonymous session into a user at login',
        tags: ['users'],
        params: S.SessionParams,
        body: S.MergeBody,
        response: { 200: S.MergeReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const { sessionId } = req.params;
      const { userId } = req.body;
      requireUserId(userId, 'body/userId');
      // An erased user's id: 410 (ErasedError), from the store's transaction, nothing moved.
      const moved = await store.mergeSession(sessionId, userId);
      // The real-time state is shared (or this process's); other replicas read the user again.
      await engine.mergeSession(sessionId, userId);
      if (moved) await changes.publish([{ kind: 'users', userIds: [userId], withdrawn: [] }]);
      return { sessionId, userId, eventsMoved: moved };
    },
  );
};
