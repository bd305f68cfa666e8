/**
 * Golden answers: on a fixed demo store and model, 1,500 requests over every tier (known,
 * unknown, anonymous and session visitors; categories, filters, exclusions; pins and boosts;
 * events, item changes and a deletion half-way) must give the items, order, scores and reasons
 * recorded in `golden-answers.json.gz`. It pins serving's behaviour through refactors: a change
 * that means to alter what is served re-records the file in a commit of its own, saying why.
 *
 * Re-record: `SHELF_RECORD_GOLDEN=1 npx vitest run test/integration/serving/golden.test.ts`.
 */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../models/random.ts';
import type { Rng } from '../../../models/random.ts';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { SegmentReports } from '../../../src/segments/segment-reports.ts';
import { Engine } from '../../../src/serving/engine.ts';
import { SEGMENT_TRENDING } from '../../../src/serving/trending-state.ts';
import type { RecommendRequest, ServingConfig, Tier } from '../../../src/serving/types.ts';
import { DEFAULT_SERVING_CONFIG, TIERS } from '../../../src/serving/types.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, ShelfEvent, Store } from '../../../src/store/types.ts';
import { trainVersion } from '../../../training/publish.ts';

const FIXTURE = new URL('./golden-answers.json.gz', import.meta.url);
const RECORD = process.env.SHELF_RECORD_GOLDEN === '1';
const NOW = Date.UTC(2025, 2, 1, 12);
const REQUESTS = 1500;
const log = pino({ level: 'silent' });

/** One answer as recorded: the request, then per item `itemId|score|reason`. */
interface Golden {
  request: RecommendRequest;
  config: string;
  items: string[];
}

