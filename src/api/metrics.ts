/** Prometheus metrics of the API (prom-client), in a registry of their own per app. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Metric } from 'prom-client';
import type { FeedbackCounters, TierCounts } from '../feedback/feedback-counters.ts';
import type { JobQueue } from '../jobs/job-types.ts';
import type { Engine } from '../serving/engine.ts';
import { LatencyHistogram } from './latency-histogram.ts';

/** `metric` in `registry` (first registered, first listed, as the prom-client metrics next to it). */
function registered<T extends object>(registry: Registry, metric: T): T {
  // The registry reads a metric only through get()/getForPromString(); its type lists prom-client's classes.
  registry.registerMetric(metric as unknown as Metric);
  return metric;
}

/** Finished jobs read for the duration gauges. */
const RECENT_JOBS = 100;

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

  constructor(engine: Engine, feedback?: FeedbackCounters, jobs?: Pick<JobQueue, 'counts' | 'list'>) {
    if (feedback) this.feedbackCounters(feedback);
    if (jobs) this.jobMetrics(jobs);
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

  /**
   * The job queue as scraped: jobs per state (the whole cluster's with Redis), and the durations
   * of the recent finished jobs by name (the last one, and the longest). Read from the queue, so
   * jobs a worker process ran show here too.
   */
  private jobMetrics(jobs: Pick<JobQueue, 'counts' | 'list'>): void {
    new Gauge({
      name: 'shelf_jobs',
      help: 'Jobs in the queue by state (queued, running, completed and failed kept for status)',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        for (const [state, n] of Object.entries(await jobs.counts())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'shelf_job_duration_seconds',
      help: 'Durations of recent finished jobs by name: the last one and the longest (stat)',
      labelNames: ['job', 'stat'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const last = new Map<string, number>();
        const max = new Map<string, number>();
        // Newest first: the first seen of a name is its last.
        for (const j of await jobs.list(RECENT_JOBS)) {
          if (!j.startedAt || !j.finishedAt) continue;
          const s = (Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000;
          if (!last.has(j.name)) last.set(j.name, s);
          max.set(j.name, Math.max(max.get(j.name) ?? 0, s));
        }
        for (const [job, s] of last) this.set({ job, stat: 'last' }, s);
        for (const [job, s] of max) this.set({ job, stat: 'max' }, s);
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
