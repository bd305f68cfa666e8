/**
 * `POST /v1/events`: a batch of events; the valid ones are stored, the others rejected with
 * reasons — by validation (fields, ids, events dated past the allowed clock skew) or, should one
 * slip through, by the store (an event the database cannot hold).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { visitorsOf } from '../../changes/change-feed.ts';
import type { ChangeFeed } from '../../changes/change-feed.ts';
import type { Attributor } from '../../feedback/attributor.ts';
import type { Engine } from '../../serving/engine.ts';
import type { Store } from '../../store/types.ts';
import { validateEvent } from '../../store/validate.ts';
import { STOREFRONT } from '../auth.ts';
import type { ApiMetrics } from '../metrics.ts';
import * as S from '../schemas.ts';

const ERASED = { field: 'userId', reason: 'was erased (right to erasure): nothing more is stored for it' };

export interface EventRoutesOptions {
  store: Pick<Store, 'insertEvents'>;
  engine: Pick<Engine, 'ingest' | 'keepsOut'>;
  changes: Pick<ChangeFeed, 'publish'>;
  metrics: Pick<ApiMetrics, 'eventsIngested'>;
  /** The latest event time accepted now, epoch ms: the clock plus the allowed skew. */
  latestEventAt: () => number;
  /** Credits the stored events to lists (src/feedback/attributor.ts). */
  attributor?: Pick<Attributor, 'attribute'>;
}

export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (
  app,
  { store, engine, changes, metrics, latestEventAt, attributor },
) => {
  app.post(
    '/v1/events',
    {
      config: STOREFRONT,
      schema: {
        summary: 'Record up to 1,000 events; each is accepted, a duplicate, or rejected naming the field',
        tags: ['events'],
        body: S.EventsBody,
        response: { 200: S.EventsReply, ...S.ErrorResponses },
      },
    },
    async (req) => {
      const limits = { latest: latestEventAt() };
      const checked = req.body.events.map((raw) => validateEvent(raw, limits));
      const valid = checked.flatMap((c) => (c.ok ? [c.value] : []));
      const inserted = valid.length ? await store.insertEvents(valid) : { statuses: [], invalid: [] };
      const stored = valid.filter((_, k) => inserted.statuses[k] === 'stored');
      await engine.ingest(stored);
      // An item bought (rated, disliked, hidden) stays out of the visitor's lists on every
      // replica: the others read what the visitor keeps out again. Through the real-time state
      // alone they knew of it while it was among the newest 50 events, and served it after.
      const keeping = stored.filter((e) => engine.keepsOut(e.type));
      if (keeping.length) await changes.publish([visitorsOf(keeping)]);
      // Only what the store reported stored: a duplicate is never credited again.
      await attributor?.attribute(stored);
      metrics.eventsIngested(stored.length);
      const refused = new Map(inserted.invalid.map((e) => [e.index, [{ field: e.field, reason: e.reason }]]));
      let v = 0;
      const results = checked.map((c, index) => {
        const errors = c.ok ? refused.get(v) : c.errors;
        if (!c.ok || errors) {
          if (c.ok) v++;
          const raw = req.body.events[index];
          const eventId =
            typeof raw === 'object' && raw !== null ? (raw as { eventId?: unknown }).eventId : undefined;
          return {
            index,
            ...(typeof eventId === 'string' ? { eventId } : {}),
            status: 'rejected' as const,
            errors: errors ?? [],
          };
        }
        const status = inserted.statuses[v++];
        if (status === 'erased') {
          return { index, eventId: c.value.eventId, status: 'rejected' as const, errors: [ERASED] };
        }
        return {
          index,
          eventId: c.value.eventId,
          status: status === 'stored' ? ('accepted' as const) : ('duplicate' as const),
        };
      });
      const count = (s: string) => results.filter((r) => r.status === s).length;
      return {
        accepted: count('accepted'),
        duplicates: count('duplicate'),
        rejected: count('rejected'),
        results,
      };
    },
  );
};
