/** Prometheus metrics of the API (prom-client), in a registry of their own per app. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Metric } from 'prom-client';
import type { FeedbackCounters, TierCounts } from '../feedback/feedback-counters.ts';
import type { Engine } from '../serving/engine.ts';
import { LatencyHistogram } from './latency-histogram.ts';

/** `metric` in `registry` (first registered, first listed, as the prom-client metrics next to it). */
function registered<T extends object>(registry: Registry, metric: T): T {
  // The registry reads a metric only through get()/getForPromString(); its type lists prom-client's classes.
  registry.registerMetric(metric as unknown as Metric);
  return metric;
}

export class ApiMetrics {
  private readonly registry = new Registry();
  private readonly latency = registered(
    this.registry,
    new LatencyHistogram(
      'shelf_http_request_duration_seconds',
      'HTTP request latency by route, tier and status',
      [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
  );
  private readonly events = new Counter({
    name: 'shelf_events_ingested_total',
    help: 'Events stored through the API',
    registers: [this.registry],
  });

  constructor(engine: Engine, feedback?: FeedbackCounters) {
    if (feedback) this.feedbackCounters(feedback);
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

  /** Live feedback by tier, read from `feedback` when scraped (counters: set by reset then inc). */
  private feedbackCounters(feedback: FeedbackCounters): void {
    const byTier = (name: string, help: string, pick: (c: TierCounts) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['tier'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [tier, c] of feedback.byTier) this.inc({ tier }, pick(c));
        },
      });
    byTier('shelf_impressions_total', 'Lists served (impressions), by tier', (c) => c.impressions);
    byTier('shelf_attributed_clicks_total', 'Clicks attributed to a list, by tier', (c) => c.clicks);
    byTier('shelf_attributed_purchases_total', 'Purchases attributed to a list, by tier', (c) => c.purchases);
    byTier('shelf_attributed_revenue_total', 'Revenue of attributed purchases, by tier', (c) => c.revenue);
    byTier(
      'shelf_attributed_returned_revenue_total',
      'Revenue taken back by returns of attributed purchases, by tier',
      (c) => c.returnedRevenue,
    );
    new Counter({
      name: 'shelf_impressions_dropped_total',
      help: 'Impressions shed by the buffer (store slow or failing)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(feedback.dropped);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observe(req: FastifyRequest, reply: FastifyReply): void {
    const route = req.routeOptions.url ?? 'unmatched';
    const tier = (req.params as { tier?: string } | undefined)?.tier ?? '';
    this.latency.observe(req.method, route, tier, reply.statusCode, reply.elapsedTime / 1000);
  }

  eventsIngested(n: number): void {
    this.events.inc(n);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
