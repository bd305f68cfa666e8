/** `/healthz`, `/readyz` and `/metrics`: public, for probes and Prometheus (`/docs` is swagger-ui's). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ExperimentRouter } from '../../experiments/experiment-router.ts';
import type { Engine } from '../../serving/engine.ts';
import type { Store } from '../../store/types.ts';
import type { Drain } from '../drain.ts';
import type { ApiMetrics } from '../metrics.ts';
import * as S from '../schemas.ts';

export interface HealthRoutesOptions {
  engine: Pick<Engine, 'ready' | 'version'>;
  store: Pick<Store, 'ping'>;
  metrics: Pick<ApiMetrics, 'contentType' | 'render'>;
  drain: Pick<Drain, 'draining'>;
  /** The shipped variants served now, for the tiers they pin to another model version. */
  experiments: Pick<ExperimentRouter, 'pinned'>;
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (
  app,
  { engine, store, metrics, drain, experiments },
) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['health'],
        response: { 200: S.HealthReply, ...S.ErrorResponses },
      },
    },
    async () => ({
      status: 'ok' as const,
    }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the engine serves, the store answers and the process is not draining (else 503)',
        tags: ['health'],
        response: { 200: S.ReadyReply, 503: S.ReadyReply, ...S.ErrorResponses },
      },
    },
    async (_req, reply) => {
      // A query that reads no table: a probe every few seconds must not count the events
      // (the serving thread's own read on SQLite: 23 ms at 60k events, growing with them).
      const storeOk = await store.ping().then(
        () => true,
        () => false,
      );
      // Not ready while draining: the load balancer stops sending before the process goes.
      const ready = !drain.draining && engine.ready && storeOk;
      // A tier a shipped variant keeps on another version does not serve `modelVersion`: say so.
      const pinned = experiments.pinned(engine.version);
      return reply.status(ready ? 200 : 503).send({
        ready,
        modelVersion: engine.version,
        store: storeOk,
        ...(Object.keys(pinned).length ? { pinned } : {}),
      });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics',
        tags: ['health'],
        response: { 200: S.MetricsReply, ...S.ErrorResponses },
      },
    },
    async (_req, reply) => {
      reply.type(metrics.contentType);
      return metrics.render();
    },
  );
};
