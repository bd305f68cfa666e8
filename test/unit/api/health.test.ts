import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { healthRoutes } from '../../../src/api/routes/health.ts';
import type { HealthRoutesOptions } from '../../../src/api/routes/health.ts';

/** The probes over a store that answers pings as told and counts how often it was asked for its figures. */
async function probes(o: {
  ping: () => Promise<void>;
  ready?: boolean;
  draining?: boolean;
  /** What the experiment router says is pinned, given the current version. */
  pinned?: HealthRoutesOptions['experiments']['pinned'];
}) {
  let statsCalls = 0;
  // Its figures read every table: a probe that asks for them fails this test.
  const store = {
    ping: o.ping,
    stats: () => {
      statsCalls++;
      return Promise.reject(new Error('not for probes'));
    },
  };
  const options: HealthRoutesOptions = {
    engine: { ready: o.ready ?? true, version: 'v1' },
    store,
    metrics: { contentType: 'text/plain', render: async () => '' },
    drain: { draining: o.draining ?? false },
    experiments: { pinned: o.pinned ?? (() => ({})) },
  };
  const app = Fastify();
  await app.register(healthRoutes, options);
  const res = await app.inject({ url: '/readyz' });
  await app.close();
  return { status: res.statusCode, body: res.json() as unknown, statsCalls };
}

describe('/readyz', () => {
  it('is ready when the store answers a ping, without asking for its figures', async () => {
    const r = await probes({ ping: async () => {} });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ready: true, modelVersion: 'v1', store: true });
    expect(r.statsCalls).toBe(0);
  });

  it('is not ready when the store does not answer, nor with no model, nor while draining', async () => {
    const down = await probes({ ping: () => Promise.reject(new Error('connection refused')) });
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ ready: false, modelVersion: 'v1', store: false });
    const noModel = await probes({ ping: async () => {}, ready: false });
    expect([noModel.status, noModel.body]).toEqual([503, { ready: false, modelVersion: 'v1', store: true }]);
    const draining = await probes({ ping: async () => {}, draining: true });
    expect(draining.status).toBe(503);
  });

  it('names the tiers a shipped variant keeps on another model version, and only then', async () => {
    const asked: (string | null)[] = [];
    const r = await probes({
      ping: async () => {},
      pinned: (current) => {
        asked.push(current);
        return { homepage: 'v0' };
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ready: true, modelVersion: 'v1', store: true, pinned: { homepage: 'v0' } });
    // Compared with the version the engine serves now.
    expect(asked).toEqual(['v1']);
  });
});
