import { Histogram, Registry } from 'prom-client';
import type { Metric } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/api/latency-histogram.ts';

const NAME = 'shelf_http_request_duration_seconds';
const HELP = 'HTTP request latency by route, tier and status';
const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The same observations into prom-client's Histogram and into LatencyHistogram, each in a registry. */
function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const histogram = new Histogram({
    name: NAME,
    help: HELP,
    labelNames: ['method', 'route', 'tier', 'status'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const latency = new LatencyHistogram(NAME, HELP, BUCKETS);
  ours.registerMetric(latency as unknown as Metric);
  const observe = (method: string, route: string, tier: string, status: number, seconds: number) => {
    histogram.observe({ method, route, tier, status: String(status) }, seconds);
    latency.observe(method, route, tier, status, seconds);
  };
  return { theirs, ours, observe, histogram, latency };
}

describe('LatencyHistogram', () => {
  it('exposes exactly what prom-client’s Histogram exposes for the same observations', async () => {
    const { theirs, ours, observe } = both();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    const routes = ['/v1/recommendations/:tier', '/v1/events', 'unmatched', '/v1/users/:userId/profile'];
    const tiers = ['personalized', 'homepage', ''];
    // Every bound exactly, between the bounds, above the last one, and sums that round.
    const values = [...BUCKETS, 0, 0.0001, 0.0007, 0.003, 0.1 + 0.2, 3, 120, 1e-9];
    let k = 0;
    for (const seconds of values) {
      for (const status of [200, 400, 429, 404]) {
        observe(
          k % 3 ? 'GET' : 'POST',
          routes[k % routes.length]!,
          tiers[k % tiers.length]!,
          status,
          seconds,
        );
        k++;
      }
    }
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toMatch(
      /\n\w+_bucket\{le="0\.0005",method="GET",route="[^"]+",tier="[a-z]*",status="\d+"\} \d+\n/,
    );
    expect(text.split('\n').filter((l) => l.includes('_count{')).length).toBeGreaterThan(10);
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
  });

  it('escapes label values as prom-client does, and starts afresh on reset', async () => {
    const { theirs, ours, observe, histogram, latency } = both();
    observe('GET', 'a "quoted"\\route\nline', 'tier', 200, 0.004);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    histogram.reset();
    latency.reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    observe('GET', '/healthz', '', 200, 0.0002);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });
});
