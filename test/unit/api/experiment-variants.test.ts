/**
 * Experiments through HTTP, the rest of issue #14 item 1: a variant served from another
 * registered model version beside the current one, an audience of segments (visitors outside it
 * are not enrolled), and shares changed while running, moving only the visitors whose buckets
 * change hands; a shipped variant pinning its tier to a version, and unshipped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShelf } from '../../../src/app/create-shelf.ts';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { loadConfig } from '../../../src/config.ts';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { versionsServed, withVariant } from '../../../src/experiments/experiment-router.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { RecommendRequest } from '../../../src/serving/types.ts';
import type { Store } from '../../../src/store/types.ts';
import { trainVersion } from '../../../training/publish.ts';

const log = pino({ level: 'silent' });
const NOW = Date.UTC(2025, 0, 15, 12);
const SHOP = 'storefront-key-0123456789';
const ADMIN = 'admin-key-0123456789abcdef';

interface Answer {
  recommendationId: string;
  modelVersion: string;
  experiment?: string;
  variant?: string;
  items: { itemId: string }[];
}

describe('experiment variants through HTTP: model versions, audiences, shares', () => {
  let dir: string;
  let store: Store;
  let registry: ModelRegistry;
  let shelf: Shelf;
  let users: string[];
  let v1: string;
  let v2: string;

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
  const run = async (body: object, id: string) => {
    expect((await admin('POST', '/v1/admin/experiments', body)).statusCode).toBe(201);
    expect((await admin('POST', `/v1/admin/experiments/${id}/start`)).statusCode).toBe(200);
  };
  let config: ReturnType<typeof loadConfig>;
  /** A homepage experiment whose variant `next` is served from `version`. */
  const onVersion = (id: string, version: string) => ({
    id,
    name: `${version} beside the current version`,
    tiers: ['homepage'],
    unit: 'user',
    variants: [
      { name: 'control', share: 0.5, config: {} },
      { name: 'next', share: 0.5, config: { modelVersion: version } },
    ],
  });
  const stop = async (id: string) =>
    expect((await admin('POST', `/v1/admin/experiments/${id}/stop`)).statusCode).toBe(200);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-variants-'));
    store = await openSqliteStore(':memory:');
    registry = new ModelRegistry(join(dir, 'models'));
    const sf = generateStorefront({ seed: 11, items: 120, users: 90, events: 4000, now: NOW });
    await exportStorefront(sf, { store });
    users = sf.users.map((u) => u.userId);
    const train = async (seed: number, factors: number) =>
      (await trainVersion({ store, registry, recipe: { factors, iterations: 3 }, seed, log })).manifest
        .version;
    v1 = await train(1, 8);
    v2 = await train(2, 4);
    await registry.promote(v1);
    config = loadConfig({
      SHELF_DATA_DIR: dir,
      SHELF_API_KEYS: `storefront:${SHOP},admin:${ADMIN}`,
      SHELF_ROTATION_SHOWS: '0',
    });
    shelf = await createShelf(config, log, { store, registry, now: () => NOW });
  });
  afterAll(async () => {
    await shelf.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a variant from another registered version, beside the current one', async () => {
    expect(v1).not.toBe(v2);
    const unknown = await admin('POST', '/v1/admin/experiments', onVersion('vx', 'no-such-version'));
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toMatch(/body\/variants\/1\/config\/modelVersion: no registered version/);

    await run(onVersion('versions', v2), 'versions');
    expect(shelf.engine.version).toBe(v1);
    const base = shelf.engine.defaultConfig('homepage')!;
    let inNext = 0;
    let differ = 0;
    for (const u of users) {
      const a = await home(u);
      expect(a.experiment).toBe('versions');
      expect(a.modelVersion).toBe(a.variant === 'next' ? v2 : v1);
      if (a.variant !== 'next') continue;
      inNext++;
      // The list v2 makes for this visitor with its own serving rules, and not the one v1 makes.
      const v2Base = shelf.engine.defaultConfig('homepage', v2)!;
      expect(v2Base).not.toBe(base);
      const want = await shelf.engine.recommend({
        tier: 'homepage',
        userId: u,
        limit: 8,
        config: withVariant(v2Base, 'check:v2', { modelVersion: v2 }),
      });
      expect(want.modelVersion).toBe(v2);
      expect(a.items.map((i) => i.itemId)).toEqual(want.items.map((i) => i.itemId));
      const current = await shelf.engine.recommend({ tier: 'homepage', userId: u, limit: 8, config: base });
      if (current.items.map((i) => i.itemId).join() !== a.items.map((i) => i.itemId).join()) differ++;
      if (inNext === 1) {
        await shelf.impressions.flush();
        const [imp] = await store.impressions([a.recommendationId]);
        expect(imp).toMatchObject({ modelVersion: v2, variant: 'next', config: 'versions:next' });
      }
    }
    expect(inNext).toBeGreaterThan(25);
    expect(differ).toBeGreaterThan(inNext / 2);
    await stop('versions');
  });

  it('enrols only visitors of the audience’s segments', async () => {
    const segmentOf = new Map<string, string>();
    // As the profile route: no segment for a user who does not consent to personalization.
    for (const u of users)
      if ((await store.getUser(u))?.consent.personalization !== false)
        segmentOf.set(u, (await shelf.segments.classifyUser(u)).segment);
    const counts = new Map<string, number>();
    for (const s of segmentOf.values()) counts.set(s, (counts.get(s) ?? 0) + 1);
    // The most common segment is the audience; everyone else stays out.
    const [audience] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
    expect(counts.get(audience)!).toBeLessThan(users.length); // someone is outside it
    await run(
      {
        id: 'aud',
        name: 'audience',
        tiers: ['homepage'],
        unit: 'user',
        audience: { segments: [audience] },
        variants: [
          { name: 'control', share: 0.5, config: {} },
          { name: 'b', share: 0.5, config: { weights: { trending: 2 } } },
        ],
      },
      'aud',
    );
    for (const u of users) {
      const a = await home(u);
      if (segmentOf.get(u) === audience) expect(a.experiment).toBe('aud');
      else expect(a.experiment).toBeUndefined();
      // Asked again (the segment now remembered), the same answer.
      expect((await home(u)).experiment).toBe(a.experiment);
    }
    // Anonymous visitors are `new`: outside unless the audience holds it.
    const anon = await shelf.app.inject({
      url: '/v1/recommendations/homepage?sessionId=s-anon&limit=4',
      headers: as(SHOP),
    });
    expect(anon.json().experiment).toBeUndefined();
    // A user of the audience who withdraws consent to personalization has no segment: out.
    const member = users.find((u) => segmentOf.get(u) === audience)!;
    expect((await home(member)).experiment).toBe('aud');
    const patched = await shelf.app.inject({
      method: 'PATCH',
      url: `/v1/users/${member}`,
      headers: as(SHOP),
      payload: { consent: { personalization: false } },
    });
    expect(patched.statusCode).toBe(200);
    expect((await home(member)).experiment).toBeUndefined();
    await stop('aud');
  });

  it('changes shares of a running experiment moving only the visitors whose buckets change hands', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => `visitor-${i}`);
    await run(
      {
        id: 'shares',
        name: 'shares',
        tiers: ['homepage'],
        unit: 'user',
        variants: [
          { name: 'a', share: 1 / 3, config: {} },
          { name: 'b', share: 1 / 3, config: { weights: { trending: 2 } } },
          { name: 'c', share: 1 / 3, config: { weights: { trending: 0 } } },
        ],
      },
      'shares',
    );
    // Assignment is what the router decides; a few through HTTP, the many straight from it.
    const variantOf = (u: string) => {
      const a = shelf.experimentRouter.assign('homepage', { userId: u });
      if (a instanceof Promise) throw new Error('no audience here: no segment look-up');
      return a?.variant;
    };
    const before = many.map(variantOf);
    for (const u of users.slice(0, 10)) expect((await home(u)).variant).toBe(variantOf(u));
    const bad = await admin('POST', '/v1/admin/experiments/shares/shares', {
      variants: [
        { name: 'a', share: 0.5 },
        { name: 'z', share: 0.5 },
      ],
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/variants\/1\/name: "z" is not a variant.*missing b, c/);
    const none = await admin('POST', '/v1/admin/experiments/shares/shares', {
      variants: [
        { name: 'c', share: 0.49999 },
        { name: 'b', share: 0.00001 },
        { name: 'a', share: 0.5 },
      ],
    });
    expect(none.statusCode).toBe(400);
    expect(none.json().message).toMatch(/variants\/1\/share: gives the variant none of the 10000 buckets/);
    const changed = await admin('POST', '/v1/admin/experiments/shares/shares', {
      variants: [
        { name: 'a', share: 0.4 },
        { name: 'b', share: 0.3 },
        { name: 'c', share: 0.3 },
      ],
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().variants.map((v: { share: number }) => v.share)).toEqual([0.4, 0.3, 0.3]);
    const after = many.map(variantOf);
    const moved = after.filter((v, i) => v !== before[i]);
    // Only visitors moving into `a` (1/15 of them); contiguous re-cut ranges would move 1/10.
    expect(moved.every((v) => v === 'a')).toBe(true);
    expect(moved.length / many.length).toBeGreaterThan(0.045);
    expect(moved.length / many.length).toBeLessThan(0.09);
    expect(after.filter((v) => v === 'a').length / many.length).toBeCloseTo(0.4, 1);
    for (const u of users.slice(0, 10)) expect((await home(u)).variant).toBe(variantOf(u));
    await stop('shares');
    const late = await admin('POST', '/v1/admin/experiments/shares/shares', {
      variants: [
        { name: 'a', share: 0.5 },
        { name: 'b', share: 0.25 },
        { name: 'c', share: 0.25 },
      ],
    });
    expect(late.statusCode).toBe(409);
  });

  it('serves an exploration arm with its propensity on the impression, never inside an experiment', async () => {
    const explore = await createShelf(
      {
        ...config,
        adaptive: {
          seed: 4,
          tiers: {
            homepage: {
              mode: 'explore',
              arms: { pop: { weights: { vector: 0, neighbours: 0, ease: 0, trending: 1 } } },
              reward: 'click',
              floor: 0.05,
              everyMs: 900_000,
              minImpressions: 100,
              exploration: 0.5,
              positions: true,
            },
          },
        },
      },
      log,
      { store, registry, now: () => NOW },
    );
    try {
      const ids: string[] = [];
      for (const u of users.slice(0, 60)) {
        const r = await explore.app.inject({
          url: `/v1/recommendations/homepage?userId=${u}&limit=8`,
          headers: as(SHOP),
        });
        expect(r.statusCode).toBe(200);
        ids.push(r.json().recommendationId);
      }
      await explore.impressions.flush();
      const imps = await store.impressions(ids);
      const byConfig = new Map<string, number[]>();
      for (const i of imps) byConfig.set(i.config, [...(byConfig.get(i.config) ?? []), i.probability]);
      // Default with 1 − ε + ε/2 = 0.75, the preset with ε/2 = 0.25, each logged with its chance.
      expect(new Set(byConfig.get('adaptive:homepage:default'))).toEqual(new Set([0.75]));
      expect(new Set(byConfig.get('adaptive:homepage:pop'))).toEqual(new Set([0.25]));
      expect(byConfig.get('adaptive:homepage:pop')!.length).toBeGreaterThan(5);
      expect(byConfig.get('adaptive:homepage:default')!.length).toBeGreaterThan(30);
      // Per position, which arms would have shown the item there: each arm's list asked of the
      // engine on its own must agree with the masks, bit by bit.
      const arms = ['adaptive:homepage:default', 'adaptive:homepage:pop'];
      let agreeing = 0;
      let differing = 0;
      for (const i of imps.slice(0, 20)) {
        expect(i.positions).toMatchObject({ arms, probabilities: [0.75, 0.25] });
        const r: RecommendRequest = { tier: 'homepage', userId: i.userId!, limit: 8 };
        explore.adaptive.route(r, explore.engine.defaultConfig('homepage')!);
        const lists = await Promise.all(
          r.arms!.configs.map(async (config) => {
            const { arms: _, ...alone } = r;
            return (await explore.engine.recommend({ ...alone, config })).items;
          }),
        );
        expect(r.arms!.configs.map((c) => c.name)).toEqual(arms);
        expect(i.positions!.masks).toEqual(
          i.itemIds.map((id, k) => lists.reduce((m, l, a) => (l[k]?.itemId === id ? m | (1 << a) : m), 0)),
        );
        // The arm that served it always agrees with itself.
        const own = 1 << arms.indexOf(i.config);
        expect(i.positions!.masks.every((m) => (m & own) !== 0)).toBe(true);
        agreeing += i.positions!.masks.filter((m) => m === 3).length;
        differing += i.positions!.masks.filter((m) => m !== 3).length;
      }
      // Not a vacuous comparison: the arms agree at some positions and differ at others.
      expect(agreeing).toBeGreaterThan(0);
      expect(differing).toBeGreaterThan(0);
      const split = await explore.app.inject({ url: '/v1/admin/adaptive', headers: as(ADMIN) });
      expect(split.json()).toEqual({
        tiers: { homepage: { arms: ['default', 'pop'], probabilities: [0.75, 0.25] } },
      });
      // Another tier has no policy: no propensity below 1.
      const other = await explore.app.inject({
        url: `/v1/recommendations/personalized?userId=${users[0]}&limit=4`,
        headers: as(SHOP),
      });
      await explore.impressions.flush();
      const deterministic = (await store.impressions([other.json().recommendationId]))[0]!;
      expect(deterministic).toMatchObject({ config: 'default', probability: 1 });
      expect(deterministic.positions).toBeUndefined();
      // A visitor in a running experiment keeps the variant's configuration, with propensity 1.
      const ex = {
        id: 'with-explore',
        name: 'x',
        tiers: ['homepage'],
        unit: 'user',
        variants: [
          { name: 'control', share: 0.5, config: {} },
          { name: 'b', share: 0.5, config: { weights: { trending: 2 } } },
        ],
      };
      const adm = (url: string, payload?: object) =>
        explore.app.inject({ method: 'POST', url, headers: as(ADMIN), ...(payload ? { payload } : {}) });
      expect((await adm('/v1/admin/experiments', ex)).statusCode).toBe(201);
      expect((await adm('/v1/admin/experiments/with-explore/start')).statusCode).toBe(200);
      const inIt: string[] = [];
      for (const u of users.slice(0, 20)) {
        const r = await explore.app.inject({
          url: `/v1/recommendations/homepage?userId=${u}&limit=8`,
          headers: as(SHOP),
        });
        inIt.push(r.json().recommendationId);
      }
      await explore.impressions.flush();
      for (const i of await store.impressions(inIt)) {
        expect(i.experiment).toBe('with-explore');
        expect(i.config).toBe(`with-explore:${i.variant}`);
        expect(i.probability).toBe(1);
      }
      expect((await adm('/v1/admin/experiments/with-explore/stop')).statusCode).toBe(200);
    } finally {
      await explore.close();
    }
  });

  // A shipped variant naming a modelVersion kept its tiers on that version for good: a promotion
  // never reached them, the version stayed loaded, and /readyz named only the current one.
  it('says which tier a shipped variant pins to an older version, and unships it back to the current one', async () => {
    // Another replica over the same store and registry: it learns of all this from the feed.
    const replica = await createShelf(config, log, { store, registry, now: () => NOW });
    try {
      const shelves = [shelf, replica];
      const ask = async (s: Shelf, tier: string) => {
        const r = await s.app.inject({
          url: `/v1/recommendations/${tier}?userId=${users[0]}&limit=8`,
          headers: as(SHOP),
        });
        expect(r.statusCode).toBe(200);
        return (r.json() as Answer).modelVersion;
      };
      const readyz = async (s: Shelf) => (await s.app.inject({ url: '/readyz' })).json() as object;
      expect(shelf.engine.version).toBe(v1);
      await run(onVersion('pin', v1), 'pin');
      expect((await admin('POST', '/v1/admin/experiments/pin/ship', { variant: 'next' })).statusCode).toBe(
        200,
      );
      expect((await admin('POST', `/v1/admin/models/${v2}/promote?force=true`)).statusCode).toBe(200);
      await replica.changes.catchUp();
      for (const s of shelves) {
        expect(s.engine.version).toBe(v2);
        // Pinned: the shipped tier stays on v1, another tier follows the promotion.
        expect(await ask(s, 'homepage')).toBe(v1);
        expect(await ask(s, 'personalized')).toBe(v2);
        expect(await readyz(s)).toEqual({
          ready: true,
          modelVersion: v2,
          store: true,
          pinned: { homepage: v1 },
        });
      }
      expect(versionsServed(await store.experiments())).toEqual([v1]);

      const unshipped = await admin('POST', '/v1/admin/experiments/pin/unship');
      expect(unshipped.statusCode).toBe(200);
      expect(unshipped.json()).toMatchObject({ state: 'stopped', shipped: null });
      await replica.changes.catchUp();
      expect(versionsServed(await store.experiments())).toEqual([]);
      for (const s of shelves) {
        expect(await ask(s, 'homepage')).toBe(v2);
        expect(await readyz(s)).toEqual({ ready: true, modelVersion: v2, store: true });
        // v1 is no longer held beside the current version.
        expect(s.engine.defaultConfig('homepage', v1)).toBeNull();
      }
    } finally {
      await replica.close();
    }
  });
});
