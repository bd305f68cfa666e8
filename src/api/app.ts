/**
 * `buildApp(deps)`: the Fastify instance with every route of DESIGN.md "HTTP". The cross-cutting
 * parts (errors, security headers, CORS, OpenAPI, authentication, rate limits, metrics) are set
 * up here; the routes are plugins in `routes/`, one per resource, over the services they are
 * given. It owns no recommendation logic and builds no service: src/app/create-shelf.ts does.
 */
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditLog } from '../changes/audit-log.ts';
import type { ChangeFeed } from '../changes/change-feed.ts';
import type { AdaptiveRouter } from '../experiments/adaptive-router.ts';
import type { ExperimentRouter } from '../experiments/experiment-router.ts';
import type { ExperimentService } from '../experiments/experiment-service.ts';
import type { RedisNames, ShelfConfig, TrustProxy } from '../config.ts';
import { ShelfError } from '../errors.ts';
import type { JobQueue } from '../jobs/job-types.ts';
import type { Schedules } from '../jobs/schedules.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { SegmentReports } from '../segments/segment-reports.ts';
import type { Attributor } from '../feedback/attributor.ts';
import type { FeedbackCounters } from '../feedback/feedback-counters.ts';
import type { Engine } from '../serving/engine.ts';
import type { Store } from '../store/types.ts';
import { AuthFailures } from './auth-failures.ts';
import { authenticator, KeyRing } from './auth.ts';
import type { Drain } from './drain.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { ApiMetrics } from './metrics.ts';
import { auditRoutes } from './routes/admin-audit.ts';
import { explainRoutes } from './routes/admin-explain.ts';
import { feedbackRoutes } from './routes/admin-feedback.ts';
import { modelRoutes } from './routes/admin-models.ts';
import type { GateVerdict } from './routes/admin-models.ts';
import { rulesRoutes } from './routes/admin-rules.ts';
import { segmentRoutes } from './routes/admin-segments.ts';
import { eventRoutes } from './routes/events.ts';
import { documentedBody } from './schemas.ts';
import { healthRoutes } from './routes/health.ts';
import { itemRoutes } from './routes/items.ts';
import { jobRoutes } from './routes/admin-jobs.ts';
import { experimentRoutes } from './routes/admin-experiments.ts';
import { recommendationRoutes } from './routes/recommendations.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { userRoutes } from './routes/users.ts';
import { API_SECURITY_HEADERS, documentSecurityHeaders } from './security-headers.ts';
import { typedBodies } from './typed-bodies.ts';

export interface AppDeps {
  config: Pick<
    ShelfConfig,
    | 'apiKeys'
    | 'corsOrigins'
    | 'rateLimitPerMinute'
    | 'authFailuresPerMinute'
    | 'maxEventSkewMs'
    | 'trustProxy'
  >;
  engine: Engine;
  store: Store;
  /** Where the metrics API's totals are read (a read thread on SQLite); default `store`. */
  reads?: Pick<Store, 'feedbackTotals'>;
  registry: ModelRegistry;
  /** Runs the jobs (src/jobs/: inline, or BullMQ with Redis) and answers their status. */
  jobs: JobQueue<'train' | 'segments' | 'aggregate-feedback'>;
  /** The jobs' schedules and next firings. */
  schedules: Schedules;
  /** Credits stored events to the lists that showed their items. */
  attributor?: Pick<Attributor, 'attribute'>;
  /** Live feedback counts for `/metrics`. */
  feedbackCounters?: FeedbackCounters;
  /** The segments job's latest report, and one user's segment. */
  segments: SegmentReports;
  /** Promotes a version through the gate (force skips it). */
  promote: (version: string, force: boolean) => Promise<GateVerdict>;
  /** Changes every replica applies (items, users, versions). */
  changes: Pick<ChangeFeed, 'publish'>;
  audit: Pick<AuditLog, 'record'>;
  /** Experiments' definitions, lifecycle and results. */
  experiments: ExperimentService;
  /** Which configuration a request is served with (running experiments, shipped variants). */
  experimentRouter: Pick<ExperimentRouter, 'active' | 'route' | 'pinned'>;
  /** Bandit and exploration arms of adaptive tiers. */
  adaptive?: Pick<AdaptiveRouter, 'active' | 'route'>;
  /** The adaptive tiers' split now, for `GET /v1/admin/adaptive`. */
  adaptiveSplit?: Pick<AdaptiveRouter, 'split'>;
  log: Logger;
  /** Rate-limit counters shared by the replicas, under `names.rateLimit`. */
  redis?: { client: Redis; names: RedisNames };
  /** Graceful drain on SIGTERM (readiness, 503 for new requests). */
  drain: Drain;
  /** The clock events are checked against (dated at most `maxEventSkewMs` past it). @defaultValue Date.now */
  now?: () => number;
}

