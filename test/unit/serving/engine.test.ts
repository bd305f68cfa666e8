import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import type { AnswerCacheOptions } from '../../../src/serving/answer-cache.ts';
import { Engine } from '../../../src/serving/engine.ts';
import type {
  Impression,
  RecommendRequest,
  ServingConfig,
  Tier,
  TierConfig,
} from '../../../src/serving/types.ts';
import { DEFAULT_SERVING_CONFIG, TIERS, tierConfig } from '../../../src/serving/types.ts';
import { DEFAULT_ROTATION } from '../../../src/realtime/rotation.ts';
import type { RotationPolicy } from '../../../src/realtime/rotation.ts';
import { loadServingModel } from '../../../src/serving/serving-model.ts';
import { versionRulesFile } from '../../../src/serving/version-rules.ts';
import { VERSION_FILES } from '../../../src/registry/version-files.ts';
import { EVENT_WEIGHTS } from '../../../src/store/event-weights.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, ShelfEvent, Store } from '../../../src/store/types.ts';
import { trainVersion } from '../../../training/publish.ts';

const log = pino({ level: 'silent' });
const NOW = Date.UTC(2025, 0, 15, 12);

describe('serving engine on a generated storefront', () => {
  let dir: string;
  let store: Store;
  let registry: ModelRegistry;
  let items: Item[];
  let users: string[];
  let versions: string[];
  const impressions: Impression[] = [];

  let clock = NOW;
  /** Rotation off unless a test turns it on: most tests ask the same list again and again. */
  const engine = (
    config: ServingConfig = DEFAULT_SERVING_CONFIG,
    answerCache?: AnswerCacheOptions,
    rotation: RotationPolicy = { ...DEFAULT_ROTATION, shows: 0 },
  ) =>
    new Engine({
      store,
      realtime: new MemoryRealtime({ rotation }),
      registry,
      log,
      config,
      now: () => clock,
      onImpression: (i) => impressions.push(i),
      ...(answerCache ? { answerCache } : {}),
    });
  const byId = (id: string) => items.find((i) => i.itemId === id)!;
  const leaf = (id: string) => byId(id).categories[0]!;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-serving-'));
    store = await openSqliteStore(':memory:');
    registry = new ModelRegistry(join(dir, 'models'));
    const sf = generateStorefront({ seed: 11, items: 400, users: 500, events: 40_000, now: NOW });
    await exportStorefront(sf, { store });
    items = sf.items;
    users = sf.users.map((u) => u.userId);
    versions = [];
    for (const seed of [1, 2]) {
      versions.push(
        (await trainVersion({ store, registry, recipe: { factors: 16, iterations: 8 }, seed, log })).manifest
          .version,
      );
    }
    await registry.promote(versions[0]!);
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const someItem = () => items.find((i) => i.status === 'active' && i.stock !== 0)!.itemId;
  const request = (tier: Tier, over: Partial<RecommendRequest> = {}): RecommendRequest => ({
    tier,
    userId: users[3],
    ...(tier === 'similar' ? { itemId: someItem() } : {}),
    ...(tier === 'cart' ? { cartItemIds: [someItem()] } : {}),
    ...(tier === 'category' ? { category: leaf(someItem()).split(' > ')[0] } : {}),
    ...over,
  });

  it('answers every tier with an id, the model version, scores and reasons, and records an impression', async () => {
    const e = engine();
    await e.swap();
    for (const tier of TIERS) {
      const r = await e.recommend(request(tier, { limit: 12 }));
      expect(r.recommendationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.modelVersion).toBe(versions[0]);
      expect(r.items.length).toBeGreaterThan(5);
      expect(r.items.length).toBeLessThanOrEqual(12);
      expect(new Set(r.items.map((i) => i.itemId)).size).toBe(r.items.length);
      for (const item of r.items) expect(item.reason.length).toBeGreaterThan(3);
      expect(impressions.at(-1)).toMatchObject({
        recommendationId: r.recommendationId,
        tier,
        itemIds: r.items.map((i) => i.itemId),
      });
    }
  });

  it('answers the same lists with a search memo (evaluation engines), through stock changes', async () => {
    const off = { ttlMs: 0, entries: 0 };
    const plain = engine(DEFAULT_SERVING_CONFIG, off);
    const memo = new Engine({
      store,
      realtime: new MemoryRealtime({ rotation: { ...DEFAULT_ROTATION, shows: 0 } }),
      registry,
      log,
      now: () => clock,
      answerCache: off,
      searchMemo: 50,
    });
    await Promise.all([plain.swap(), memo.swap()]);
    const ask = async (e: Engine) => {
      const out: string[][] = [];
      for (const tier of ['personalized', 'homepage', 'similar'] as const)
        for (const userId of users.slice(0, 30))
          out.push(
            (await e.recommend({ tier, userId, limit: 10, itemId: items[3]!.itemId })).items.map(
              (i) => i.itemId,
            ),
          );
      return out;
    };
    const expected = await ask(plain);
    expect(await ask(memo)).toEqual(expected);
    expect(await ask(memo)).toEqual(expected); // from memory
    // An item out of stock leaves every list, remembered or not.
    const gone = expected[0]![0]!;
    const change = { ...byId(gone), stock: 0 };
    for (const e of [plain, memo]) e.updateItems([change]);
    const after = await ask(plain);
    expect(after.flat()).not.toContain(gone);
    expect(await ask(memo)).toEqual(after);
    for (const e of [plain, memo]) e.updateItems([byId(gone)]);
  });

  it('logs a swap as what it was: none yet, a new version, the same one reloaded', async () => {
    const lines: string[] = [];
    const heard = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const e = new Engine({ store, realtime: new MemoryRealtime(), registry, log: heard, now: () => clock });
    const said = () => lines.splice(0).map((l) => JSON.parse(l) as { msg: string; version: string | null });
    await e.swap(null);
    expect(said()).toMatchObject([
      { msg: 'no model version yet: trending only, once serving', version: null },
    ]);
    await e.swap(versions[0]!);
    await e.swap(versions[0]!);
    expect(said()).toMatchObject([
      { msg: 'model swapped in', version: versions[0] },
      { msg: 'model reloaded', version: versions[0] },
    ]);
  });

  it('swaps in the current version it was never told of, and retries one that failed to load a minute later', async () => {
    const e = engine();
    await e.swap();
    expect(await e.followCurrent(60_000)).toBe(false);
    // Made current by a process that died before it logged the change: no change applied here.
    await registry.promote(versions[1]!);
    try {
      expect(await e.followCurrent(60_000)).toBe(true);
      expect(e.version).toBe(versions[1]);
      expect(await e.followCurrent(60_000)).toBe(false);
      // The previous version back, its item factors unreadable here for a while.
      const factors = join(dir, 'models', versions[0]!, VERSION_FILES.itemFactors);
      await rename(factors, `${factors}.away`);
      await registry.promote(versions[0]!);
      await expect(e.followCurrent(60_000)).rejects.toThrow();
      expect(e.version).toBe(versions[1]);
      await rename(`${factors}.away`, factors);
      clock += 59_000;
      expect(await e.followCurrent(60_000)).toBe(false);
      clock += 2_000;
      expect(await e.followCurrent(60_000)).toBe(true);
      expect(e.version).toBe(versions[0]);
      expect((await e.recommend(request('personalized'))).modelVersion).toBe(versions[0]);
    } finally {
      await registry.promote(versions[0]!);
      clock = NOW;
    }
  });

  it("gives npm start's examples a category the catalogue has, past items without one", async () => {
    const e = engine();
    await e.swap();
    const first = e.example();
    const firstItem = byId(first.itemId!);
    expect(first.category).toBe(firstItem.categories[0]!.split(' > ')[0]);
    // The first item uncategorised: the category comes from the next one with a category.
    e.updateItems([{ ...firstItem, categories: [] }]);
    const { category } = e.example();
    expect(category).toBeDefined();
    expect((await e.recommend({ tier: 'category', category: category!, limit: 5 })).items).toHaveLength(5);
    e.updateItems([firstItem]);
  });

  it('never returns out-of-stock or delisted items, nor more than N per category', async () => {
    const e = engine();
    await e.swap();
    const max = DEFAULT_SERVING_CONFIG.tiers.personalized.maxPerCategory;
    for (const userId of users.slice(0, 60)) {
      for (const tier of ['homepage', 'personalized'] as const) {
        const r = await e.recommend({ tier, userId, limit: 30 });
        const perCategory = new Map<string, number>();
        for (const { itemId } of r.items) {
          const item = byId(itemId);
          expect(item.status).toBe('active');
          expect(item.stock).not.toBe(0);
          perCategory.set(leaf(itemId), (perCategory.get(leaf(itemId)) ?? 0) + 1);
        }
        expect(Math.max(...perCategory.values())).toBeLessThanOrEqual(max);
      }
    }
  });

  it('keeps category lists inside the subtree and honours request filters and exclusions', async () => {
    const e = engine();
    await e.swap();
    const department = leaf(someItem()).split(' > ')[0]!;
    const r = await e.recommend({ tier: 'category', category: department, userId: users[5], limit: 20 });
    expect(r.items.length).toBeGreaterThan(5);
    for (const { itemId } of r.items) expect(leaf(itemId).startsWith(department + ' > ')).toBe(true);
    const excluded = r.items.slice(0, 3).map((i) => i.itemId);
    const cheap = await e.recommend({
      tier: 'category',
      category: department,
      userId: users[5],
      exclude: excluded,
      filters: { maxPrice: 30 },
    });
    for (const { itemId } of cheap.items) {
      expect(excluded).not.toContain(itemId);
      expect(byId(itemId).price).toBeLessThanOrEqual(30);
    }
    const similar = await e.recommend(request('similar'));
    expect(similar.items.map((i) => i.itemId)).not.toContain(request('similar').itemId);
  });

  it('puts a pinned promotion in its slot and a new arrival in the exposure slot', async () => {
    const pinned = items.filter((i) => i.status === 'active' && i.stock !== 0)[10]!.itemId;
    const e = engine({ ...DEFAULT_SERVING_CONFIG, pins: [{ itemId: pinned, slot: 1, tiers: ['homepage'] }] });
    await e.swap();
    const fresh: Item = {
      ...byId(someItem()),
      itemId: 'brand-new',
      title: 'Brand new mug',
      publishedAt: NOW - 3_600_000,
      stock: 5,
    };
    await store.upsertItems([fresh]);
    e.updateItems([fresh]);
    const r = await e.recommend({ tier: 'homepage', userId: users[8], limit: 10 });
    expect(r.items[1]).toMatchObject({ itemId: pinned, reason: 'promoted' });
    expect(r.items[DEFAULT_SERVING_CONFIG.tiers.homepage.newItemSlot]).toMatchObject({
      reason: 'new arrival',
    });
    const slotItem = r.items[DEFAULT_SERVING_CONFIG.tiers.homepage.newItemSlot]!.itemId;
    const published = slotItem === fresh.itemId ? fresh.publishedAt : byId(slotItem).publishedAt;
    expect(NOW - published).toBeLessThan(72 * 3_600_000);
    // Explain's bar to beat is the lowest the ranking placed, not the pin's or the new arrival's.
    const ranked = r.items.filter((i) => i.reason !== 'promoted' && i.reason !== 'new arrival');
    const why = await e.explain({ tier: 'homepage', userId: users[8], limit: 10 }, 'not-an-item');
    expect(why.lowestShown).toBeCloseTo(Math.min(...ranked.map((i) => i.score)), 3);
    expect(why.lowestShown).toBeGreaterThan(0);
  });

  it('serves an item published in the future from its publishedAt on, not before', async () => {
    const e = engine();
    await e.swap();
    const req = { tier: 'personalized' as const, userId: users[12], limit: 10 };
    const top = (await e.recommend(req)).items[0]!.itemId;
    const at = clock + 3_600_000;
    e.updateItems([{ ...byId(top), publishedAt: at }]);
    try {
      for (const tier of TIERS) {
        const r = await e.recommend(request(tier, { userId: users[12], limit: 20 }));
        expect(r.items.map((i) => i.itemId)).not.toContain(top);
      }
      expect(await e.explain(req, top)).toMatchObject({
        shown: false,
        stage: 'filters',
        reason: `not published until ${new Date(at).toISOString()}`,
      });
      clock = at;
      const r = await e.recommend(req);
      expect(r.items.map((i) => i.itemId)).toContain(top);
    } finally {
      e.updateItems([byId(top)]);
      clock = NOW;
    }
  });

  it('drops an item from the next answer when its stock runs out', async () => {
    const e = engine();
    await e.swap();
    const before = await e.recommend({ tier: 'personalized', userId: users[9], limit: 10 });
    const gone = { ...byId(before.items[0]!.itemId), stock: 0 };
    e.updateItems([gone]);
    const after = await e.recommend({ tier: 'personalized', userId: users[9], limit: 10 });
    expect(after.items.map((i) => i.itemId)).not.toContain(gone.itemId);
    e.updateItems([{ ...gone, stock: 3 }]);
  });

  it('never re-recommends what the user just bought unless it is repurchasable', async () => {
    const e = engine();
    await e.swap();
    const userId = users[12]!;
    const first = await e.recommend({ tier: 'personalized', userId, limit: 20 });
    const bought = first.items.slice(0, 5).map((i) => byId(i.itemId));
    const events: ShelfEvent[] = bought.map((item, k) => ({
      eventId: `buy-${k}`,
      type: 'purchase',
      userId,
      itemId: item.itemId,
      timestamp: NOW - 1000 + k,
    }));
    await store.insertEvents(events);
    await e.ingest(events);
    const next = await e.recommend({ tier: 'personalized', userId, limit: 20 });
    for (const item of bought) {
      if (!item.repurchasable) expect(next.items.map((i) => i.itemId)).not.toContain(item.itemId);
    }
  });

  it("keeps an anonymous session's purchase out after a restart (real-time state in memory)", async () => {
    const sessionId = 'anon-buyer';
    const before = engine();
    await before.swap();
    for (const tier of ['homepage', 'personalized'] as const) {
      const shown = await before.recommend({ tier, sessionId, limit: 20 });
      const bought = shown.items.find((i) => byId(i.itemId)?.repurchasable === false)!;
      const purchase: ShelfEvent = {
        eventId: `anon-buy-${tier}`,
        type: 'purchase',
        sessionId,
        itemId: bought.itemId,
        timestamp: NOW - 500,
      };
      await store.insertEvents([purchase]);
      await before.ingest([purchase]);
      const ids = async (e: Engine) =>
        (await e.recommend({ tier, sessionId, limit: 20 })).items.map((i) => i.itemId);
      expect(await ids(before)).not.toContain(bought.itemId);
      // A new engine over the same store, its real-time state empty: an embedded server restarted.
      const after = engine();
      await after.swap();
      expect(await ids(after)).not.toContain(bought.itemId);
    }
  });

  it("keeps a session's purchase out however many events follow it", async () => {
    const sessionId = 'anon-long-visit';
    const e = engine();
    await e.swap();
    const shown = await e.recommend({ tier: 'homepage', sessionId, limit: 20 });
    const bought = shown.items.find((i) => byId(i.itemId)?.repurchasable === false)!.itemId;
    const others = items.filter((i) => i.itemId !== bought && i.status === 'active').slice(0, 60);
    const events: ShelfEvent[] = [
      { eventId: 'long-buy', type: 'purchase', sessionId, itemId: bought, timestamp: NOW - 10_000 },
      ...others.map((item, k) => ({
        eventId: `long-view-${k}`,
        type: 'view' as const,
        sessionId,
        itemId: item.itemId,
        timestamp: NOW - 9_000 + k,
      })),
    ];
    await store.insertEvents(events);
    await e.ingest(events);
    // Sixty views later the purchase is out of the session's recent history (50 events).
    const why = await e.explain({ tier: 'homepage', sessionId, limit: 20 }, bought);
    expect(why.stage).toBe('filters');
    expect(why.reason).toContain('purchase');
    const fresh = engine();
    await fresh.swap();
    expect((await fresh.explain({ tier: 'homepage', sessionId, limit: 20 }, bought)).stage).toBe('filters');
  });

  it('folds in fresh views: three views of a category put it first on the next call', async () => {
    const e = engine();
    await e.swap();
    const sessionId = 'anon-fold-in';
    const cold = await e.recommend({ tier: 'personalized', sessionId, limit: 5 });
    const target = leaf(someItem());
    const department = target.split(' > ')[0]!;
    const viewed = items
      .filter((i) => leaf(i.itemId).startsWith(department) && i.status === 'active')
      .slice(0, 3);
    const events: ShelfEvent[] = viewed.map((item, k) => ({
      eventId: `view-${k}`,
      type: 'view',
      sessionId,
      itemId: item.itemId,
      timestamp: NOW - 500 + k,
    }));
    await e.ingest(events);
    const warm = await e.recommend({ tier: 'personalized', sessionId, limit: 5 });
    expect(warm.items.map((i) => i.itemId)).not.toEqual(cold.items.map((i) => i.itemId));
    expect(leaf(warm.items[0]!.itemId).startsWith(department)).toBe(true);
  });

  it('serves users without consent, cold users and deleted users without personalization', async () => {
    const e = engine();
    await e.swap();
    const userId = users[20]!;
    await store.upsertUsers([
      { userId, attributes: {}, createdAt: NOW, consent: { personalization: false } },
    ]);
    await e.usersChanged([userId], [userId]);
    const r = await e.recommend({ tier: 'personalized', userId, limit: 10 });
    expect(r.items.length).toBe(10);
    expect(r.items.every((i) => i.reason.startsWith('trending') || i.reason === 'new arrival')).toBe(true);
    const stranger = await e.recommend({ tier: 'homepage', userId: 'never-seen', limit: 10 });
    expect(stranger.items.length).toBe(10);
    const known = users[21]!;
    const personal = await e.recommend({ tier: 'personalized', userId: known, limit: 10 });
    const cold = await e.recommend({ tier: 'personalized', userId: 'never-seen', limit: 10 });
    await store.deleteUser(known);
    await e.forgetUser(known);
    const afterDelete = await e.recommend({ tier: 'personalized', userId: known, limit: 10 });
    expect(afterDelete.items).toEqual(cold.items);
    expect(afterDelete.items).not.toEqual(personal.items);
  });

  // Seen with two replicas: after DELETE /v1/users/14, each request for user 14 stored an
  // impression naming them and their rotation state, on the replica that erased and the other.
  it("stores nothing of an erased user's later requests, erased here, elsewhere or before a restart", async () => {
    const realtime = new MemoryRealtime({ rotation: { ...DEFAULT_ROTATION, shows: 1 } });
    const seen: Impression[] = [];
    const make = async () => {
      const e = new Engine({
        store,
        realtime,
        registry,
        log,
        now: () => clock,
        onImpression: (i) => seen.push(i),
      });
      await e.swap();
      return e;
    };
    const [here, elsewhere, kept] = [users[32]!, users[33]!, users[34]!];
    const e = await make();
    await store.deleteUser(here);
    await e.forgetUser(here);
    // Erased through another replica, or before this engine started: only the store knows.
    await store.deleteUser(elsewhere);
    const restarted = await make();
    for (const [engine, userId, erased] of [
      [e, here, true],
      [e, elsewhere, true],
      [restarted, here, true],
      [restarted, kept, false],
    ] as const) {
      const r = await engine.recommend({ tier: 'personalized', userId, limit: 10 });
      expect(r.items).toHaveLength(10);
      await new Promise((resolve) => setImmediate(resolve)); // rotation is recorded without waiting
      expect(seen.find((i) => i.recommendationId === r.recommendationId)!.userId).toBe(
        erased ? undefined : userId,
      );
      // One show demotes (shows: 1): nothing is kept of an erased user.
      expect((await realtime.rotation.demoted({ userId }, clock)).size).toBe(erased ? 0 : 10);
    }
  });

  it("erases a deleted user from trending's cap; consent withdrawn keeps them capped", async () => {
    const realtime = new MemoryRealtime({ rotation: { ...DEFAULT_ROTATION, shows: 0 } });
    const e = new Engine({ store, realtime, registry, log, now: () => clock });
    const [erased, withdrawn] = [users[30]!, users[31]!];
    const view = (userId: string) => ({
      visitor: `u:${userId}`,
      itemId: items[0]!.itemId,
      type: 'view' as const,
      timestamp: clock - 1000,
      weight: 1,
    });
    expect(await realtime.trending.add([view(erased), view(withdrawn)], clock)).toBe(2);
    await e.forgetUser(erased);
    await e.usersChanged([withdrawn], [withdrawn]);
    expect(await realtime.trending.add([view(erased), view(withdrawn)], clock)).toBe(1);
  });

  it("serves a visitor without history their segment's list first, within the filters", async () => {
    const e = engine();
    await e.swap();
    const available = items.filter((i) => i.status === 'active' && i.stock !== 0);
    const department = leaf(available[0]!.itemId).split(' > ')[0]!;
    const inDepartment = available.filter((i) => i.categories[0]!.startsWith(department));
    const elsewhere = available.filter((i) => !i.categories[0]!.startsWith(department));
    const soldOut = items.find((i) => i.stock === 0)!;
    // Best first: one sold-out item, two outside the department, three inside.
    const newcomers = [soldOut, elsewhere[0]!, elsewhere[1]!, ...inDepartment.slice(0, 3)].map((i, r) => ({
      itemId: i.itemId,
      score: 10 - r,
    }));
    const none = { items: { new: [], active: [], high_value: [], churning: [], churned: [] } };
    e.setSegmentTrending({ items: { ...none.items, new: newcomers } });
    const first = (r: { items: readonly { itemId: string; reason: string }[] }, n: number) =>
      r.items.filter((i) => i.reason !== 'new arrival').slice(0, n);

    const ids = (r: { items: readonly { itemId: string }[] }) => r.items.map((i) => i.itemId);
    const home = await e.recommend({ tier: 'homepage', sessionId: 'first-visit', limit: 10 });
    expect(first(home, 1)[0]!.itemId).toBe(newcomers[1]!.itemId);
    expect(first(home, 1)[0]!.reason).toBe('popular with new customers');
    // Scores are min-max scaled per list, so the list's last items weigh little against trending.
    expect(ids(home)).toEqual(expect.arrayContaining(newcomers.slice(1, 4).map((n) => n.itemId)));
    expect(ids(home)).not.toContain(soldOut.itemId);
    expect(home.items.some((i) => i.reason.startsWith('trending'))).toBe(true);

    const category = await e.recommend({
      tier: 'category',
      userId: 'never-seen-2',
      category: department,
      limit: 10,
    });
    expect(first(category, 1)[0]!.itemId).toBe(inDepartment[0]!.itemId);
    expect(ids(category)).toEqual(expect.arrayContaining(inDepartment.slice(0, 2).map((i) => i.itemId)));
    expect(ids(category)).not.toContain(elsewhere[0]!.itemId);

    // Known users, users without consent and page-driven tiers are not cold: no segment list.
    const known = await e.recommend({ tier: 'personalized', userId: users[4]!, limit: 10 });
    const similar = await e.recommend({
      tier: 'similar',
      itemId: someItem(),
      sessionId: 'first-visit',
      limit: 10,
    });
    for (const r of [known, similar])
      expect(r.items.some((i) => i.reason === 'popular with new customers')).toBe(false);

    // Without lists: storefront trending, as before.
    e.setSegmentTrending(none);
    const plain = await e.recommend({ tier: 'homepage', sessionId: 'first-visit-2', limit: 10 });
    expect(plain.items.every((i) => i.reason.startsWith('trending') || i.reason === 'new arrival')).toBe(
      true,
    );
  });

  it('serves a brand-new item through its content vector from its first minute', async () => {
    const e = engine();
    await e.swap();
    const twin = byId(someItem());
    const fresh: Item = { ...twin, itemId: 'cold-twin', publishedAt: NOW - 10 * 86_400_000 };
    await store.upsertItems([fresh]);
    e.updateItems([fresh]);
    const r = await e.recommend({ tier: 'similar', itemId: 'cold-twin', limit: 10 });
    expect(r.items.length).toBeGreaterThan(0);
    expect(r.items[0]!.reason).toMatch(/^similar to "/);
  });

  it('swaps versions under concurrent requests with zero failures', async () => {
    const e = engine();
    await e.swap(versions[0]!);
    const outcomes: PromiseSettledResult<{ modelVersion: string | null }>[] = [];
    const burst = async (n: number) => {
      const batch = [];
      for (let k = 0; k < n; k++) {
        batch.push(
          e.recommend({
            tier: k % 2 ? 'personalized' : 'homepage',
            userId: users[k % users.length],
            limit: 10,
          }),
        );
      }
      outcomes.push(...(await Promise.allSettled(batch)));
      // Let I/O run between bursts, as requests arriving over HTTP would.
      await new Promise((resolve) => setImmediate(resolve));
    };
    for (const target of [versions[1]!, versions[0]!]) {
      let swapped = false;
      const swap = e.swap(target).then(() => (swapped = true));
      // Requests keep arriving while the next version loads, and after it is in.
      while (!swapped) await burst(10);
      await swap;
      await burst(10);
    }
    expect(outcomes.filter((r) => r.status === 'rejected')).toEqual([]);
    const served = outcomes.map(
      (r) => (r as PromiseFulfilledResult<{ modelVersion: string | null }>).value.modelVersion,
    );
    expect(new Set(served)).toEqual(new Set(versions));
    expect(served.length).toBeGreaterThan(40);
    expect(e.version).toBe(versions[0]);
  });

  it('applies an item change heard while the next version loads to that version', async () => {
    // The catalogue is read first; the version is served seconds later on a large catalogue
    // (the unseen items' vectors). A stock-out heard in between must not be lost.
    let itemsRead: (() => void) | null = null;
    const watched = new Proxy(store, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver) as unknown;
        if (key !== 'listItems' || typeof v !== 'function') return v;
        return async (...args: unknown[]) => {
          const page = (await (v as (...a: unknown[]) => Promise<Item[]>).apply(target, args)) as Item[];
          if (page.length === 0) itemsRead?.();
          return page;
        };
      },
    });
    const e = new Engine({
      store: watched,
      realtime: new MemoryRealtime({ rotation: { ...DEFAULT_ROTATION, shows: 0 } }),
      registry,
      log,
      now: () => clock,
      answerCache: { ttlMs: 0, entries: 0 },
      loadSliceMs: 0,
    });
    await e.swap(versions[0]!);
    const ask = { tier: 'similar' as const, itemId: someItem(), limit: 10 };
    const top = (await e.recommend(ask)).items[0]!.itemId;
    const read = new Promise<void>((r) => (itemsRead = r));
    const swap = e.swap(versions[0]!);
    await read;
    const gone = { ...byId(top), stock: 0 };
    await store.upsertItems([gone]);
    e.updateItems([gone]);
    await swap;
    try {
      expect((await e.recommend(ask)).items.map((i) => i.itemId)).not.toContain(top);
    } finally {
      await store.upsertItems([byId(top)]);
    }
  });

  it('reads a user without events from the store once, then learns their events from ingest', async () => {
    const e = engine(DEFAULT_SERVING_CONFIG, { ttlMs: 0, entries: 1 });
    await e.swap();
    const reads: string[] = [];
    const original = store.recentEvents.bind(store);
    store.recentEvents = (userId, limit) => {
      reads.push(userId);
      return original(userId, limit);
    };
    try {
      const cold = await e.recommend({ tier: 'personalized', userId: 'no-events-yet', limit: 5 });
      await e.recommend({ tier: 'personalized', userId: 'no-events-yet', limit: 5 });
      expect(reads).toEqual(['no-events-yet']);
      const department = leaf(someItem()).split(' > ')[0]!;
      const viewed = items.filter((i) => leaf(i.itemId).startsWith(department) && i.status === 'active');
      await e.ingest(
        viewed.slice(0, 3).map((item, k) => ({
          eventId: `first-${k}`,
          type: 'view' as const,
          userId: 'no-events-yet',
          itemId: item.itemId,
          timestamp: NOW - 100 + k,
        })),
      );
      const warm = await e.recommend({ tier: 'personalized', userId: 'no-events-yet', limit: 5 });
      expect(warm.items.map((i) => i.itemId)).not.toEqual(cold.items.map((i) => i.itemId));
      expect(reads).toEqual(['no-events-yet']);
    } finally {
      store.recentEvents = original;
    }
  });

  describe('reuse of recently computed lists', () => {
    const ids = (r: { items: readonly { itemId: string }[] }) => r.items.map((i) => i.itemId);

    it('answers a repeated request from the cache under a new recommendation id', async () => {
      const e = engine();
      await e.swap();
      const req = request('personalized', { userId: users[30], limit: 10 });
      const first = await e.recommend(req);
      const again = await e.recommend(req);
      expect(ids(again)).toEqual(ids(first));
      expect(again.recommendationId).not.toBe(first.recommendationId);
      expect(impressions.at(-1)!.recommendationId).toBe(again.recommendationId);
      expect(e.answerCacheStats()).toMatchObject({ hits: 1, misses: 1, size: 1 });
      // Another limit, tier or user is another list.
      await e.recommend({ ...req, limit: 5 });
      await e.recommend({ ...req, tier: 'homepage' });
      await e.recommend({ ...req, userId: users[31] });
      expect(e.answerCacheStats()).toMatchObject({ hits: 1, misses: 4, size: 4 });
    });

    it('computes anew after a fresh event, a swap, a deletion or the time to live', async () => {
      const e = engine(DEFAULT_SERVING_CONFIG, { ttlMs: 10_000, entries: 100 });
      await e.swap(versions[0]!);
      // Not users[33]: an earlier test erased it, and an erased user's events change no state.
      const userId = users[36]!;
      const req = request('personalized', { userId, limit: 10 });
      const misses = () => e.answerCacheStats().misses;
      await e.recommend(req);
      const view: ShelfEvent = {
        eventId: 'cache-v',
        type: 'view',
        userId,
        itemId: someItem(),
        timestamp: NOW,
      };
      await e.ingest([view]);
      await e.recommend(req);
      expect(misses()).toBe(2);
      await e.recommend(req);
      expect(misses()).toBe(2);
      // The swap computed the list on the new version before swapping it in: a hit.
      await e.swap(versions[1]!);
      expect((await e.recommend(req)).modelVersion).toBe(versions[1]);
      expect(misses()).toBe(2);
      clock = NOW + 10_001;
      try {
        await e.recommend(req);
        expect(misses()).toBe(3);
      } finally {
        clock = NOW;
      }
      const personal = await e.recommend(req);
      await e.forgetUser(userId);
      const after = await e.recommend(req);
      expect(misses()).toBe(5);
      expect(ids(after)).not.toEqual(ids(personal));
    });

    it('swaps a version in even when its lists cannot be warmed', async () => {
      const realtime = new MemoryRealtime({ rotation: { ...DEFAULT_ROTATION, shows: 0 } });
      const e = new Engine({ store, realtime, registry, log, now: () => clock });
      await e.swap(versions[0]!);
      const req = request('personalized', { userId: users[44], limit: 10 });
      await e.recommend(req);
      const recentNow = realtime.recentNow.bind(realtime);
      realtime.recentNow = () => {
        throw new Error('real-time state unreadable');
      };
      try {
        await e.swap(versions[1]!);
      } finally {
        realtime.recentNow = recentNow;
      }
      expect(e.version).toBe(versions[1]);
      expect((await e.recommend(req)).modelVersion).toBe(versions[1]);
    });

    it('computes the lists most recently used on a new version before swapping it in, as a request would', async () => {
      const e = engine();
      await e.swap(versions[0]!);
      const reqs = [
        request('personalized', { userId: users[40], limit: 10 }),
        request('homepage', { userId: users[41], limit: 8 }),
        request('similar', { userId: users[42] }),
        request('personalized', { sessionId: 'warm-s', userId: undefined }),
      ];
      for (const r of reqs) await e.recommend(r);
      const before = e.answerCacheStats();
      await e.swap(versions[1]!);
      const warmed = await Promise.all(reqs.map((r) => e.recommend(r)));
      expect(e.answerCacheStats()).toMatchObject({ hits: before.hits + reqs.length, misses: before.misses });
      const fresh = engine(DEFAULT_SERVING_CONFIG, { ttlMs: 0, entries: 0 });
      await fresh.swap(versions[1]!);
      for (const [k, r] of reqs.entries()) {
        expect(warmed[k]!.modelVersion).toBe(versions[1]);
        expect(ids(warmed[k]!)).toEqual(ids(await fresh.recommend(r)));
      }
    });

    it('never serves a cached item that went out of stock, out of the category or outside the filters', async () => {
      const e = engine();
      await e.swap();
      const department = leaf(someItem()).split(' > ')[0]!;
      const req = request('category', {
        userId: users[35],
        category: department,
        limit: 10,
        filters: { maxPrice: 1e6 },
      });
      const first = await e.recommend(req);
      const [a, b, c] = first.items.map((i) => byId(i.itemId));
      e.updateItems([{ ...a!, stock: 0 }]);
      const noA = await e.recommend(req);
      expect(ids(noA)).not.toContain(a!.itemId);
      e.updateItems([{ ...b!, categories: ['Elsewhere > Else'] }]);
      expect(ids(await e.recommend(req))).not.toContain(b!.itemId);
      e.updateItems([{ ...c!, price: 2e6 }]);
      expect(ids(await e.recommend(req))).not.toContain(c!.itemId);
      // A change to an item not in the list keeps the list.
      const hits = e.answerCacheStats().hits;
      const other = items.find((i) => !ids(first).includes(i.itemId) && i.stock !== 0)!;
      e.updateItems([{ ...other, price: (other.price ?? 1) + 1 }]);
      await e.recommend(req);
      expect(e.answerCacheStats().hits).toBe(hits + 1);
      e.updateItems([a!, b!, c!, other]);
    });

    it('holds at most the configured number of lists, and none when turned off', async () => {
      const e = engine(DEFAULT_SERVING_CONFIG, { ttlMs: 60_000, entries: 3 });
      await e.swap();
      for (const u of users.slice(40, 50)) await e.recommend(request('homepage', { userId: u }));
      expect(e.answerCacheStats().size).toBe(3);
      // The most recent three are kept.
      await e.recommend(request('homepage', { userId: users[49] }));
      expect(e.answerCacheStats().hits).toBe(1);
      const off = engine(DEFAULT_SERVING_CONFIG, { ttlMs: 0, entries: 100 });
      await off.swap();
      await off.recommend(request('homepage'));
      await off.recommend(request('homepage'));
      expect(off.answerCacheStats()).toMatchObject({ hits: 0, size: 0 });
    });
  });
  it('serves the configuration a request carries, its lists cached apart from the default', async () => {
    const e = engine(DEFAULT_SERVING_CONFIG, { ttlMs: 60_000, entries: 1000 });
    await e.swap();
    const trendingOnly: TierConfig = {
      ...tierConfig(DEFAULT_SERVING_CONFIG, 'homepage'),
      name: 'trending-only',
      weights: { vector: 0, neighbours: 0, complements: 0, trending: 1, ease: 0 },
      newItemSlot: -1,
    };
    const req: RecommendRequest = { tier: 'homepage', userId: users[4], limit: 10 };
    const standard = await e.recommend(req);
    expect(impressions.at(-1)!.config).toBe('default');
    const variant = await e.recommend({ ...req, config: trendingOnly });
    expect(impressions.at(-1)!.config).toBe('trending-only');
    expect(standard.items.map((i) => i.reason)).toContain('recommended for you');
    expect(new Set(variant.items.map((i) => i.reason))).toEqual(new Set(['trending now']));
    const again = await e.recommend({ ...req, config: trendingOnly });
    expect(again.items).toBe(variant.items);
    expect((await e.recommend(req)).items).toBe(standard.items);
  });
  it("serves a version's tuned rules by default, a request's configuration still first", async () => {
    // Version 0 again, with tuned rules that make the homepage trending only.
    const m = await registry.manifest(versions[0]!);
    const files: Record<string, Uint8Array> = {};
    for (const name of Object.keys(m.files)) files[name] = await registry.file(versions[0]!, name);
    const homepage = {
      ...DEFAULT_SERVING_CONFIG.tiers.homepage,
      weights: { vector: 0, neighbours: 0, complements: 0, trending: 1, ease: 0 },
      newItemSlot: -1,
    };
    files[VERSION_FILES.servingRules] = versionRulesFile({ homepage });
    const { schemaVersion: _s, version: _v, files: _f, createdAt: _c, ...meta } = m;
    const tuned = (await registry.create(meta, files)).version;

    const e = engine(DEFAULT_SERVING_CONFIG);
    const req: RecommendRequest = { tier: 'homepage', userId: users[4], limit: 10 };
    const reasons = async (r: RecommendRequest) => new Set((await e.recommend(r)).items.map((i) => i.reason));
    const personalized = async () =>
      (await e.recommend({ tier: 'personalized', userId: users[4], limit: 10 })).items.map((i) => i.itemId);
    await e.swap(versions[0]!);
    expect(await reasons(req)).toContain('recommended for you');
    const untuned = await personalized();
    await e.swap(tuned);
    // Trending only, and the engine's new-arrival slot: a version's rules never turn it off.
    expect(await reasons(req)).toEqual(new Set(['trending now', 'new arrival']));
    expect(impressions.at(-1)).toMatchObject({ config: 'default', modelVersion: tuned });
    expect(await reasons({ ...req, config: tierConfig(DEFAULT_SERVING_CONFIG, 'homepage') })).toContain(
      'recommended for you',
    );
    // A tier the version did not tune keeps the engine's rules.
    expect(await personalized()).toEqual(untuned);
    await e.swap(versions[0]!);
    expect(await reasons(req)).toContain('recommended for you');
  });
  it('serves a version with the event weights it records, and EASE lists for a small catalogue', async () => {
    expect((await loadServingModel(registry, versions[0]!)).eventWeights).toEqual(EVENT_WEIGHTS);
    const weights = { ...EVENT_WEIGHTS, view: 0.5, rating: 2 };
    const { manifest } = await trainVersion({
      store,
      registry,
      recipe: { factors: 8, iterations: 2, weights },
      seed: 3,
      log,
    });
    expect((await loadServingModel(registry, manifest.version)).eventWeights).toEqual(weights);
    // A catalogue of at most `easeMaxItems` gets EASE's lists; a larger one none.
    const small = await loadServingModel(registry, versions[0]!);
    expect(small.ease?.rows).toBe(small.itemIds.length);
    const large = await trainVersion({
      store,
      registry,
      recipe: { factors: 8, iterations: 2, easeMaxItems: 10 },
      seed: 3,
      log,
    });
    expect((await loadServingModel(registry, large.manifest.version)).ease).toBeNull();
  });

  it('explains the rules: the category cap, a pin and MMR, each with the scores involved', async () => {
    const e = engine();
    await e.swap();
    const userId = users[40]!;
    const base = tierConfig(DEFAULT_SERVING_CONFIG, 'personalized');
    const explainAll = async (config: typeof base) => {
      const out = [];
      for (const it of items.slice(0, 400))
        out.push(await e.explain({ tier: 'personalized', userId, limit: 8, config }, it.itemId));
      return out;
    };
    // One per category: an item kept out by the cap shares its category with exactly one listed item.
    const capped = (await explainAll({ ...base, maxPerCategory: 1, mmrLambda: 1, name: 'cap-1' })).filter(
      (x) => x.reason.startsWith('the category cap'),
    );
    expect(capped.length).toBeGreaterThan(0);
    for (const x of capped) {
      const same = x.items.filter((l) => leaf(l.itemId) === leaf(x.itemId));
      expect(same).toHaveLength(1);
      expect(x.score).not.toBeNull();
    }
    // A pin at slot 0 takes a place: the item the unpinned list had last is displaced (or capped).
    const plain = { ...base, maxPerCategory: 100, mmrLambda: 1, newItemSlot: -1, name: 'plain' };
    const list = (await e.recommend({ tier: 'personalized', userId, limit: 8, config: plain })).items;
    const pinned = items.find(
      (it) => it.status === 'active' && it.stock !== 0 && !list.some((l) => l.itemId === it.itemId),
    )!;
    const withPin = { ...plain, pins: [{ itemId: pinned.itemId, slot: 0 }], name: 'pinned' };
    const last = await e.explain(
      { tier: 'personalized', userId, limit: 8, config: withPin },
      list[7]!.itemId,
    );
    expect(last).toMatchObject({
      shown: false,
      stage: 'rules',
      reason: 'displaced by a pinned promotion or the new-arrival slot',
    });
    expect(last.items[0]!.itemId).toBe(pinned.itemId);
    // Strong diversity: some item above the lowest listed score is passed over by MMR.
    const diverse = await explainAll({ ...plain, mmrLambda: 0.3, name: 'mmr' });
    const passed = diverse.filter((x) => x.reason.startsWith('passed over for diversity'));
    expect(passed.length).toBeGreaterThan(0);
    expect(passed.some((x) => x.score! > x.lowestShown!)).toBe(true);
    // Ranking is blamed only for an item below everything the ranking listed: one that outscored
    // a listed item was passed over by MMR, however many scored above it (a trial's "40
    // candidates scored higher" for an item above four of those shown).
    const blamed = diverse.filter((x) => x.stage === 'ranking' && x.score !== null);
    expect(blamed.length).toBeGreaterThan(0);
    for (const x of blamed) expect(x.score!, x.itemId).toBeLessThanOrEqual(x.lowestShown!);
  });

  it('rotates: an item shown three times without engagement is demoted for a while; a click ends its streak', async () => {
    const e = engine(DEFAULT_SERVING_CONFIG, { ttlMs: 60_000, entries: 1000 }, DEFAULT_ROTATION);
    await e.swap();
    const userId = users[60]!;
    const ask = async () => (await e.recommend({ tier: 'personalized', userId, limit: 10 })).items;
    const first = await ask();
    const top = first[0]!;
    await ask();
    await new Promise((r) => setTimeout(r, 5));
    // Third time shown (a cache hit counts: the visitor saw it): now demoted, the next list moves on.
    expect((await ask())[0]!.itemId).toBe(top.itemId);
    await new Promise((r) => setTimeout(r, 5));
    const fourth = await ask();
    const moved = fourth.find((i) => i.itemId === top.itemId);
    expect(moved === undefined || moved.score < top.score * 0.5).toBe(true);
    const why = await e.explain({ tier: 'personalized', userId, limit: 10 }, top.itemId);
    if (!why.shown) expect(why.reason).toContain('demoted by rotation');
    // Later than the demotion: shown again as before.
    clock += DEFAULT_ROTATION.forMs + 1;
    try {
      expect((await ask())[0]!.itemId).toBe(top.itemId);
      // A click ends the streak: two more shows and a click, then two more: not demoted.
      await ask();
      await e.ingest([{ eventId: 'rot-click', type: 'click', userId, itemId: top.itemId, timestamp: clock }]);
      await ask();
      await ask();
      const after = await ask();
      expect(after.find((i) => i.itemId === top.itemId)).toBeDefined();
    } finally {
      clock = NOW;
    }
  });

  it('rotates an anonymous visitor without history too: a list shown three times moves on', async () => {
    const e = engine(DEFAULT_SERVING_CONFIG, undefined, DEFAULT_ROTATION);
    await e.swap();
    for (const tier of ['homepage', 'personalized'] as const) {
      const ask = async () => {
        const items = (await e.recommend({ tier, sessionId: `rot-anon-${tier}`, limit: 5 })).items;
        await new Promise((r) => setTimeout(r, 5)); // rotation is recorded without waiting
        return items.map((i) => i.itemId);
      };
      const first = await ask();
      await ask();
      await ask();
      const fourth = await ask();
      expect(fourth.filter((id) => !first.includes(id)).length, tier).toBeGreaterThan(0);
    }
  });

  it('gives the new-arrival slot to another new arrival once the visitor was shown theirs again and again', async () => {
    const e = engine(DEFAULT_SERVING_CONFIG, undefined, DEFAULT_ROTATION);
    await e.swap();
    const slot = DEFAULT_SERVING_CONFIG.tiers.homepage.newItemSlot;
    const userId = users[61]!;
    const ask = async () => {
      const items = (await e.recommend({ tier: 'homepage', userId, limit: 10 })).items;
      await new Promise((r) => setTimeout(r, 5)); // rotation is recorded without waiting
      return items;
    };
    const first = (await ask())[slot]!;
    expect(first.reason).toBe('new arrival');
    await ask();
    await ask();
    const fourth = (await ask())[slot]!;
    expect(fourth.reason).toBe('new arrival');
    expect(fourth.itemId).not.toBe(first.itemId);
    // Explain names the slot, not the candidate sources (seen in a trial: "not a candidate of any
    // source" for the item the slot had shown three times).
    const why = await e.explain({ tier: 'homepage', userId, limit: 10 }, first.itemId);
    expect(why).toMatchObject({ shown: false, stage: 'rules', score: null });
    expect(why.reason).toMatch(/^the new-arrival slot passes over .*demoted by rotation/);
    // To another visitor the other is told where the slot went.
    const other = await e.explain({ tier: 'homepage', userId: users[62]!, limit: 10 }, fourth.itemId);
    const slotted = other.items[slot]!;
    expect(slotted).toMatchObject({ reason: 'new arrival' });
    expect(slotted.itemId).not.toBe(fourth.itemId);
    expect(other).toMatchObject({
      shown: false,
      stage: 'rules',
      reason: `the new-arrival slot went to ${slotted.itemId}`,
    });
  });

  it('damps the nearest neighbours of an item the visitor disliked or hid', async () => {
    const e = engine();
    await e.swap();
    const page = items.find((i) => i.status === 'active' && i.stock !== 0)!;
    const similar = (sessionId: string) =>
      e.recommend({ tier: 'similar', itemId: page.itemId, sessionId, limit: 20 }).then((r) => r.items);
    const plain = await similar('damping-plain');
    const hidden = plain[0]!;
    await e.ingest([
      {
        eventId: 'damp-hide',
        type: 'hide',
        sessionId: 'damping-hid',
        itemId: hidden.itemId,
        timestamp: NOW - 1000,
      },
    ]);
    const after = await similar('damping-hid');
    expect(after.some((i) => i.itemId === hidden.itemId)).toBe(false);
    // What resembles the hidden item scores about half what it did (the hide itself moves the
    // visitor's other scores only a little).
    let lower = 0;
    for (const i of after) {
      const was = plain.find((p) => p.itemId === i.itemId);
      if (was && i.score < was.score * 0.6) lower++;
    }
    expect(lower).toBeGreaterThan(0);
    // Explain names the damping of those it pushed out of the list.
    const pushedOut = plain.filter((p) => p !== hidden && !after.some((a) => a.itemId === p.itemId));
    const why = await Promise.all(
      pushedOut.map((p) =>
        e.explain({ tier: 'similar', itemId: page.itemId, sessionId: 'damping-hid', limit: 20 }, p.itemId),
      ),
    );
    expect(
      why.some((w) => w.reason.includes('a near neighbour of an item the visitor disliked or hid')),
    ).toBe(true);
  });

  it("damps a disliked item's neighbours once, though the dislike is in both history and stored items", async () => {
    const e = engine();
    await e.swap();
    const userId = users[40]!;
    const page = items.find((i) => i.status === 'active' && i.stock !== 0)!;
    const ask = { tier: 'similar' as const, itemId: page.itemId, userId, limit: 20 };
    const plain = (await e.recommend(ask)).items;
    const disliked = plain[0]!.itemId;
    const event: ShelfEvent = {
      eventId: 'damp-once',
      type: 'dislike',
      userId,
      itemId: disliked,
      timestamp: NOW - 1000,
    };
    // Stored and ingested, as the events route does: a recent event the user's stored history has too.
    await store.insertEvents([event]);
    await e.ingest([event]);
    const ratios: number[] = [];
    for (const { itemId, score } of plain.slice(1)) {
      const now = (await e.explain(ask, itemId)).score;
      if (now !== null && score > 0) ratios.push(now / score);
    }
    const damped = ratios.filter((r) => r < 0.7);
    expect(damped.length).toBeGreaterThan(0);
    // Once: about half (the dislike moves the user's other scores a little); twice would be a quarter.
    for (const r of damped) expect(r).toBeGreaterThan(0.38);
  });
});
