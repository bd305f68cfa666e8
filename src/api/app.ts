/**
 * `buildApp(deps)`: the Fastify instance with every route of DESIGN.md "HTTP". An adapter over
 * serving, the store, the registry and the job runner; it owns no recommendation logic.
 */
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError } from 'fastify';
import Fastify from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ApiRole, ShelfConfig } from '../config.ts';
import { NotFoundError, ShelfError } from '../errors.ts';
import type { InlineJobs } from '../jobs/inline-jobs.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { runSegmentsJob } from '../segments/segment-reports.ts';
import { SEGMENTS } from '../segments/segments.ts';
import type { SegmentReports } from '../segments/segment-reports.ts';
import type { Engine } from '../serving/engine.ts';
import type { RecommendRequest, RequestFilters, Tier } from '../serving/types.ts';
import type { Store } from '../store/types.ts';
import { validateEvent, validateItem } from '../store/validate.ts';
import { authenticator, KeyRing } from './auth.ts';
import { ApiMetrics } from './metrics.ts';
import * as S from './schemas.ts';
import { recommendationJson } from './recommendation-json.ts';
import { securityHeaders } from './security-headers.ts';

export interface AppDeps {
  config: Pick<ShelfConfig, 'apiKeys' | 'corsOrigins' | 'rateLimitPerMinute'>;
  engine: Engine;
  store: Store;
  registry: ModelRegistry;
  jobs: InlineJobs;
  /** The segments job's latest report, and one user's segment. */
  segments: SegmentReports;
  /** Trains, publishes and promotes through the gate (the admin "train now"). */
  train: () => Promise<unknown>;
  /** Promotes a version through the gate (force skips it). */
  promote: (version: string, force: boolean) => Promise<{ promoted: boolean; message: string }>;
  log: Logger;
  /** Shared rate-limit counters across replicas. */
  redis?: Redis;
}

declare module 'fastify' {
  interface FastifyRequest {
    role?: ApiRole;
    keyId?: string;
  }
  interface FastifyContextConfig {
    /** Roles besides admin that may call the route; absent = public. */
    roles?: ApiRole[];
  }
}

const list = (s: string | undefined) =>
  s
    ? s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;
const errorBody = (statusCode: number, code: string, message: string, details?: unknown) => ({
  statusCode,
  code,
  message,
  ...(details === undefined ? {} : { details }),
});

export type ShelfApp = Awaited<ReturnType<typeof buildApp>>;

