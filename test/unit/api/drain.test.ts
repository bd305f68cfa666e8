import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { Drain } from '../../../src/api/drain.ts';
import { errorHandler } from '../../../src/api/error-handler.ts';

/** A Fastify app with the drain's hooks and a route that answers when told to. */
function appWith(drain: Drain) {
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  app.addHook('onRequest', drain.onRequest);
  app.addHook('onSend', drain.onSend);
  app.addHook('onResponse', drain.onResponse);
  app.addHook('onRequestAbort', drain.onAbort);
  const release: (() => void)[] = [];
  app.get('/slow', () => new Promise<{ ok: true }>((r) => release.push(() => r({ ok: true }))));
  app.get('/fast', async () => ({ ok: true }));
  app.get('/readyz', async () => ({ ready: !drain.draining }));
  return { app, release };
}

describe('drain', () => {
  it('lets requests in flight finish, answers new ones 503 with Retry-After, keeps probes open', async () => {
    const drain = new Drain();
    const { app, release } = appWith(drain);
    const slow = app.inject({ url: '/slow' });
    while (!release.length) await new Promise((r) => setTimeout(r, 1));
    let drained = false;
    const draining = drain.start(Date.now() + 10_000).then(() => (drained = true));
    expect(drain.draining).toBe(true);
    const refused = await app.inject({ url: '/fast' });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json()).toMatchObject({
      code: 'SHELF_ERR_UNAVAILABLE',
      message: 'shutting down; retry in 5 s',
    });
    expect((await app.inject({ url: '/readyz' })).json()).toEqual({ ready: false });
    expect(drained).toBe(false);
    release[0]!();
    const finished = await slow;
    expect(finished.statusCode).toBe(200);
    expect(finished.headers.connection).toBe('close');
    await draining;
    expect(drained).toBe(true);
    await app.close();
  });

  it('stops waiting at the deadline', async () => {
    const drain = new Drain();
    const { app, release } = appWith(drain);
    const slow = app.inject({ url: '/slow' });
    while (!release.length) await new Promise((r) => setTimeout(r, 1));
    const t0 = Date.now();
    await drain.start(t0 + 50);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(Date.now() - t0).toBeLessThan(900);
    release[0]!();
    await slow;
    await app.close();
  });
});