export type ShelfApp = Awaited<ReturnType<typeof buildApp>>;

export async function buildApp(deps: AppDeps) {
  const { engine, store, registry, jobs, segments, changes, audit } = deps;
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: 2 * 1024 * 1024,
    // The client's address (the per-address limits) from X-Forwarded-For, through trusted proxies only.
    trustProxy: proxiesTrusted(deps.config.trustProxy),
    // While closing, the drain answers (503 with Retry-After), not Fastify's bare 503.
    return503OnClosing: false,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
    // Bodies as typed, query strings and paths coerced (typed-bodies.ts).
    schemaController: { compilersFactory: { buildValidator: typedBodies } },
    // Errors met before routing (a malformed URL): Fastify would answer them itself, FST code and all.
    frameworkErrors: (err, req, reply) => {
      reply.headers(API_SECURITY_HEADERS);
      errorHandler(err, req, reply);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  const keys = new KeyRing(deps.config.apiKeys);
  const metrics = new ApiMetrics(engine, deps.feedbackCounters, jobs);

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // Every body here is JSON. Fastify's default text/plain parser took a JSON body sent as
  // text/plain as one string, answered "body must be object" (400): now 415, send application/json.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', (_req, reply, done) => {
    reply.headers(API_SECURITY_HEADERS);
    done();
  });
  app.addHook('onRequest', deps.drain.onRequest);
  app.addHook('onSend', deps.drain.onSend);
  app.addHook('onResponse', deps.drain.onResponse);
  app.addHook('onRequestAbort', deps.drain.onAbort);
  // Browsers' cross-origin calls, for the configured origins only. None configured (a storefront's
  // server calls the API), no hook runs: @fastify/cors merges its options and sets Vary on every
  // request even when no origin is allowed, ~9% of a list-cache hit's serving thread.
  if (deps.config.corsOrigins.length) await app.register(cors, { origin: [...deps.config.corsOrigins] });
  await app.register(swagger, {
    openapi: {
      info: { title: 'Shelf', description: 'Recommendations and events for e-commerce', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      // Every route names one of these (its schema's `tags`), in this order in /docs.
      tags: [
        { name: 'recommendations', description: 'The tiers a storefront shows (storefront key)' },
        { name: 'events', description: 'What visitors did, credited to the lists that showed it' },
        { name: 'users', description: 'Sessions, consent, profiles and erasure' },
        { name: 'catalogue', description: 'Items, their stock, price and status (admin key)' },
        { name: 'rules', description: 'Merchandising rules: pinned promotions and boosts' },
        { name: 'models', description: 'Training, versions, promotion and rollback' },
        { name: 'jobs', description: 'Queued and scheduled jobs' },
        { name: 'feedback', description: 'CTR, conversion and revenue of the lists served; why (not) shown' },
        { name: 'experiments', description: 'A/B tests and adaptive weights' },
        { name: 'segments', description: 'Segments, lifecycle stages and their KPIs' },
        { name: 'audit', description: 'Who did what, when' },
        { name: 'health', description: 'Probes and Prometheus (no key)' },
      ],
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url }) => ({
      url,
      schema: schema?.body ? { ...schema, body: documentedBody(schema.body) as object } : schema,
    }),
  });
  // The docs are pages: helmet's document headers over the API's (swagger-ui's own script policy last).
  const documentHeaders = documentSecurityHeaders();
  await app.register(async (docs) => {
    docs.addHook('onRequest', (_req, reply, done) => {
      reply.headers(documentHeaders);
      done();
    });
    await docs.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  });

  // The rate limit, which counts per key, in preHandler (after authentication has named the key).
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: deps.config.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (req) => req.keyId ?? req.ip,
    ...(deps.redis ? { redis: deps.redis.client, nameSpace: deps.redis.names.rateLimit } : {}),
    // Counters that cannot be reached (Redis down) do not refuse the request: every route, the
    // probes too, answered 500 until Redis came back.
    skipOnError: true,
    errorResponseBuilder: (_req, ctx) =>
      ShelfError.of(
        'SHELF_ERR_RATE_LIMITED',
        `rate limit of ${ctx.max} requests per minute exceeded; retry in ${ctx.after}`,
      ),
  });
  // Failed authentications per client address, counted in the same limiter's store (shared
  // through Redis when it is): see auth-failures.ts.
  const failures = new AuthFailures(
    app.createRateLimit({
      max: deps.config.authFailuresPerMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => `auth-failure:${req.ip}`,
    }),
    deps.config.authFailuresPerMinute,
  );
  // Authentication as a hook of each route that has roles, made when the route is added: a
  // public route runs none, and a request does not read its route's options to find its roles.
  // A callback hook (an async one costs a promise per request), after CORS (an error still
  // carries its headers).
  app.addHook('onRoute', (route) => {
    const roles = route.config?.roles;
    if (roles) route.onRequest = [...[route.onRequest ?? []].flat(), authenticator(keys, roles, failures)];
  });
  app.addHook('onResponse', (req, reply, done) => {
    metrics.observe(req, reply);
    done();
  });

  const routers = {
    experiments: deps.experimentRouter,
    ...(deps.adaptive ? { adaptive: deps.adaptive } : {}),
  };
  await app.register(recommendationRoutes, { engine, ...routers });
  const now = deps.now ?? Date.now;
  const latestEventAt = () => now() + deps.config.maxEventSkewMs;
  await app.register(eventRoutes, {
    store,
    engine,
    changes,
    metrics,
    latestEventAt,
    ...(deps.attributor ? { attributor: deps.attributor } : {}),
  });
  await app.register(itemRoutes, { store, changes, audit });
  await app.register(userRoutes, { store, registry, changes, audit, segments });
  await app.register(sessionRoutes, { store, engine, changes });
  await app.register(modelRoutes, { engine, registry, jobs, promote: deps.promote, changes, audit });
  await app.register(auditRoutes, { store });
  await app.register(explainRoutes, { engine, ...routers });
  await app.register(rulesRoutes, { engine, store, changes, audit, ...(deps.now ? { now: deps.now } : {}) });
  await app.register(segmentRoutes, { segments, jobs });
  await app.register(feedbackRoutes, { store: deps.reads ?? store, jobs });
  await app.register(jobRoutes, { jobs, schedules: deps.schedules });
  await app.register(experimentRoutes, {
    experiments: deps.experiments,
    ...(deps.adaptiveSplit ? { adaptive: deps.adaptiveSplit } : {}),
  });
  await app.register(healthRoutes, {
    engine,
    store,
    metrics,
    drain: deps.drain,
    experiments: deps.experimentRouter,
  });
  return app;
}

/** Fastify's `trustProxy` (a hop count as the function Fastify makes of one; its types omit numbers). */
function proxiesTrusted(t: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof t === 'number' ? (_address, hop) => hop < t : t;
}
