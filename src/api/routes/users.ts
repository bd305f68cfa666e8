/** `DELETE /v1/users/:userId` (forget everything) and `GET /v1/users/:userId/profile`. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { SegmentReports } from '../../segments/segment-reports.ts';
import type { Engine } from '../../serving/engine.ts';
import type { Store } from '../../store/types.ts';
import { STOREFRONT } from '../auth.ts';
import * as S from '../schemas.ts';

export interface UserRoutesOptions {
  store: Pick<Store, 'deleteUser' | 'getUser' | 'recentEvents'>;
  engine: Pick<Engine, 'forgetUser'>;
  /** Classifies one user with the latest segment report's rules. */
  segments: Pick<SegmentReports, 'classifyUser'>;
}

export const userRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = async (
  app,
  { store, engine, segments },
) => {
  app.delete(
    '/v1/users/:userId',
    {
      config: STOREFRONT,
      schema: { params: S.UserParams, response: { 200: S.DeleteUserReply, ...S.ErrorResponses } },
    },
    async (req) => {
      const removed = await store.deleteUser(req.params.userId);
      await engine.forgetUser(req.params.userId);
      return { userId: req.params.userId, profileRemoved: removed.user, eventsRemoved: removed.events };
    },
  );

  app.get(
    '/v1/users/:userId/profile',
    {
      config: STOREFRONT,
      schema: { params: S.UserParams, response: { 200: S.ProfileReply, ...S.ErrorResponses } },
    },
    async (req) => {
      const { userId } = req.params;
      const user = await store.getUser(userId);
      const recent = await store.recentEvents(userId, 1000);
      const consent = user?.consent ?? { personalization: true };
      // Without consent to personalization no profile is made: no segment either.
      const profile = consent.personalization ? await segments.classifyUser(userId) : null;
      return {
        userId,
        known: user !== null,
        consent,
        createdAt: user ? new Date(user.createdAt).toISOString() : null,
        recentEvents: recent.length,
        lastEventAt: recent[0] ? new Date(recent[0].timestamp).toISOString() : null,
        segment: profile?.segment ?? null,
        lifecycle: profile?.lifecycle ?? null,
        purchases: profile?.activity.purchases ?? null,
        revenue: profile?.activity.revenue ?? null,
      };
    },
  );
};
