/**
 * `DELETE /v1/users/:userId` (erase), `PATCH /v1/users/:userId` (consent, attributes) and
 * `GET /v1/users/:userId/profile`. Erasure and consent reach every replica through the change
 * feed and are written to the audit log.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuditLog } from '../../changes/audit-log.ts';
import type { ChangeFeed } from '../../changes/change-feed.ts';
import { ValidationError } from '../../errors.ts';
import { eraseFromVersions } from '../../registry/erase-users.ts';
import type { ModelRegistry } from '../../registry/model-registry.ts';
import type { SegmentReports } from '../../segments/segment-reports.ts';
import type { Store } from '../../store/types.ts';
import { validateUserPatch } from '../../store/validate.ts';
import { actorOf, STOREFRONT } from '../auth.ts';
import { refuseErased } from '../erased.ts';
import * as S from '../schemas.ts';
import { requireUserId } from '../user-id.ts';

export interface UserRoutesOptions {
  store: Pick<Store, 'deleteUser' | 'getUser' | 'recentEvents' | 'patchUser' | 'erasedAmong' | 'erasedUsers'>;
  /** The stored versions, which name their users: an erasure rewrites them without the user. */
  registry: ModelRegistry;
  changes: Pick<ChangeFeed, 'publish'>;
  audit: Pick<AuditLog, 'record'>;
  /** Classifies one user with the latest segment report's rules. */
  segments: Pick<SegmentReports, 'classifyUser'>;
}

export const userRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = async (
  app,
  { store, registry, changes, audit, segments },
) => {
  app.delete(
    '/v1/users/:userId',
    {
      config: STOREFRONT,
      schema: {
        summary: 'Erase a user everywhere: events, profile, real-time state, lists, model vectors',
        tags: ['users'],
        params: S.UserParams,
        response: { 200: S.DeleteUserReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const { userId } = req.params;
      // The tombstone first (in the same transaction as the removal), then every replica.
      const removed = await store.deleteUser(userId, Date.now());
      await audit.record(actorOf(req), 'user.erase', userId, { events: removed.events });
      await changes.publish([{ kind: 'erased', userId }]);
      // This user's id only, looked for as bytes in each version (erase-users.ts). An erasure
      // whose rewrite a crash cut short is finished at the next start (create-shelf.ts), one that
      // failed answered an error here and is done again when the DELETE is; a version published
      // later leaves out every erased user (training/publish.ts).
      const rewritten = await eraseFromVersions(registry, new Set([userId]));
      return {
        userId,
        profileRemoved: removed.user,
        eventsRemoved: removed.events,
        versionsRewritten: rewritten.length,
      };
    },
  );

  app.patch(
    '/v1/users/:userId',
    {
      config: STOREFRONT,
      schema: {
        summary: "Change a user's consent or attributes",
        tags: ['users'],
        params: S.UserParams,
        body: S.UserPatchBody,
        response: { 200: S.UserReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const { userId } = req.params;
      requireUserId(userId, 'params/userId');
      const checked = validateUserPatch(req.body);
      // Named as the schema's errors are: body/attributes/size, not attributes.size.
      if (!checked.ok)
        throw new ValidationError(
          checked.errors.map((e) => ({ ...e, field: `body/${e.field.replaceAll('.', '/')}` })),
        );
      const patch = checked.value;
      // An erased user's id: 410 (ErasedError), from the store's transaction, nothing written.
      const user = await store.patchUser(userId, patch, Date.now());
      // A consent given or withdrawn under the action `shelf import users` writes too, so that one
      // action lists every consent change; attribute names only (their values may be personal).
      if (patch.consent)
        await audit.record(actorOf(req), 'user.consent', userId, {
          personalization: patch.consent.personalization,
        });
      if (patch.attributes)
        await audit.record(actorOf(req), 'user.patch', userId, {
          attributes: Object.keys(patch.attributes).join(','),
        });
      const withdrawn = patch.consent?.personalization === false ? [userId] : [];
      await changes.publish([{ kind: 'users', userIds: [userId], withdrawn }]);
      return { ...user, createdAt: new Date(user.createdAt).toISOString() };
    },
  );

  app.get(
    '/v1/users/:userId/profile',
    {
      config: STOREFRONT,
      schema: {
        summary: "A user's profile with segment and lifecycle stage (none without consent)",
        tags: ['users'],
        params: S.UserParams,
        response: { 200: S.ProfileReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const { userId } = req.params;
      requireUserId(userId, 'params/userId');
      const user = await store.getUser(userId);
      // Not a blank profile with default consent: nothing is told of an erased user.
      if (!user) await refuseErased(store, userId);
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