export async function buildApp(deps: AppDeps) {
  const { engine, store, registry } = deps;
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: 2 * 1024 * 1024,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  const keys = new KeyRing(deps.config.apiKeys);
  const metrics = new ApiMetrics(engine);

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const first = err.validation[0];
      const field = `${err.validationContext ?? 'request'}${first?.instancePath || ''}`;
      const details = err.validation.map((v) => ({
        field: `${err.validationContext ?? 'request'}${v.instancePath}${v.params && 'missingProperty' in v.params ? `/${String(v.params.missingProperty)}` : ''}`,
        reason: v.message ?? 'is invalid',
      }));
      return reply
        .status(400)
        .send(errorBody(400, 'SHELF_ERR_VALIDATION', `${field} ${first?.message ?? 'is invalid'}`, details));
    }
    if (err instanceof ShelfError) {
      if (err.statusCode >= 500) req.log.error({ err }, 'request failed');
      return reply
        .status(err.statusCode)
        .send(
          errorBody(
            err.statusCode,
            err.code,
            err.statusCode >= 500 ? 'internal error' : err.message,
            err.statusCode >= 500 ? undefined : err.details,
          ),
        );
    }
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return reply.status(status).send(errorBody(status, 'SHELF_ERR_INTERNAL', 'internal error'));
    }
    const code =
      status === 429
        ? 'SHELF_ERR_RATE_LIMITED'
        : status === 413
          ? 'SHELF_ERR_BODY_TOO_LARGE'
          : (err.code ?? 'SHELF_ERR_REQUEST');
    return reply.status(status).send(errorBody(status, code, err.message));
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .status(404)
      .send(errorBody(404, 'SHELF_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  const security = securityHeaders();
  app.addHook('onRequest', (_req, reply, done) => {
    reply.headers(security);
    done();
  });
  await app.register(cors, { origin: [...deps.config.corsOrigins] });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Shelf', description: 'Recommendations and events for e-commerce', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  // Authentication as a hook of each route that has roles, made when the route is added: a
  // public route runs none, and a request does not read its route's options to find its roles.
  // A callback hook (an async one costs a promise per request), after CORS (an error still
  // carries its headers). Then the rate limit, which counts per key, in preHandler.
  app.addHook('onRoute', (route) => {
    const roles = route.config?.roles;
    if (roles) route.onRequest = [...[route.onRequest ?? []].flat(), authenticator(keys, roles)];
  });
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: deps.config.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (req) => req.keyId ?? req.ip,
    ...(deps.redis ? { redis: deps.redis, nameSpace: 'shelf-rate-limit:' } : {}),
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(
        new Error(`rate limit of ${ctx.max} requests per minute exceeded; retry in ${ctx.after}`),
        {
          statusCode: 429,
        },
      ),
  });
  app.addHook('onResponse', (req, reply, done) => {
    metrics.observe(req, reply);
    done();
  });

  const storefront = { roles: ['storefront'] as ApiRole[] };
  const admin = { roles: [] as ApiRole[] };

  app.get(
    '/v1/recommendations/:tier',
    {
      config: storefront,
      schema: {
        params: S.TierParams,
        querystring: S.RecommendQuery,
        response: { 200: S.RecommendationReply },
      },
    },
    (req, reply) => {
      const q = req.query;
      // The schema's enum admits only tiers (Type.Unsafe carries no static type through the provider).
      const tier = req.params.tier as Tier;
      if (tier === 'similar' && !q.itemId)
        throw new ShelfError(
          'SHELF_ERR_VALIDATION',
          400,
          'querystring/itemId is required for the similar tier',
        );
      if (tier === 'category' && !q.category)
        throw new ShelfError(
          'SHELF_ERR_VALIDATION',
          400,
          'querystring/category is required for the category tier',
        );
      // Only the parameters given, as properties (not spreads: this runs on every request).
      const r: RecommendRequest = { tier, limit: q.limit ?? 20 };
      if (q.userId !== undefined) r.userId = q.userId;
      if (q.sessionId !== undefined) r.sessionId = q.sessionId;
      if (q.itemId !== undefined) r.itemId = q.itemId;
      if (q.category !== undefined) r.category = q.category;
      if (q.variant !== undefined) r.variant = q.variant;
      const exclude = list(q.exclude);
      if (exclude) r.exclude = exclude;
      const cartItemIds = list(q.cartItemIds);
      if (cartItemIds) r.cartItemIds = cartItemIds;
      if (q.minPrice !== undefined || q.maxPrice !== undefined || q.brand !== undefined) {
        const filters: RequestFilters = {};
        if (q.minPrice !== undefined) filters.minPrice = q.minPrice;
        if (q.maxPrice !== undefined) filters.maxPrice = q.maxPrice;
        if (q.brand !== undefined) filters.brand = q.brand;
        r.filters = filters;
      }
      // Not an async function (its own promise and resumption per request): the engine's promise,
      // which Fastify awaits (a rejection reaches the error handler).
      // Serialised by recommendation-json.ts (items made once per cached list), not the schema's serializer.
      // The items array must reach the serializer as is: that is how a cached list's JSON is reused.
      return engine.recommend(r).then((answer) => {
        reply
          .type('application/json; charset=utf-8')
          .serializer(recommendationJson)
          .send(answer as S.RecommendationReply);
      });
    },
  );

  app.post(
    '/v1/events',
    { config: storefront, schema: { body: S.EventsBody, response: { 200: S.EventsReply } } },
    async (req) => {
      const checked = req.body.events.map((raw) => validateEvent(raw));
      const valid = checked.flatMap((c) => (c.ok ? [c.value] : []));
      const inserted = valid.length ? await store.insertEvents(valid) : { statuses: [] };
      const stored = valid.filter((_, k) => inserted.statuses[k] === 'stored');
      await engine.ingest(stored);
      metrics.eventsIngested(stored.length);
      let v = 0;
      const results = checked.map((c, index) => {
        if (!c.ok) {
          const eventId = (req.body.events[index] as { eventId?: unknown }).eventId;
          return {
            index,
            ...(typeof eventId === 'string' ? { eventId } : {}),
            status: 'rejected' as const,
            errors: c.errors,
          };
        }
        const status = inserted.statuses[v++] === 'stored' ? ('accepted' as const) : ('duplicate' as const);
        return { index, eventId: c.value.eventId, status };
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

  app.put(
    '/v1/items',
    { config: admin, schema: { body: S.ItemsBody, response: { 200: S.ItemsReply } } },
    async (req) => {
      const now = Date.now();
      const checked = req.body.items.map((raw) => validateItem(raw, now));
      const valid = checked.flatMap((c) => (c.ok ? [c.value] : []));
      const { written } = valid.length ? await store.upsertItems(valid) : { written: 0 };
      engine.updateItems(valid);
      const errors = checked.flatMap((c, index) => (c.ok ? [] : [{ index, errors: c.errors }]));
      return { written, rejected: errors.length, errors };
    },
  );

  app.patch(
    '/v1/items/:itemId',
    { config: admin, schema: { params: S.ItemParams, body: S.ItemPatch } },
    async (req) => {
      const item = await store.getItem(req.params.itemId);
      if (!item) throw new NotFoundError('item', req.params.itemId);
      const next = { ...item, ...req.body };
      await store.upsertItems([next]);
      engine.updateItems([next]);
      return next;
    },
  );

  app.delete('/v1/users/:userId', { config: storefront, schema: { params: S.UserParams } }, async (req) => {
    const removed = await store.deleteUser(req.params.userId);
    await engine.forgetUser(req.params.userId);
    return { userId: req.params.userId, profileRemoved: removed.user, eventsRemoved: removed.events };
  });

  app.get(
    '/v1/users/:userId/profile',
    { config: storefront, schema: { params: S.UserParams, response: { 200: S.ProfileReply } } },
    async (req) => {
      const { userId } = req.params;
      const user = await store.getUser(userId);
      const recent = await store.recentEvents(userId, 1000);
      const consent = user?.consent ?? { personalization: true };
      // Without consent to personalization no profile is made: no segment either.
      const profile = consent.personalization ? await deps.segments.classifyUser(userId) : null;
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

  app.post(
    '/v1/sessions/:sessionId/merge',
    { config: storefront, schema: { params: S.SessionParams, body: S.MergeBody } },
    async (req) => {
      const moved = await store.mergeSession(req.params.sessionId, req.body.userId);
      await engine.mergeSession(req.params.sessionId, req.body.userId);
      return { sessionId: req.params.sessionId, userId: req.body.userId, eventsMoved: moved };
    },
  );

  app.post('/v1/admin/train', { config: admin }, async (_req, reply) => {
    const job = deps.jobs.enqueue('train', deps.train);
    return reply.status(202).send(job);
  });
  app.post('/v1/admin/segments', { config: admin }, async (_req, reply) => {
    const job = deps.jobs.enqueue('segments', () => runSegmentsJob(deps.segments));
    return reply.status(202).send(job);
  });
  app.get(
    '/v1/admin/segments',
    { config: admin, schema: { querystring: S.SegmentsQuery, response: { 200: S.SegmentsReply } } },
    async (req) => {
      const report = deps.segments.latest;
      if (!report)
        throw new ShelfError(
          'SHELF_ERR_NOT_FOUND',
          404,
          'no segment report yet: one is computed at start, or POST /v1/admin/segments',
        );
      const { summary, trending } = report;
      const top = req.query.top ?? 20;
      const finite = (x: number) => (Number.isFinite(x) ? x : null);
      return {
        computedAt: new Date(report.computedAt).toISOString(),
        tookMs: report.tookMs,
        users: summary.users,
        bySegment: summary.bySegment,
        byLifecycle: summary.byLifecycle,
        highValueRevenue: finite(summary.highValueRevenue),
        rules: summary.rules,
        trending: Object.fromEntries(
          SEGMENTS.map((s) => [s, { users: trending.users[s], items: trending.items[s].slice(0, top) }]),
        ),
      };
    },
  );
  app.get(
    '/v1/admin/jobs/:id',
    { config: admin, schema: { params: { type: 'object', properties: { id: { type: 'string' } } } } },
    async (req) => {
      const id = (req.params as { id: string }).id;
      const job = deps.jobs.status(id);
      if (!job) throw new NotFoundError('job', id);
      return job;
    },
  );
  app.get('/v1/admin/models', { config: admin }, async () => {
    const versions = await Promise.all((await registry.versions()).map((v) => registry.manifest(v)));
    return { current: await registry.current(), serving: engine.version, versions };
  });
  app.post(
    '/v1/admin/models/:version/promote',
    {
      config: admin,
      schema: {
        params: S.VersionParams,
        querystring: { type: 'object', properties: { force: { type: 'boolean' } } },
      },
    },
    async (req, reply) => {
      const force = (req.query as { force?: boolean }).force ?? false;
      const verdict = await deps.promote(req.params.version, force);
      if (verdict.promoted) await engine.refresh();
      return reply
        .status(verdict.promoted ? 200 : 409)
        .send(verdict.promoted ? verdict : errorBody(409, 'SHELF_ERR_QUALITY_GATE', verdict.message));
    },
  );
  app.post('/v1/admin/models/rollback', { config: admin }, async () => {
    const version = await registry.rollback('rollback requested over the API');
    await engine.refresh();
    return { current: version };
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const storeOk = await store.stats().then(
      () => true,
      () => false,
    );
    const ready = engine.ready && storeOk;
    return reply.status(ready ? 200 : 503).send({ ready, modelVersion: engine.version, store: storeOk });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.contentType);
    return metrics.render();
  });
  return app;
}
