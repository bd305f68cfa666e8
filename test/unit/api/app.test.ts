import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShelfApp } from '../../../src/api/app.ts';
import { fromFastifyError } from '../../../src/api/error-handler.ts';
import { createShelf } from '../../../src/app/create-shelf.ts';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { loadConfig } from '../../../src/config.ts';
import { ERROR_CODES } from '../../../src/errors.ts';
import type { ErrorCode } from '../../../src/errors.ts';
import { exportStorefront } from '../../../src/demo/export-storefront.ts';
import { generateStorefront } from '../../../src/demo/generate-storefront.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { VERSION_FILES } from '../../../src/registry/version-files.ts';
import type { Engine } from '../../../src/serving/engine.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, Store } from '../../../src/store/types.ts';
import { recordFields } from '../../../src/store/validate.ts';
import { trainVersion } from '../../../training/publish.ts';

const log = pino({ level: 'silent' });
const NOW = Date.UTC(2025, 0, 15, 12);
const SHOP = 'storefront-key-0123456789';
const ADMIN = 'admin-key-0123456789abcdef';
const recipe = { factors: 16, iterations: 6 };

describe('HTTP API', () => {
  let dir: string;
  let store: Store;
  let registry: ModelRegistry;
  let engine: Engine;
  let items: Item[];
  let users: string[];
  let shelf: Shelf;
  let app: ShelfApp;

  /** Shelf as `shelf start` builds it, over the test's store, clock and trained registry. */
  const make = (rateLimitPerMinute = 10_000, corsOrigins = 'https://shop.example') =>
    createShelf(
      loadConfig({
        SHELF_DATA_DIR: dir,
        SHELF_API_KEYS: `storefront:${SHOP},admin:${ADMIN}`,
        SHELF_CORS_ORIGINS: corsOrigins,
        SHELF_RATE_LIMIT: String(rateLimitPerMinute),
      }),
      log,
      { store, registry, now: () => NOW, train: { recipe, seed: 4 } },
    );
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  /** A list's items but the new arrival (whose place in the slot differs from one visitor to the next). */
  const ranked = (items: { reason: string }[]) => items.filter((i) => i.reason !== 'new arrival');
  const get = (url: string, key = SHOP) => app.inject({ method: 'GET', url, headers: as(key) });
  /** POSTs an admin job route (202) and polls the job until it has finished; its status. */
  const runJob = async (url: string) => {
    const job = await app.inject({ method: 'POST', url, headers: as(ADMIN) });
    expect(job.statusCode).toBe(202);
    let status = job.json();
    for (let i = 0; i < 400 && (status.state === 'queued' || status.state === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 25));
      status = (await get(`/v1/admin/jobs/${job.json().id}`, ADMIN)).json();
    }
    return status;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-api-'));
    store = await openSqliteStore(':memory:');
    registry = new ModelRegistry(join(dir, 'models'));
    const sf = generateStorefront({ seed: 3, items: 300, users: 300, events: 20_000, now: NOW });
    await exportStorefront(sf, { store });
    items = sf.items;
    users = sf.users.map((u) => u.userId);
    const { manifest } = await trainVersion({ store, registry, recipe, seed: 1, log });
    await registry.promote(manifest.version);
    shelf = await make();
    ({ app, engine } = shelf);
  });
  afterAll(async () => {
    await shelf.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const available = () => items.filter((i) => i.status === 'active' && i.stock !== 0);

  it('requires a key, and the right role', async () => {
    const none = await app.inject({ method: 'GET', url: '/v1/recommendations/homepage' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ statusCode: 401, code: 'SHELF_ERR_UNAUTHENTICATED' });
    expect((await get('/v1/recommendations/homepage', 'not-a-key-at-all')).json().code).toBe(
      'SHELF_ERR_UNAUTHENTICATED',
    );
    const forbidden = await app.inject({
      method: 'PUT',
      url: '/v1/items',
      headers: as(SHOP),
      payload: { items: [{}] },
    });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().code).toBe('SHELF_ERR_FORBIDDEN');
    expect((await get('/v1/admin/models', ADMIN)).statusCode).toBe(200);
  });

  it('explains why an item is or is not in a list, stage by stage', async () => {
    const userId = users[30]!;
    const explain = async (query: string) => {
      const res = await get(`/v1/admin/explain?${query}`, ADMIN);
      expect(res.statusCode, res.body).toBe(200);
      return res.json();
    };
    const list = (await get(`/v1/recommendations/personalized?userId=${userId}&limit=10`)).json();
    const third = list.items[2];
    // Shown: its position and reason are the list's.
    expect(await explain(`tier=personalized&userId=${userId}&limit=10&itemId=${third.itemId}`)).toMatchObject(
      {
        shown: true,
        stage: 'shown',
        position: 2,
        reason: third.reason,
      },
    );
    // Filters: out of stock, outside a price cap, outside the category, bought.
    const gone = items.find((i) => i.stock === 0 && i.status === 'active')!;
    expect(await explain(`tier=personalized&userId=${userId}&itemId=${gone.itemId}`)).toMatchObject({
      shown: false,
      stage: 'filters',
      reason: 'out of stock',
    });
    const pricey = available().find((i) => (i.price ?? 0) > 20)!;
    expect(
      await explain(`tier=personalized&userId=${userId}&maxPrice=10&itemId=${pricey.itemId}`),
    ).toMatchObject({
      stage: 'filters',
      reason: 'outside the request filters (price, brand, attributes)',
    });
    const [dept] = pricey.categories[0]!.split(' > ');
    const elsewhere = available().find((i) => !i.categories[0]!.startsWith(dept!))!;
    expect(
      await explain(
        `tier=category&category=${encodeURIComponent(dept!)}&userId=${userId}&itemId=${elsewhere.itemId}`,
      ),
    ).toMatchObject({ stage: 'filters', reason: `not in category ${dept}` });
    const bought = available().find(
      (i) => !i.repurchasable && !list.items.some((x: { itemId: string }) => x.itemId === i.itemId),
    )!;
    await store.insertEvents([
      {
        eventId: 'explain-buy',
        type: 'purchase',
        userId,
        itemId: bought.itemId,
        quantity: 1,
        timestamp: NOW - 1000,
      },
    ]);
    await engine.usersChanged([userId]);
    expect(await explain(`tier=personalized&userId=${userId}&itemId=${bought.itemId}`)).toMatchObject({
      stage: 'filters',
      reason: "the visitor's purchase keeps it out",
    });
    // Not in the catalogue; the page item of a similar list.
    expect(await explain('tier=homepage&itemId=no-such-item')).toMatchObject({ stage: 'catalogue' });
    const page = available()[3]!;
    expect(await explain(`tier=similar&pageItemId=${page.itemId}&itemId=${page.itemId}`)).toMatchObject({
      stage: 'filters',
      reason: 'the page item',
    });
    // Every available item of a short list is explained by a stage, and the shown ones match the list.
    const short = (await get(`/v1/recommendations/personalized?userId=${userId}&limit=3`)).json();
    const stages = new Map<string, number>();
    for (const i of available().slice(0, 60)) {
      const e = await explain(`tier=personalized&userId=${userId}&limit=3&itemId=${i.itemId}`);
      stages.set(e.stage, (stages.get(e.stage) ?? 0) + 1);
      const at = short.items.findIndex((x: { itemId: string }) => x.itemId === i.itemId);
      expect(e.position).toBe(at >= 0 ? at : null);
      if (e.stage === 'ranking' || e.stage === 'rules') expect(e.score).toBeLessThanOrEqual(e.items[0].score);
    }
    expect([...stages.keys()].some((k) => k === 'ranking' || k === 'candidates' || k === 'rules')).toBe(true);
    expect((await get(`/v1/admin/explain?tier=personalized&itemId=x`, SHOP)).statusCode).toBe(403);
    expect((await get(`/v1/admin/explain?tier=nope&itemId=x`, ADMIN)).json().details[0].field).toMatch(
      /tier/,
    );
    // An admin query refuses what it has no use for; the storefront's takes tracking parameters.
    expect((await get(`/v1/admin/explain?tier=personalized&itemId=x&usrId=u`, ADMIN)).json()).toMatchObject({
      details: [{ field: 'querystring/usrId', reason: 'is not a field here' }],
    });
    expect((await get(`/v1/recommendations/personalized?userId=${userId}&utm_source=mail`)).statusCode).toBe(
      200,
    );
  });

  it('rotates a returning visitor’s list: what was shown three times without a click moves down', async () => {
    const userId = users[70]!;
    const ask = async () =>
      (await get(`/v1/recommendations/personalized?userId=${userId}&limit=10`)).json().items as {
        itemId: string;
        score: number;
      }[];
    const first = await ask();
    const top = first[0]!;
    // Shown three times (the list cache answers the repeats: the visitor still saw them).
    await ask();
    await ask();
    // Rotation is recorded off the request path.
    await new Promise((r) => setTimeout(r, 20));
    const fourth = await ask();
    const now = fourth.find((i) => i.itemId === top.itemId);
    expect(now === undefined || now.score < top.score * 0.5).toBe(true);
    const why = (
      await get(`/v1/admin/explain?tier=personalized&userId=${userId}&limit=10&itemId=${top.itemId}`, ADMIN)
    ).json();
    expect(why.position).toBe(now ? fourth.indexOf(now) : null);
  });

  it('serves every tier, and rejects bad input naming the field', async () => {
    const item = available()[0]!.itemId;
    const category = available()[0]!.categories[0]!.split(' > ')[0]!;
    for (const url of [
      `/v1/recommendations/homepage?userId=${users[0]}`,
      `/v1/recommendations/personalized?userId=${users[1]}&limit=5`,
      `/v1/recommendations/similar?itemId=${item}`,
      `/v1/recommendations/cart?cartItemIds=${item}`,
      `/v1/recommendations/category?category=${encodeURIComponent(category)}&sessionId=s1`,
      `/v1/recommendations/personalized?userId=someone-new`,
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      const body = res.json();
      expect(body.recommendationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(body.items.length).toBeGreaterThan(0);
    }
    // The reply's JSON, first computed and then from the list cache: the schema's key order,
    // a new id each time, the same items. A variant is an experiment's, never the client's: a
    // `variant` in the query was echoed and stored, a label of the client's own in the metrics.
    const url = `/v1/recommendations/personalized?userId=${users[2]}&limit=4&variant=hacked`;
    const [a, b] = [await get(url), await get(url)];
    for (const res of [a, b]) {
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      const body = res.json();
      expect(Object.keys(body)).toEqual(['recommendationId', 'tier', 'modelVersion', 'items']);
      expect(body).toMatchObject({ tier: 'personalized' });
      expect(body.modelVersion).toMatch(/^v\d{8}-/);
      for (const i of body.items) expect(Object.keys(i)).toEqual(['itemId', 'score', 'reason']);
      expect(res.body).toBe(JSON.stringify(body));
    }
    expect(a.json().recommendationId).not.toBe(b.json().recommendationId);
    expect(b.json().items).toEqual(a.json().items);
    // A cart naming an item many times is that cart: a trial's id sent 1,300 times multiplied
    // its complements' scores by as much (1914.1).
    const cartOf = async (ids: string[]) =>
      (await get(`/v1/recommendations/cart?cartItemIds=${ids.join(',')}&limit=5`)).json().items;
    expect(await cartOf(Array.from({ length: 50 }, () => item))).toEqual(await cartOf([item]));
    const badTier = await get('/v1/recommendations/everything');
    expect(badTier.statusCode).toBe(400);
    expect(badTier.json()).toMatchObject({
      code: 'SHELF_ERR_VALIDATION',
      message: expect.stringContaining('params/tier'),
    });
    expect((await get('/v1/recommendations/homepage?limit=101')).json().message).toMatch(
      /^querystring\/limit /,
    );
    expect((await get('/v1/recommendations/similar')).json()).toMatchObject({
      message: expect.stringMatching(/querystring\/itemId is required/),
      details: [{ field: 'querystring/itemId', reason: 'is required for the similar tier' }],
    });
    const crossed = await get('/v1/recommendations/homepage?minPrice=5&maxPrice=1');
    expect(crossed.statusCode).toBe(400);
    expect(crossed.json().details).toEqual([
      { field: 'querystring/minPrice', reason: 'must be at most maxPrice (1), got 5' },
    ]);
    // A category no item is under: 404 naming it, not an empty list (a leaf without its parents,
    // as a storefront may write it). Its parent path is one.
    const leaf = available()[0]!.categories[0]!;
    const parts = leaf.split(' > ');
    expect(parts.length).toBeGreaterThan(1);
    const unknown = await get(`/v1/recommendations/category?category=${encodeURIComponent(parts.at(-1)!)}`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({
      code: 'SHELF_ERR_NOT_FOUND',
      details: [
        {
          field: 'querystring/category',
          reason: expect.stringContaining(`'${parts.at(-1)}' is no category`),
        },
      ],
    });
    for (const known of [leaf, parts.slice(0, -1).join(' > ')]) {
      const res = await get(`/v1/recommendations/category?category=${encodeURIComponent(known)}`);
      expect(res.statusCode, known).toBe(200);
    }
  });

  it('stores exactly the valid events of a mixed batch and says why the others failed', async () => {
    const itemId = available()[1]!.itemId;
    const payload = {
      events: [
        { eventId: 'api-1', type: 'view', userId: users[2], itemId, timestamp: NOW - 10 },
        { eventId: 'api-2', type: 'teleport', userId: users[2], itemId, timestamp: NOW - 9 },
        { eventId: 'api-3', type: 'click', userId: users[2], itemId, timestamp: 'later' },
        { eventId: 'api-4', type: 'purchase', userId: users[2], itemId, quantity: 1, timestamp: NOW - 8 },
        // Not objects: rejected each, not the batch (seen: 400 for all 20 events of a batch).
        5,
        null,
      ],
    };
    const res = await app.inject({ method: 'POST', url: '/v1/events', headers: as(SHOP), payload });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 2, duplicates: 0, rejected: 4 });
    expect(res.json().results[1]).toMatchObject({ status: 'rejected', errors: [{ field: 'type' }] });
    expect(res.json().results[2]).toMatchObject({ status: 'rejected', errors: [{ field: 'timestamp' }] });
    for (const index of [4, 5])
      expect(res.json().results[index]).toEqual({
        index,
        status: 'rejected',
        errors: [{ field: '(record)', reason: 'must be a JSON object' }],
      });
    const ids = (await store.recentEvents(users[2]!, 100)).map((e) => e.eventId);
    expect(ids).toContain('api-1');
    expect(ids).toContain('api-4');
    expect(ids).not.toContain('api-2');
    const again = await app.inject({ method: 'POST', url: '/v1/events', headers: as(SHOP), payload });
    expect(again.json()).toMatchObject({ accepted: 0, duplicates: 2, rejected: 4 });
    const tooMany = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: as(SHOP),
      payload: { events: Array.from({ length: 1001 }, () => ({})) },
    });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().message).toMatch(/^body\/events /);
  });

  it('takes a stock change into the next answer', async () => {
    const first = (await get(`/v1/recommendations/personalized?userId=${users[4]}&limit=10`)).json();
    const top = first.items[0].itemId as string;
    const patch = await app.inject({
      method: 'PATCH',
      url: `/v1/items/${top}`,
      headers: as(ADMIN),
      payload: { stock: 0 },
    });
    expect(patch.statusCode).toBe(200);
    const next = (await get(`/v1/recommendations/personalized?userId=${users[4]}&limit=10`)).json();
    expect(next.items.map((i: { itemId: string }) => i.itemId)).not.toContain(top);
    const bad = await app.inject({
      method: 'PATCH',
      url: `/v1/items/${top}`,
      headers: as(ADMIN),
      payload: { stock: -1 },
    });
    expect(bad.json().message).toMatch(/^body\/stock /);
    // More than the store's integer column holds (seen: 500 on PostgreSQL).
    const huge = await app.inject({
      method: 'PATCH',
      url: `/v1/items/${top}`,
      headers: as(ADMIN),
      payload: { stock: 2_147_483_648 },
    });
    expect(huge.json()).toMatchObject({ statusCode: 400, message: 'body/stock must be <= 2147483647' });
    // A value outside a closed list: one error naming the values allowed, not one per value.
    const status = await app.inject({
      method: 'PATCH',
      url: `/v1/items/${top}`,
      headers: as(ADMIN),
      payload: { status: 'bogus' },
    });
    expect(status.json()).toMatchObject({
      statusCode: 400,
      message: 'body/status must be one of "active", "delisted"',
      details: [{ field: 'body/status', reason: 'must be one of "active", "delisted"' }],
    });
    const missing = await app.inject({
      method: 'PATCH',
      url: '/v1/items/nope',
      headers: as(ADMIN),
      payload: { stock: 1 },
    });
    expect(missing.statusCode).toBe(404);
    await app.inject({ method: 'PATCH', url: `/v1/items/${top}`, headers: as(ADMIN), payload: { stock: 5 } });
  });

  it('upserts items in batches, reporting the invalid ones', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: '/v1/items',
      headers: as(ADMIN),
      payload: {
        items: [
          { itemId: 'api-new', title: 'New lamp', categories: ['Home > Lighting'] },
          { itemId: 'x' },
          'lamp',
        ],
      },
    });
    expect(res.json()).toMatchObject({
      written: 1,
      rejected: 2,
      errors: [
        { index: 1, errors: [{ field: 'title' }] },
        { index: 2, errors: [{ field: '(record)', reason: 'must be a JSON object' }] },
      ],
    });
    expect(await store.getItem('api-new')).toMatchObject({ title: 'New lamp' });
    // Sent again without publishedAt (to set repurchasable, the one way to): the item keeps its
    // date, not now's, which made a 2010 item a new arrival on every cold visitor's homepage.
    const published = (await store.getItem('api-new'))!.publishedAt;
    const put = (item: Record<string, unknown>) =>
      app.inject({ method: 'PUT', url: '/v1/items', headers: as(ADMIN), payload: { items: [item] } });
    await new Promise((r) => setTimeout(r, 5));
    await put({ itemId: 'api-new', title: 'New lamp', repurchasable: true });
    expect(await store.getItem('api-new')).toMatchObject({ repurchasable: true, publishedAt: published });
    await put({ itemId: 'api-new', title: 'New lamp', publishedAt: '2010-12-01T08:26:00Z' });
    expect((await store.getItem('api-new'))!.publishedAt).toBe(Date.UTC(2010, 11, 1, 8, 26));
    // Sold out, then a price-only record: it keeps its stock, categories and repurchasable, and
    // is still filtered out of every list (seen in a trial: back in every tier on both replicas).
    const soldOut = await app.inject({
      method: 'PATCH',
      url: '/v1/items/api-new',
      headers: as(ADMIN),
      payload: { stock: 0 },
    });
    expect(soldOut.statusCode).toBe(200);
    await put({ itemId: 'api-new', title: 'New lamp', price: 20 });
    expect(await store.getItem('api-new')).toMatchObject({
      price: 20,
      stock: 0,
      categories: ['Home > Lighting'],
      repurchasable: true,
    });
    const why = await app.inject({
      url: '/v1/admin/explain?tier=homepage&sessionId=s-lamp&itemId=api-new',
      headers: as(ADMIN),
    });
    expect(why.json()).toMatchObject({ shown: false, stage: 'filters', reason: 'out of stock' });
    // One body naming the item twice: the later record builds on the earlier one, not on the
    // stored item (a trial's stock 0 then price-only record put the stored stock back).
    await app.inject({
      method: 'PATCH',
      url: '/v1/items/api-new',
      headers: as(ADMIN),
      payload: { stock: 7 },
    });
    const twice = await app.inject({
      method: 'PUT',
      url: '/v1/items',
      headers: as(ADMIN),
      payload: {
        items: [
          { itemId: 'api-new', title: 'New lamp', stock: 0 },
          { itemId: 'api-new', title: 'New lamp', price: 21 },
          {
            itemId: 'api-twice',
            title: 'Bowl',
            categories: ['Home > Kitchen'],
            stock: 4,
            publishedAt: '2011-01-01T00:00:00Z',
          },
          { itemId: 'api-twice', title: 'Bowl v2', price: 6 },
        ],
      },
    });
    expect(twice.json()).toMatchObject({ written: 2, rejected: 0 });
    expect(await store.getItem('api-new')).toMatchObject({
      price: 21,
      stock: 0,
      categories: ['Home > Lighting'],
    });
    // Without a title: a stored item keeps its own; a new one is refused where it is in the body.
    const untitled = await app.inject({
      method: 'PUT',
      url: '/v1/items',
      headers: as(ADMIN),
      payload: {
        items: [
          { itemId: 'api-new', price: 22 },
          { itemId: 'api-none', price: 1 },
        ],
      },
    });
    expect(untitled.json()).toEqual({
      written: 1,
      rejected: 1,
      errors: [{ index: 1, errors: [{ field: 'title', reason: 'is required for a new item' }] }],
    });
    expect(await store.getItem('api-new')).toMatchObject({ title: 'New lamp', price: 22, stock: 0 });
    expect(await store.getItem('api-none')).toBeNull();
    expect(await store.getItem('api-twice')).toMatchObject({
      title: 'Bowl v2',
      price: 6,
      stock: 4,
      categories: ['Home > Kitchen'],
      publishedAt: Date.UTC(2011, 0, 1),
    });
  });

  it('deletes a user: events, profile and personal state; the user is cold afterwards', async () => {
    const userId = users[6]!;
    const cold = (await get('/v1/recommendations/personalized?userId=nobody-at-all&limit=10')).json();
    expect((await get(`/v1/users/${userId}/profile`)).json()).toMatchObject({ known: true });
    /** The stored versions whose user ids name `who`. */
    const naming = async (who: string) => {
      const out: string[] = [];
      for (const v of await registry.versions()) {
        const ids = JSON.parse((await registry.file(v, VERSION_FILES.users)).toString('utf8')) as string[];
        if (ids.includes(who)) out.push(v);
      }
      return out;
    };
    const holding = await naming(userId);
    expect(holding.length).toBeGreaterThan(0);
    const del = await app.inject({ method: 'DELETE', url: `/v1/users/${userId}`, headers: as(SHOP) });
    expect(del.json()).toMatchObject({ profileRemoved: true, versionsRewritten: holding.length });
    expect(del.json().eventsRemoved).toBeGreaterThan(0);
    // The stored versions (kept for rollback) no longer name the user, and still load.
    expect(await naming(userId)).toEqual([]);
    expect(await store.recentEvents(userId, 10)).toEqual([]);
    const after = (await get(`/v1/recommendations/personalized?userId=${userId}&limit=10`)).json();
    // What any visitor without history gets (the new-arrival slot starts at each id's own place).
    expect(ranked(after.items)).toEqual(ranked(cold.items));

    // The tombstone: nothing more is stored or changed for the id, and it is written in the audit log.
    const itemId = available()[0]!.itemId;
    const ev = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: as(SHOP),
      payload: { events: [{ eventId: 'after-erasure', type: 'view', userId, itemId, timestamp: NOW - 1 }] },
    });
    expect(ev.json()).toMatchObject({ accepted: 0, rejected: 1 });
    expect(ev.json().results[0].errors[0].field).toBe('userId');
    for (const res of [
      await app.inject({
        method: 'PATCH',
        url: `/v1/users/${userId}`,
        headers: as(SHOP),
        payload: { consent: { personalization: true } },
      }),
      await app.inject({
        method: 'POST',
        url: '/v1/sessions/any-session/merge',
        headers: as(SHOP),
        payload: { userId },
      }),
      // Not a blank profile with default consent and segment, as it answered before.
      await get(`/v1/users/${userId}/profile`),
    ]) {
      expect(res.statusCode).toBe(410);
      expect(res.json().code).toBe('SHELF_ERR_ERASED');
    }
    const audit = (await get('/v1/admin/audit?limit=5', ADMIN)).json();
    expect(audit.entries.find((e: { action: string }) => e.action === 'user.erase')).toMatchObject({
      role: 'storefront',
      target: userId,
      keyId: expect.stringMatching(/^storefront:[0-9a-f]{12}$/),
    });
    expect((await get('/v1/admin/audit', SHOP)).statusCode).toBe(403);

    // An erasure whose rewrite of the versions never ran (its process died after the store's
    // deletion): a start finishes it.
    const orphan = users[80]!;
    expect((await store.deleteUser(orphan, NOW)).events).toBeGreaterThan(0);
    expect((await naming(orphan)).length).toBeGreaterThan(0);
    // A restart (a fresh Shelf over the same store and the version trained before the erasure).
    const again = await make();
    expect(await naming(orphan)).toEqual([]);
    try {
      const ask = (who: string) =>
        again.app.inject({
          url: `/v1/recommendations/personalized?userId=${who}&limit=10`,
          headers: as(SHOP),
        });
      const items = (await ask(userId)).json().items;
      expect(items.length).toBe(10);
      expect(ranked(items)).toEqual(ranked((await ask('nobody-at-all')).json().items));
    } finally {
      await again.close();
    }
  });

  it('changes consent and attributes; withdrawn consent takes personal state away at once', async () => {
    const userId = users[8]!;
    const personal = (await get(`/v1/recommendations/personalized?userId=${userId}&limit=10`)).json();
    expect(personal.items.some((i: { reason: string }) => i.reason === 'recommended for you')).toBe(true);
    const before = (await store.getUser(userId))!;
    const res = await app.inject({
      method: 'PATCH',
      url: `/v1/users/${userId}`,
      headers: as(SHOP),
      payload: { consent: { personalization: false }, attributes: { tier: 'gold' } },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      consent: { personalization: false },
      attributes: { ...before.attributes, tier: 'gold' },
      createdAt: new Date(before.createdAt).toISOString(),
    });
    const after = (await get(`/v1/recommendations/personalized?userId=${userId}&limit=10`)).json();
    expect(after.items.some((i: { reason: string }) => i.reason === 'recommended for you')).toBe(false);
    const entries = (await get('/v1/admin/audit?limit=2', ADMIN)).json().entries;
    // The consent under the action `shelf import users` writes; attribute names only: values may
    // be personal.
    expect(entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'user.consent',
          target: userId,
          detail: { personalization: false },
        }),
        expect.objectContaining({ action: 'user.patch', target: userId, detail: { attributes: 'tier' } }),
      ]),
    );
    const bad = await app.inject({
      method: 'PATCH',
      url: `/v1/users/${userId}`,
      headers: as(SHOP),
      payload: { attributes: { nested: { no: 1 } } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details[0].field).toBe('body/attributes/nested');
    await app.inject({
      method: 'PATCH',
      url: `/v1/users/${userId}`,
      headers: as(SHOP),
      payload: { consent: { personalization: true } },
    });
    const back = (await get(`/v1/recommendations/personalized?userId=${userId}&limit=10`)).json();
    expect(back.items.some((i: { reason: string }) => i.reason === 'recommended for you')).toBe(true);
  });

  it('merges a session into a user', async () => {
    const itemId = available()[2]!.itemId;
    await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: as(SHOP),
      payload: {
        events: [{ eventId: 'sess-1', type: 'view', sessionId: 'visit-9', itemId, timestamp: NOW - 5 }],
      },
    });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/sessions/visit-9/merge',
      headers: as(SHOP),
      payload: { userId: 'logged-in-9' },
    });
    expect(res.json()).toMatchObject({ eventsMoved: 1 });
    expect((await store.recentEvents('logged-in-9', 5)).map((e) => e.eventId)).toEqual(['sess-1']);
  });

  it('computes segments as a job, reports them, and shows a user their segment (none without consent)', async () => {
    const none = await get('/v1/admin/segments', ADMIN);
    expect(none.statusCode).toBe(404);
    expect(none.json().code).toBe('SHELF_ERR_NOT_FOUND');
    expect(
      (await app.inject({ method: 'POST', url: '/v1/admin/segments', headers: as(SHOP) })).statusCode,
    ).toBe(403);
    const status = await runJob('/v1/admin/segments');
    expect(status).toMatchObject({ state: 'completed', result: { computedAt: new Date(NOW).toISOString() } });

    const report = await get('/v1/admin/segments?top=3', ADMIN);
    expect(report.statusCode).toBe(200);
    const r = report.json();
    expect(r.users).toBe(status.result.users);
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    expect(sum(r.bySegment)).toBe(r.users);
    expect(sum(r.byLifecycle)).toBe(r.users);
    expect(r.bySegment.high_value).toBeGreaterThan(0);
    // Every buyer is counted in one segment's repurchase rate: as many as the lifecycle's buyers.
    const kpis = Object.values(r.kpis) as { buyers: number; repurchaseRate: number | null }[];
    expect(kpis.reduce((n, k) => n + k.buyers, 0)).toBe(r.users - r.byLifecycle.prospect);
    expect(r.kpis.high_value.repurchaseRate).toBeGreaterThan(0);
    expect(Object.keys(r.trending).sort()).toEqual(['active', 'churned', 'churning', 'high_value', 'new']);
    expect(r.trending.active.items.length).toBe(3);
    expect((await get('/v1/admin/segments?top=0', ADMIN)).statusCode).toBe(400);

    // The profile classifies with the report's threshold: counts and profiles agree.
    const seen: Record<string, number> = {};
    for (const userId of users.slice(0, 60)) {
      if (userId === users[6]) continue; // erased by an earlier test: 410
      const p = (await get(`/v1/users/${userId}/profile`)).json();
      expect(['new', 'active', 'high_value', 'churning', 'churned']).toContain(p.segment);
      expect(['prospect', 'first_time_buyer', 'repeat_buyer', 'loyal']).toContain(p.lifecycle);
      if (p.segment === 'high_value') expect(p.revenue).toBeGreaterThanOrEqual(r.highValueRevenue);
      seen[p.segment] = (seen[p.segment] ?? 0) + 1;
    }
    expect(Object.keys(seen).length).toBeGreaterThan(1);
    const userId = users[61]!;
    await store.upsertUsers([
      { userId, attributes: {}, createdAt: NOW, consent: { personalization: false } },
    ]);
    expect((await get(`/v1/users/${userId}/profile`)).json()).toMatchObject({
      segment: null,
      lifecycle: null,
      purchases: null,
      revenue: null,
    });
  });

  it('trains on demand as a job, and lists, promotes and rolls back versions', async () => {
    const status = await runJob('/v1/admin/train');
    expect(status.state).toBe('completed');
    const models = (await get('/v1/admin/models', ADMIN)).json();
    expect(models.versions.length).toBe(2);
    const rollback = await app.inject({
      method: 'POST',
      url: '/v1/admin/models/rollback',
      headers: as(ADMIN),
    });
    if (status.result.promoted) {
      expect(rollback.json().current).toBe(models.versions[0].version);
      expect(engine.version).toBe(models.versions[0].version);
    } else expect(rollback.statusCode).toBe(409);
    // A well-formed version that was never made is not found (as an unknown experiment is).
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/admin/models/v20990101-000000-000/promote',
      headers: as(ADMIN),
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({
      code: 'SHELF_ERR_NOT_FOUND',
      message: 'model version "v20990101-000000-000" not found',
    });
    const actions = (await get('/v1/admin/audit?limit=10', ADMIN))
      .json()
      .entries.map((e: { action: string; role: string }) => `${e.action} ${e.role}`);
    expect(actions).toContain('model.train admin');
    if (status.result.promoted)
      expect(actions.slice(0, 3)).toEqual(['model.rollback admin', 'model.promote job', 'model.train admin']);
  });

  it('lists jobs with their progress and attempts, the schedules, and refuses a bad train payload', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/admin/train',
      headers: as(ADMIN),
      payload: { iterations: 'many' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('iterations');
    const done = await runJob('/v1/admin/segments');
    expect(done).toMatchObject({ state: 'completed', attempts: 1 });
    const list = (await get('/v1/admin/jobs?limit=50', ADMIN)).json();
    expect(list.jobs[0]).toMatchObject({ id: done.id, name: 'segments', state: 'completed' });
    expect(list.counts.completed).toBeGreaterThanOrEqual(1);
    // The train job of the test above, its progress at its end.
    const trained = list.jobs.find((j: { name: string }) => j.name === 'train');
    expect(trained.progress).toEqual({ stage: 'gate', percent: 100 });
    const schedules = (await get('/v1/admin/schedules', ADMIN)).json().schedules;
    expect(schedules.map((x: { job: string }) => x.job)).toEqual(['train', 'segments', 'aggregate-feedback']);
    for (const x of schedules) if (x.schedule) expect(Date.parse(x.next)).toBeGreaterThan(Date.now() - 1000);
    expect((await get('/v1/admin/schedules')).statusCode).toBe(403);
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/shelf_jobs\{state="completed"\} [1-9]/);
    expect(metrics).toMatch(/shelf_job_duration_seconds\{job="segments",stat="last"\}/);
  });

  it('answers health, readiness, metrics and the OpenAPI document', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ url: '/readyz' })).json()).toMatchObject({ ready: true, store: true });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(
      /shelf_http_request_duration_seconds_bucket\{.*route="\/v1\/recommendations\/:tier".*tier="personalized"/,
    );
    expect(metrics).toMatch(/shelf_model_info\{version="v\d{8}-\d{6}-\d{3}"\} 1/);
    expect(metrics).toMatch(/shelf_answer_cache\{kind="misses"\} [1-9]/);
    const doc = (await app.inject({ url: '/docs/json' })).json();
    expect(Object.keys(doc.paths)).toContain('/v1/recommendations/{tier}');
    // API replies: the OWASP REST set, and none of the document headers.
    for (const url of ['/healthz', `/v1/recommendations/homepage?limit=3`]) {
      const { headers, statusCode } = await get(url);
      expect(statusCode).toBe(200);
      expect(headers['x-content-type-options']).toBe('nosniff');
      expect(headers['strict-transport-security']).toMatch(/^max-age=\d+/);
      expect(headers['content-security-policy']).toBe("frame-ancestors 'none'");
      expect(headers['x-frame-options']).toBe('DENY');
      expect(headers['cache-control']).toBe('no-store');
      expect(headers['cross-origin-opener-policy']).toBeUndefined();
    }
    // The docs are pages: helmet's document headers, swagger-ui's script policy.
    const page = await app.inject({ url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
  });

  it('limits the rate per key with 429', async () => {
    const limited = await make(3);
    try {
      const codes: number[] = [];
      const remaining: unknown[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await limited.app.inject({ url: '/v1/recommendations/homepage', headers: as(SHOP) });
        codes.push(res.statusCode);
        remaining.push(res.headers['x-ratelimit-remaining']);
        expect(res.headers['x-ratelimit-limit']).toBe('3');
        expect(Number(res.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
      }
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      expect(remaining).toEqual(['2', '1', '0', '0', '0']);
      const res = await limited.app.inject({ url: '/v1/recommendations/homepage', headers: as(SHOP) });
      expect(res.json()).toMatchObject({ statusCode: 429, code: 'SHELF_ERR_RATE_LIMITED' });
      expect(res.json().message).toMatch(
        /^rate limit of 3 requests per minute exceeded; retry in (\d+ seconds?|1 minute)$/,
      );
      expect(res.headers['retry-after']).toBe(res.headers['x-ratelimit-reset']);
      // Security headers on the error too.
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      // Another key has its own budget.
      expect((await limited.app.inject({ url: '/v1/admin/models', headers: as(ADMIN) })).statusCode).toBe(
        200,
      );
    } finally {
      await limited.close();
    }
  });

  it('answers cross-origin calls from the configured origins only, and none when none is configured', async () => {
    const url = '/v1/recommendations/homepage';
    const preflight = (a: ShelfApp, origin: string) =>
      a.inject({
        method: 'OPTIONS',
        url,
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const allowed = await preflight(app, 'https://shop.example');
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(allowed.headers['access-control-allow-methods']).toMatch(/GET/);
    expect(allowed.headers['access-control-allow-headers']).toBe('authorization');
    const call = await app.inject({ url, headers: { ...as(SHOP), origin: 'https://shop.example' } });
    expect(call.statusCode).toBe(200);
    expect(call.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(call.headers.vary).toMatch(/Origin/);
    const other = await app.inject({ url, headers: { ...as(SHOP), origin: 'https://evil.example' } });
    expect(other.statusCode).toBe(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect(
      (await preflight(app, 'https://evil.example')).headers['access-control-allow-origin'],
    ).toBeUndefined();

    const closed = await make(10_000, '');
    try {
      const res = await closed.app.inject({ url, headers: { ...as(SHOP), origin: 'https://shop.example' } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers.vary).toBeUndefined();
      const none = await preflight(closed.app, 'https://shop.example');
      expect(none.headers['access-control-allow-origin']).toBeUndefined();
      expect(none.headers['access-control-allow-methods']).toBeUndefined();
    } finally {
      await closed.close();
    }
  });

  it('maps Fastify’s client errors to catalogue codes, the reason in details, never an FST code', async () => {
    const post = (payload: string, contentType: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { ...as(SHOP), 'content-type': contentType },
        payload,
      });
    const cases: [Awaited<ReturnType<typeof post>>, number, string][] = [
      [await post('{"events": [', 'application/json'), 400, 'SHELF_ERR_INVALID_JSON'],
      [await post('', 'application/json'), 400, 'SHELF_ERR_EMPTY_BODY'],
      [await post('<events/>', 'application/xml'), 415, 'SHELF_ERR_UNSUPPORTED_MEDIA_TYPE'],
      // JSON sent as text/plain: the type named, not "body must be object".
      [await post('{"events": []}', 'text/plain'), 415, 'SHELF_ERR_UNSUPPORTED_MEDIA_TYPE'],
      [
        await post(JSON.stringify({ events: [{ pad: 'x'.repeat(2 * 1024 * 1024) }] }), 'application/json'),
        413,
        'SHELF_ERR_BODY_TOO_LARGE',
      ],
      // A URL Fastify cannot decode fails before routing (its frameworkErrors).
      [await get('/v1/users/%E0%A4%A/profile'), 400, 'SHELF_ERR_REQUEST'],
    ];
    for (const [res, status, code] of cases) {
      expect(res.statusCode, code).toBe(status);
      expect(res.json(), code).toMatchObject({
        statusCode: status,
        code,
        details: { reason: expect.any(String) },
      });
      expect(ERROR_CODES[code as ErrorCode]).toBe(status);
      expect(res.body).not.toMatch(/FST_/);
    }
    // Any other Fastify client error gets a Shelf code by its status.
    const other = Object.assign(new Error('odd request'), { code: 'FST_ERR_SOMETHING_NEW', statusCode: 400 });
    expect(fromFastifyError(other, 400)).toMatchObject({
      code: 'SHELF_ERR_REQUEST',
      statusCode: 400,
      details: { reason: 'odd request' },
    });
    expect(fromFastifyError(other, 405).code).toBe('SHELF_ERR_METHOD_NOT_ALLOWED');
    // A refused promotion is the quality gate's code.
    const version = (await get('/v1/admin/models', ADMIN)).json().current as string;
    const again = await app.inject({
      method: 'POST',
      url: `/v1/admin/models/${version}/promote`,
      headers: as(ADMIN),
    });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({
      code: 'SHELF_ERR_QUALITY_GATE',
      message: `${version} is already current`,
    });
  });

  // validate.ts refuses a field by these lists: the document must show the same ones.
  it('documents exactly the fields an event and an item may have', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json() as {
      paths: Record<
        string,
        Record<string, { requestBody: { content: Record<string, { schema: unknown }> } }>
      >;
    };
    const recordOf = (path: string, method: string, key: string) => {
      const body = doc.paths[path]![method]!.requestBody.content['application/json']!.schema as {
        properties: Record<
          string,
          { items: { properties: Record<string, unknown>; additionalProperties: boolean } }
        >;
      };
      return body.properties[key]!.items;
    };
    for (const [path, method, key, kind] of [
      ['/v1/events', 'post', 'events', 'events'],
      ['/v1/items', 'put', 'items', 'items'],
    ] as const) {
      const record = recordOf(path, method, key);
      expect(Object.keys(record.properties).sort()).toEqual([...recordFields(kind).fields].sort());
      expect(record.additionalProperties).toBe(false);
    }
  });

  it('declares schemas on every route: summary, tag, params, query and body where it takes them, each response', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json() as {
      tags: { name: string; description: string }[];
      paths: Record<
        string,
        Record<
          string,
          {
            summary?: string;
            tags?: string[];
            parameters?: { in: string; name: string }[];
            requestBody?: unknown;
            responses?: Record<string, unknown>;
          }
        >
      >;
    };
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, path, op })),
    );
    const withBody = [
      'POST /v1/events',
      'PUT /v1/items',
      'PATCH /v1/items/{itemId}',
      'POST /v1/sessions/{sessionId}/merge',
      'PATCH /v1/users/{userId}',
      'POST /v1/admin/experiments',
      'POST /v1/admin/experiments/{id}/ship',
      'POST /v1/admin/experiments/{id}/shares',
      'POST /v1/admin/train',
      'PUT /v1/admin/rules',
    ];
    const withQuery = [
      'GET /v1/recommendations/{tier}',
      'GET /v1/admin/audit',
      'GET /v1/admin/explain',
      'GET /v1/admin/segments',
      'GET /v1/admin/metrics',
      'POST /v1/admin/models/{version}/promote',
      'GET /v1/admin/experiments/{id}/results',
      'GET /v1/admin/jobs',
    ];
    expect(operations.map((o) => o.route).sort()).toEqual(
      [
        ...withBody,
        ...withQuery,
        'DELETE /v1/users/{userId}',
        'GET /v1/users/{userId}/profile',
        'GET /v1/admin/jobs/{id}',
        'GET /v1/admin/schedules',
        'GET /v1/admin/models',
        'GET /v1/admin/rules',
        'POST /v1/admin/models/rollback',
        'POST /v1/admin/segments',
        'POST /v1/admin/feedback/aggregate',
        'GET /v1/admin/experiments',
        'GET /v1/admin/adaptive',
        'GET /v1/admin/experiments/{id}',
        'POST /v1/admin/experiments/{id}/start',
        'POST /v1/admin/experiments/{id}/pause',
        'POST /v1/admin/experiments/{id}/stop',
        'POST /v1/admin/experiments/{id}/unship',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
      ].sort(),
    );
    // A generated client and /docs list operations by summary under their tag.
    const declared = doc.tags.map((g) => g.name);
    const summaries = operations.map((o) => o.op.summary);
    expect(new Set(summaries).size, 'summaries are distinct').toBe(operations.length);
    for (const { route, op } of operations) {
      expect(op.summary, `${route} summary`).toMatch(/^[A-Z].{10,}/);
      expect(op.tags, `${route} tags`).toHaveLength(1);
      expect(declared, `${route} tag declared`).toContain(op.tags![0]);
    }
    expect(new Set(operations.map((o) => o.op.tags![0])), 'every declared tag used').toEqual(
      new Set(declared),
    );
    for (const { route, path, op } of operations) {
      const params = op.parameters ?? [];
      for (const [, name] of path.matchAll(/\{(\w+)\}/g))
        expect(
          params.some((p) => p.in === 'path' && p.name === name),
          `${route} params`,
        ).toBe(true);
      expect(
        params.some((p) => p.in === 'query'),
        `${route} querystring`,
      ).toBe(withQuery.includes(route));
      expect(op.requestBody !== undefined, `${route} body`).toBe(withBody.includes(route));
      const statuses = Object.keys(op.responses ?? {}).map((s) => s.toLowerCase());
      expect(
        statuses.some((s) => /^2\d\d$/.test(s)),
        `${route} success response`,
      ).toBe(true);
      expect(statuses, `${route} error responses`).toEqual(expect.arrayContaining(['4xx', '5xx']));
    }
    // Batches show their records' fields (a generated client needs them), though each record is
    // validated on its own.
    type Body = { content: Record<string, { schema: { properties: Record<string, RecordSchema> } }> };
    type RecordSchema = { items: { required: string[]; properties: Record<string, unknown> } };
    const record = (route: string, key: string) => {
      const op = operations.find((o) => o.route === route)!.op.requestBody as Body;
      return op.content['application/json']!.schema.properties[key]!.items;
    };
    const event = record('POST /v1/events', 'events');
    expect(event.required.sort()).toEqual(['eventId', 'itemId', 'timestamp', 'type']);
    expect(Object.keys(event.properties)).toEqual(
      expect.arrayContaining(['userId', 'sessionId', 'price', 'quantity', 'value', 'recommendationId']),
    );
    const item = record('PUT /v1/items', 'items');
    // A title is required of a new item only (a stored one keeps its own): not of every record.
    expect(item.required.sort()).toEqual(['itemId']);
    expect(Object.keys(item.properties)).toEqual(
      expect.arrayContaining(['categories', 'price', 'stock', 'status', 'publishedAt', 'repurchasable']),
    );
  });
});
