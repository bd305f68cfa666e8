/**
 * Experiments through HTTP: create (and its validation), the lifecycle, visitors served their
 * variant's configuration with `experiment` and `variant` in the answer and the impression, ship
 * (the default after a restart too), results from the aggregates, the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { withVariant } from '../../../src/experiments/experiment-router.ts';
import type { Store } from '../../../src/store/types.ts';
import { trainedShop } from '../../helpers/trained-shop.ts';
import type { TrainedShop } from '../../helpers/trained-shop.ts';

const NOW = Date.UTC(2025, 0, 15, 12);
const SHOP = 'storefront-key-0123456789';
const ADMIN = 'admin-key-0123456789abcdef';
/** Rotation off: a list shown again is the same list (the engine's lists are compared below). */
const ENV = { SHELF_API_KEYS: `storefront:${SHOP},admin:${ADMIN}`, SHELF_ROTATION_SHOWS: '0' };
/** Trending only, one item per category: lists plainly unlike the default's. */
const B_CONFIG = {
  weights: { vector: 0, neighbours: 0, ease: 0, complements: 0, trending: 1 },
  rules: { maxPerCategory: 1, newItemSlot: -1 },
};

interface Answer {
  recommendationId: string;
  experiment?: string;
  variant?: string;
  items: { itemId: string }[];
}

