/** Prometheus metrics of the API (prom-client), in a registry of their own per app. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from '../serving/engine.ts';

export class ApiMetrics {
  private readonly registry = new Registry();
  private readonly latency = new Histogram({
    name: 'shelf_http_request_duration_seconds',
    help: 'HTTP request latency by route, tier and status',
    labelNames: ['method', 'route', 'tier', 'status'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly events = new Counter({
    name: 'shelf_events_ingested_total',
    help: 'Events stored through the API',
    registers: [this.registry],
  });

  constructor(engine: Engine) {
    new Gauge({
      name: 'shelf_model_info',
      help: 'The model version being served (value 1)',
      labelNames: ['version'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.set({ version: engine.version ?? 'none' }, 1);
      },
    });
    new Gauge({
      name: 'shelf_answer_cache',
      help: 'Lists answered from the cache of recent lists (hits), computed (misses), and held (size)',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        const s = engine.answerCacheStats();
        this.set({ kind: 'hits' }, s.hits);
        this.set({ kind: 'misses' }, s.misses);
        this.set({ kind: 'size' }, s.size);
      },
    });
    new Gauge({
      name: 'shelf_index_items',
      help: 'Items in the serving catalogue',
      registers: [this.registry],
      collect() {
        this.set(engine.catalogSize);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observe(req: FastifyRequest, reply: FastifyReply): void {
    const route = req.routeOptions.url ?? 'unmatched';
    const tier = (req.params as { tier?: string } | undefined)?.tier ?? '';
    this.latency.observe(
      { method: req.method, route, tier, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  }

  eventsIngested(n: number): void {
    this.events.inc(n);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