describe('golden answers of the serving pipeline', () => {
  let dir: string;
  let store: Store;
  let items: Item[];
  let users: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-golden-'));
    store = await openSqliteStore(':memory:');
    const sf = generateStorefront({ seed: 23, items: 500, users: 400, events: 30_000, now: NOW });
    await exportStorefront(sf, { store });
    items = sf.items;
    users = sf.users.map((u) => u.userId);
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 1,500 requests over every tier exactly as recorded', async () => {
    const registry = new ModelRegistry(join(dir, 'models'));
    const { manifest } = await trainVersion({
      store,
      registry,
      recipe: { factors: 16, iterations: 6 },
      seed: 5,
      log,
    });
    await registry.promote(manifest.version);
    const segments = new SegmentReports({
      store,
      now: () => NOW,
      trending: SEGMENT_TRENDING,
    });
    const lists = (await segments.refresh()).trending;

    const rng = createRng(2025);
    const active = items.filter((i) => i.status === 'active' && i.stock !== 0);
    const departments = [...new Set(items.flatMap((i) => i.categories.map((c) => c.split(' > ')[0]!)))];
    const leaves = [...new Set(items.flatMap((i) => i.categories))];
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
    const promoted: ServingConfig = {
      ...DEFAULT_SERVING_CONFIG,
      pins: [
        { itemId: active[7]!.itemId, slot: 0 },
        { itemId: active[19]!.itemId, slot: 2, tiers: ['homepage', 'personalized'] },
        { itemId: active[31]!.itemId, slot: 1, category: departments[0]! },
      ],
      boosts: {
        brands: { [active[3]!.brand ?? 'none']: 1.5 },
        categories: { [departments[1]!]: 1.3 },
        itemIds: { [active[11]!.itemId]: 2 },
      },
    };
    const engines: Record<string, Engine> = {};
    for (const [name, config] of Object.entries({ default: DEFAULT_SERVING_CONFIG, promoted })) {
      const e = new Engine({ store, realtime: new MemoryRealtime(), registry, log, config, now: () => NOW });
      await e.swap();
      e.setSegmentTrending(lists);
      engines[name] = e;
    }

    const answers: Golden[] = [];
    for (let n = 0; n < REQUESTS; n++) {
      if (n === REQUESTS / 2) await changeHalfWay(Object.values(engines), rng);
      const tier = TIERS[n % TIERS.length]!;
      const request = makeRequest(tier, rng, { users, active, items, departments, leaves, pick });
      const config = rng.next() < 0.25 ? 'promoted' : 'default';
      const answer = await engines[config]!.recommend(request);
      answers.push({
        request,
        config,
        items: answer.items.map((i) => `${i.itemId}|${i.score}|${i.reason}`),
      });
    }

    if (RECORD) {
      await writeFile(FIXTURE, gzipSync(JSON.stringify(answers)));
      return;
    }
    const recorded = JSON.parse(gunzipSync(await readFile(FIXTURE)).toString('utf8')) as Golden[];
    expect(recorded).toHaveLength(REQUESTS);
    expect(answers.filter((a) => a.items.length > 0).length).toBeGreaterThan(REQUESTS * 0.9);
    for (let n = 0; n < REQUESTS; n++) {
      expect({ n, ...answers[n] }).toEqual({ n, ...recorded[n] });
    }
  }, 300_000);

  /** Events (a purchase, views, a dislike), stock and delisting, a new item, a deletion. */
  async function changeHalfWay(engines: Engine[], rng: Rng): Promise<void> {
    const at = (k: number) => NOW - 60_000 + k * 1000;
    const active = items.filter((i) => i.status === 'active' && i.stock !== 0);
    const events: ShelfEvent[] = [];
    for (let k = 0; k < 40; k++) {
      const subject = k % 2 === 0 ? { userId: users[k]! } : { sessionId: `golden-s-${k % 7}` };
      events.push({
        eventId: `golden-${k}`,
        type: (['view', 'click', 'add_to_cart', 'purchase', 'dislike'] as const)[k % 5]!,
        ...subject,
        itemId: active[rng.int(active.length)]!.itemId,
        timestamp: at(k),
      });
    }
    const newItem: Item = {
      ...active[5]!,
      itemId: 'golden-new-item',
      title: `${active[5]!.title} (new)`,
      publishedAt: NOW - 3_600_000,
    };
    const changed: Item[] = [
      { ...active[1]!, stock: 0 },
      { ...active[2]!, status: 'delisted' },
      { ...active[4]!, price: (active[4]!.price ?? 10) * 3 },
      newItem,
    ];
    await store.insertEvents(events);
    await store.upsertItems(changed);
    for (const e of engines) {
      await e.ingest(events);
      e.updateItems(changed);
      await e.forgetUser(users[9]!);
    }
  }
});

interface Pools {
  users: string[];
  active: Item[];
  items: Item[];
  departments: string[];
  leaves: string[];
  pick: <T>(xs: readonly T[]) => T;
}

/** A request of `tier` from a mix of visitors, limits, categories, filters and exclusions. */
function makeRequest(tier: Tier, rng: Rng, p: Pools): RecommendRequest {
  const req: RecommendRequest = { tier };
  const who = rng.next();
  if (who < 0.55) req.userId = p.pick(p.users.slice(0, 120));
  else if (who < 0.65) req.userId = `golden-unknown-${rng.int(20)}`;
  else if (who < 0.85) req.sessionId = `golden-s-${rng.int(10)}`;
  const limit = [5, 10, 20, 20, 37][rng.int(5)]!;
  if (limit !== 20) req.limit = limit;
  if (tier === 'category' || rng.next() < 0.1)
    req.category = rng.next() < 0.6 ? p.pick(p.departments) : p.pick(p.leaves);
  if (tier === 'similar')
    req.itemId = rng.next() < 0.95 ? p.pick(p.items).itemId : `golden-missing-${rng.int(5)}`;
  if (tier === 'cart')
    req.cartItemIds = Array.from({ length: 1 + rng.int(3) }, () => p.pick(p.active).itemId);
  if (rng.next() < 0.15) req.exclude = [p.pick(p.active).itemId, p.pick(p.active).itemId];
  if (rng.next() < 0.1) req.filters = { maxPrice: 20 + rng.int(60) };
  else if (rng.next() < 0.05) req.filters = { minPrice: 10, brand: p.pick(p.active).brand ?? 'none' };
  return req;
}