describe('experiments through HTTP', () => {
  let shop: TrainedShop;
  let store: Store;
  let shelf: Shelf;
  /** Another replica over the same store: it learns of experiments from the change feed only. */
  let replica: Shelf;
  let users: string[];

  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const admin = (method: 'GET' | 'POST', url: string, payload?: object) =>
    shelf.app.inject({ method, url, headers: as(ADMIN), ...(payload ? { payload } : {}) });
  const home = async (userId: string): Promise<Answer> => {
    const r = await shelf.app.inject({
      url: `/v1/recommendations/homepage?userId=${userId}&limit=8`,
      headers: as(SHOP),
    });
    expect(r.statusCode).toBe(200);
    return r.json() as Answer;
  };
  const body = {
    id: 'blend-1',
    name: 'Trending only vs default',
    tiers: ['homepage'],
    unit: 'user',
    variants: [
      { name: 'control', share: 0.5, config: {} },
      { name: 'b', share: 0.5, config: B_CONFIG },
    ],
  };

  beforeAll(async () => {
    shop = await trainedShop({ seed: 7, items: 120, users: 80, events: 4000, now: NOW });
    store = shop.store;
    users = shop.storefront.users.map((u) => u.userId);
    shelf = await shop.start(ENV, () => NOW);
    replica = await shop.start(ENV, () => NOW);
  });
  afterAll(async () => {
    await replica.close();
    await shelf.close();
    await shop.close();
  });

  it('refuses a bad definition, naming the field', async () => {
    const bad = await admin('POST', '/v1/admin/experiments', {
      ...body,
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'control', share: 0.3, config: {} },
      ],
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/body\/variants\/1\/name: duplicates.*shares must sum to 1/);
    // A tier named twice was collapsed silently; a sum is shown as written, not 0.8999999999999999.
    const twice = await admin('POST', '/v1/admin/experiments', {
      ...body,
      tiers: ['homepage', 'homepage'],
      variants: [
        { name: 'control', share: 0.6, config: {} },
        { name: 'b', share: 0.3, config: {} },
      ],
    });
    expect(twice.statusCode).toBe(400);
    expect(twice.json().details).toEqual([
      { field: 'body/tiers/1', reason: 'duplicates "homepage"' },
      { field: 'body/variants', reason: 'shares must sum to 1, they sum to 0.9' },
    ]);
    const unit = await admin('POST', '/v1/admin/experiments', { ...body, unit: 'device' });
    expect(unit.statusCode).toBe(400);
    expect(unit.json().message).toMatch(/unit/);
    // Seen: "body must NOT have additional properties", naming none.
    const extra = await admin('POST', '/v1/admin/experiments', {
      ...body,
      variants: [body.variants[0], { ...body.variants[1], confg: {} }],
    });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().message).toBe('body/variants/1/confg is not a field here');
    expect(extra.json().details[0]).toEqual({
      field: 'body/variants/1/confg',
      reason: 'is not a field here',
    });
    // Four weights of 1e308 summed to Infinity, and every score of the variant came out NaN.
    const huge = await admin('POST', '/v1/admin/experiments', {
      ...body,
      variants: [body.variants[0], { ...body.variants[1], config: { weights: { trending: 1e308 } } }],
    });
    expect(huge.statusCode).toBe(400);
    expect(huge.json().message).toMatch(/body\/variants\/1\/config\/weights\/trending/);
  });

  it('runs an experiment: visitors get their variant’s configuration, recorded on the impression', async () => {
    const created = await admin('POST', '/v1/admin/experiments', body);
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ id: 'blend-1', state: 'draft', layer: 'homepage', range: null });
    expect((await admin('POST', '/v1/admin/experiments', body)).statusCode).toBe(409);
    expect((await admin('POST', '/v1/admin/experiments/blend-1/pause')).statusCode).toBe(409);
    // A draft assigns nobody.
    expect((await home(users[0]!)).experiment).toBeUndefined();

    const started = await admin('POST', '/v1/admin/experiments/blend-1/start');
    expect(started.statusCode).toBe(200);
    expect(started.json()).toMatchObject({ state: 'running', range: [0, 10_000] });

    const base = shelf.engine.defaultConfig('homepage')!;
    const byVariant = new Map<string, string[]>();
    const answers = new Map<string, Answer>();
    for (const u of users) {
      const a = await home(u);
      expect(a.experiment).toBe('blend-1');
      expect(['control', 'b']).toContain(a.variant);
      byVariant.set(a.variant!, [...(byVariant.get(a.variant!) ?? []), u]);
      answers.set(u, a);
      // The same visitor gets the same variant on every request.
      expect((await home(u)).variant).toBe(a.variant);
    }
    // The reply's keys in the schema's order, experiment and variant included.
    expect(Object.keys(answers.get(users[0]!)!)).toEqual([
      'recommendationId',
      'tier',
      'modelVersion',
      'experiment',
      'variant',
      'items',
    ]);
    expect(byVariant.get('control')!.length).toBeGreaterThan(20);
    expect(byVariant.get('b')!.length).toBeGreaterThan(20);
    // The other replica, once it has read the feed (its poll or the Redis signal), assigns alike.
    await replica.changes.catchUp();
    for (const u of users) {
      const r = await replica.app.inject({
        url: `/v1/recommendations/homepage?userId=${u}&limit=8`,
        headers: as(SHOP),
      });
      expect(r.json()).toMatchObject({ experiment: 'blend-1', variant: answers.get(u)!.variant });
    }
    // Each is served its variant's configuration: the list the engine makes with that config.
    let differ = 0;
    for (const [variant, us] of byVariant)
      for (const u of us.slice(0, 8)) {
        // Named apart from the served config so the list cache cannot answer it.
        const cfg = withVariant(base, `check:${variant}`, variant === 'b' ? B_CONFIG : {});
        const direct = await shelf.engine.recommend({ tier: 'homepage', userId: u, limit: 8, config: cfg });
        const served = answers.get(u)!.items.map((i) => i.itemId);
        expect(served).toEqual(direct.items.map((i) => i.itemId));
        const plain = await shelf.engine.recommend({ tier: 'homepage', userId: u, limit: 8, config: base });
        if (plain.items.map((i) => i.itemId).join() !== served.join()) differ++;
      }
    expect(differ).toBeGreaterThan(4); // variant b's lists are not the default's
    await shelf.impressions.flush();
    const u0 = users[0]!;
    const [imp] = await store.impressions([answers.get(u0)!.recommendationId]);
    expect(imp).toMatchObject({
      experiment: 'blend-1',
      variant: answers.get(u0)!.variant,
      config: `blend-1:${answers.get(u0)!.variant}`,
    });

    // Explain runs the list the visitor is served, their variant's (seen explaining the default
    // list instead: an item shown at position 2 'ranked below the cut').
    for (const variant of ['b', 'control']) {
      const u = byVariant.get(variant)![0]!;
      const served = answers.get(u)!.items.map((i) => i.itemId);
      const r = await admin('GET', `/v1/admin/explain?tier=homepage&userId=${u}&limit=8&itemId=${served[2]}`);
      expect(r.json()).toMatchObject({
        shown: true,
        position: 2,
        experiment: 'blend-1',
        variant,
        config: `blend-1:${variant}`,
      });
      expect(r.json().items.map((i: { itemId: string }) => i.itemId)).toEqual(served);
    }

    // Paused: nobody is in it; resumed: everyone is back in the same variant.
    expect((await admin('POST', '/v1/admin/experiments/blend-1/pause')).json().state).toBe('paused');
    expect((await home(u0)).experiment).toBeUndefined();
    expect((await admin('POST', '/v1/admin/experiments/blend-1/start')).json().state).toBe('running');
    expect((await home(u0)).variant).toBe(answers.get(u0)!.variant);

    // Another experiment on the homepage in another layer may not run beside it.
    await admin('POST', '/v1/admin/experiments', { ...body, id: 'other', layer: 'elsewhere' });
    const clash = await admin('POST', '/v1/admin/experiments/other/start');
    expect(clash.statusCode).toBe(409);
    expect(clash.json().code).toBe('SHELF_ERR_EXPERIMENT_STATE');
  });

  it('reads results per randomisation unit from the aggregates', async () => {
    // Clicks on the first items of each unit's list: 0 or 1 in control, 1 or 2 in b.
    const events: object[] = [];
    const served = new Map<string, Answer>();
    for (const u of users) served.set(u, await home(u));
    let clicksB = 0;
    for (const [i, [u, a]] of [...served].entries()) {
      const clicks = (a.variant === 'b' ? 1 : 0) + (i % 2);
      if (a.variant === 'b') clicksB += clicks;
      for (let k = 0; k < clicks && k < a.items.length; k++)
        events.push({
          eventId: `e-${u}-${k}`,
          type: 'click',
          userId: u,
          itemId: a.items[k]!.itemId,
          recommendationId: a.recommendationId,
          timestamp: new Date(NOW).toISOString(),
        });
    }
    const posted = await shelf.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: as(SHOP),
      payload: { events },
    });
    expect(posted.statusCode).toBe(200);
    await shelf.impressions.flush();
    expect((await admin('POST', '/v1/admin/feedback/aggregate')).statusCode).toBe(202);
    await shelf.jobs.idle();

    const res = await admin('GET', '/v1/admin/experiments/blend-1/results?nStar=1000');
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(r).toMatchObject({ id: 'blend-1', state: 'running', control: 'control', alpha: 0.05 });
    const nB = [...served.values()].filter((a) => a.variant === 'b').length;
    const [control, b] = r.variants;
    expect(control.units + b.units).toBe(users.length);
    expect(b.units).toBe(nB);
    expect(b.clicks).toBe(clicksB);
    expect(b.metrics.ctr.value).toBeCloseTo(b.clicks / b.impressions, 12);
    expect(b.metrics.ctr.ci95[0]).toBeLessThan(b.metrics.ctr.value);
    expect(r.comparisons.map((c: { metric: string }) => c.metric)).toEqual([
      'ctr',
      'conversion',
      'revenuePerUnit',
    ]);
    const ctr = r.comparisons[0];
    expect(ctr.lift).toBeCloseTo(b.metrics.ctr.value / control.metrics.ctr.value - 1, 12);
    expect(ctr.pValue).toBeLessThan(0.001);
    // The sequential interval is wider than the fixed-horizon one.
    expect(ctr.sequentialCi95[1] - ctr.sequentialCi95[0]).toBeGreaterThan(ctr.liftCi95[1] - ctr.liftCi95[0]);
    expect(r.srm.flagged).toBe(false);
    expect(r.methods.ctr).toMatch(/delta method/);
    // No purchases: conversion has no lift to report.
    expect(r.comparisons[1].lift).toBeNull();
    expect((await admin('GET', '/v1/admin/experiments/nope/results')).statusCode).toBe(404);
  });

  it('ships a variant as the tier’s default, kept across a restart, and audits every step', async () => {
    const shipped = await admin('POST', '/v1/admin/experiments/blend-1/ship', { variant: 'b' });
    expect(shipped.statusCode).toBe(200);
    expect(shipped.json()).toMatchObject({
      state: 'shipped',
      shipped: { variant: 'b', at: NOW },
      range: null,
    });
    expect((await admin('POST', '/v1/admin/experiments/blend-1/ship', { variant: 'b' })).statusCode).toBe(
      409,
    );
    const u0 = users[0]!;
    const base = shelf.engine.defaultConfig('homepage')!;
    const want = (
      await shelf.engine.recommend({
        tier: 'homepage',
        userId: u0,
        limit: 8,
        config: withVariant(base, 'x', B_CONFIG),
      })
    ).items.map((i) => i.itemId);
    const a = await home(u0);
    expect(a.experiment).toBeUndefined();
    expect(a.items.map((i) => i.itemId)).toEqual(want);

    await shelf.close();
    shelf = await shop.start(ENV, () => NOW);
    // Trending is read again at start, so the list is compared with the new engine's.
    const base2 = shelf.engine.defaultConfig('homepage')!;
    const want2 = await shelf.engine.recommend({
      tier: 'homepage',
      userId: u0,
      limit: 8,
      config: withVariant(base2, 'y', B_CONFIG),
    });
    const after = await home(u0);
    expect(after.items.map((i) => i.itemId)).toEqual(want2.items.map((i) => i.itemId));
    await shelf.impressions.flush();
    expect((await store.impressions([after.recommendationId]))[0]!.config).toBe('shipped:blend-1:b');

    const list = await admin('GET', '/v1/admin/experiments');
    expect(list.json().experiments.map((e: { id: string; state: string }) => [e.id, e.state])).toEqual([
      ['blend-1', 'shipped'],
      ['other', 'draft'],
    ]);
    const audit = (await admin('GET', '/v1/admin/audit?limit=50')).json().entries as {
      action: string;
      target: string;
    }[];
    expect(audit.filter((e) => e.target === 'blend-1').map((e) => e.action)).toEqual([
      'experiment.ship',
      'experiment.start',
      'experiment.pause',
      'experiment.start',
      'experiment.create',
    ]);
  });

  // Seen with two replicas: each of 300 sessions asked once with its userId and once without;
  // control's 74 sessions read as 148 units (74 u:, 74 s:), its conversion halved.
  it('counts a session-unit experiment by session, whether a request names the user or not', async () => {
    await admin('POST', '/v1/admin/experiments', {
      ...body,
      id: 'sess-1',
      tiers: ['personalized'],
      unit: 'session',
    });
    expect((await admin('POST', '/v1/admin/experiments/sess-1/start')).statusCode).toBe(200);
    const ask = (query: string) =>
      shelf.app.inject({ url: `/v1/recommendations/personalized?${query}&limit=5`, headers: as(SHOP) });
    const sessions = users.slice(0, 30);
    for (const [k, u] of sessions.entries()) {
      const signedIn = (await ask(`sessionId=s-${k}&userId=${u}`)).json() as Answer;
      const anonymous = (await ask(`sessionId=s-${k}`)).json() as Answer;
      expect(signedIn.experiment).toBe('sess-1');
      expect(anonymous.variant).toBe(signedIn.variant);
    }
    await shelf.impressions.flush();
    expect((await admin('POST', '/v1/admin/feedback/aggregate')).statusCode).toBe(202);
    await shelf.jobs.idle();
    const r = (await admin('GET', '/v1/admin/experiments/sess-1/results')).json();
    expect(r.variants.map((v: { units: number }) => v.units).reduce((a: number, b: number) => a + b)).toBe(
      sessions.length,
    );
    expect(
      r.variants.map((v: { impressions: number }) => v.impressions).reduce((a: number, b: number) => a + b),
    ).toBe(2 * sessions.length);
  });

  it('unships a variant: the tier’s default is the engine’s again, on the replica too, and audited', async () => {
    // From here: blend-1 has b shipped, sess-1 runs, other is a draft.
    const running = await admin('POST', '/v1/admin/experiments/sess-1/unship');
    expect(running.statusCode).toBe(409);
    expect(running.json()).toMatchObject({
      code: 'SHELF_ERR_EXPERIMENT_STATE',
      message: 'cannot unship experiment "sess-1": it is running',
    });
    const draft = await admin('POST', '/v1/admin/experiments/other/unship');
    expect([draft.statusCode, draft.json().message]).toEqual([
      409,
      'cannot unship experiment "other": it is draft',
    ]);
    const unknown = await admin('POST', '/v1/admin/experiments/nope/unship');
    // The experiment not found, not the route.
    expect([unknown.statusCode, unknown.json().message]).toEqual([404, 'experiment "nope" not found']);

    const u0 = users[0]!;
    const ask = async (s: Shelf) => {
      const r = await s.app.inject({
        url: `/v1/recommendations/homepage?userId=${u0}&limit=8`,
        headers: as(SHOP),
      });
      await s.impressions.flush();
      const a = r.json() as Answer;
      return { a, config: (await store.impressions([a.recommendationId]))[0]!.config };
    };
    await replica.changes.catchUp();
    for (const s of [shelf, replica]) expect((await ask(s)).config).toBe('shipped:blend-1:b');

    const unshipped = await admin('POST', '/v1/admin/experiments/blend-1/unship');
    expect(unshipped.statusCode).toBe(200);
    expect(unshipped.json()).toMatchObject({ id: 'blend-1', state: 'stopped', shipped: null, range: null });
    // The replica learns of it from the change feed only.
    await replica.changes.catchUp();
    for (const s of [shelf, replica]) {
      const { a, config } = await ask(s);
      expect(config).toBe('default');
      const plain = await s.engine.recommend({
        tier: 'homepage',
        userId: u0,
        limit: 8,
        config: s.engine.defaultConfig('homepage')!,
      });
      expect(a.items.map((i) => i.itemId)).toEqual(plain.items.map((i) => i.itemId));
    }
    const again = await admin('POST', '/v1/admin/experiments/blend-1/unship');
    expect([again.statusCode, again.json().message]).toEqual([
      409,
      'cannot unship experiment "blend-1": it is stopped',
    ]);
    const audit = (await admin('GET', '/v1/admin/audit?limit=50')).json().entries as {
      action: string;
      target: string;
      role: string;
      detail: Record<string, string>;
    }[];
    expect(audit.find((e) => e.target === 'blend-1')).toMatchObject({
      action: 'experiment.unship',
      role: 'admin',
      detail: { state: 'stopped', variant: 'b' },
    });
  });
});
