/**
 * Issue #12, "input that cannot skew lists", at the HTTP API: events dated in the future, ids
 * with control characters, non-finite revenue, a session merged into an e-mail address, and
 * guessing keys. Shelf without a model (trending only) over an in-memory store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createShelf } from '../../../src/app/create-shelf.ts';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import { loadConfig } from '../../../src/config.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { ShelfEvent, Store } from '../../../src/store/types.ts';

const log = pino({ level: 'silent' });
const NOW = Date.UTC(2026, 10, 25, 10);
const MINUTE = 60_000;
const SHOP = 'storefront-key-0123456789';
const ADMIN = 'admin-key-0123456789abcdef';
const as = (key: string) => ({ authorization: `Bearer ${key}` });

describe('HTTP API input guards', () => {
  let dir: string;
  let store: Store;
  let shelf: Shelf;

  const make = (env: Record<string, string> = {}) =>
    createShelf(
      loadConfig({ SHELF_DATA_DIR: dir, SHELF_API_KEYS: `storefront:${SHOP},admin:${ADMIN}`, ...env }),
      log,
      { store, now: () => NOW },
    );
  const post = (events: Record<string, unknown>[]) =>
    shelf.app.inject({ method: 'POST', url: '/v1/events', headers: as(SHOP), payload: { events } });
  const stored = async () => {
    const out: ShelfEvent[] = [];
    for await (const e of store.streamEvents()) out.push(e);
    return out.map((e) => e.eventId);
  };
  const view = (eventId: string, over: Record<string, unknown> = {}) => ({
    eventId,
    type: 'view',
    userId: 'u1',
    itemId: 'sku-1',
    timestamp: NOW - MINUTE,
    ...over,
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-guards-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    store = await openSqliteStore(':memory:');
    shelf = await make();
  });
  afterEach(async () => {
    await shelf.close();
    await store.close();
  });

  // Reproduction 5: one view dated 2099-12-31 made that item's trending score Infinity.
  it('rejects events dated more than the allowed skew past the clock, storing the rest of the batch', async () => {
    const res = await post([
      view('ok-now', { timestamp: NOW }),
      view('ok-skewed', { timestamp: NOW + 10 * MINUTE }),
      view('late-2099', { timestamp: '2099-12-31T00:00:00Z' }),
      view('just-past', { timestamp: NOW + 10 * MINUTE + 1000 }),
      view('history', { timestamp: '2019-05-01T08:00:00Z' }),
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 3, duplicates: 0, rejected: 2 });
    const rejected = res.json().results.filter((r: { status: string }) => r.status === 'rejected');
    expect(rejected).toEqual([
      {
        index: 2,
        eventId: 'late-2099',
        status: 'rejected',
        errors: [{ field: 'timestamp', reason: expect.stringContaining('past the latest time accepted') }],
      },
      {
        index: 3,
        eventId: 'just-past',
        status: 'rejected',
        errors: [{ field: 'timestamp', reason: expect.stringMatching(/^is 1 s past/) }],
      },
    ]);
    expect((await stored()).sort()).toEqual(['history', 'ok-now', 'ok-skewed']);
  });

  it('takes the allowed skew from SHELF_MAX_EVENT_SKEW_MS', async () => {
    await shelf.close();
    shelf = await make({ SHELF_MAX_EVENT_SKEW_MS: '0' });
    const res = await post([view('now', { timestamp: NOW }), view('soon', { timestamp: NOW + 1000 })]);
    expect(res.json().results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'rejected']);
  });

  // Reproduction 6: the good events of a batch are stored whatever the bad one holds.
  it('rejects ids with control characters per event, with the field and the reason', async () => {
    const res = await post([
      view('good-1'),
      view('nul-item', { itemId: 'sku\u00001' }),
      view('esc-user', { userId: 'u\u001b' }),
      view('good-2', { sessionId: 's-1', userId: undefined }),
    ]);
    expect(res.json()).toMatchObject({ accepted: 2, rejected: 2 });
    expect(res.json().results[1]).toMatchObject({
      status: 'rejected',
      errors: [{ field: 'itemId', reason: 'must not contain control characters (U+0000 at position 3)' }],
    });
    expect(res.json().results[2].errors).toEqual([
      { field: 'userId', reason: 'must not contain control characters (U+001B at position 1)' },
    ]);
    expect((await stored()).sort()).toEqual(['good-1', 'good-2']);
  });

  // A misspelt field was dropped and the event answered accepted: its click went uncredited.
  it('rejects an event or an item with a field it has not, naming the field', async () => {
    const res = await post([view('typo', { type: 'click', recomendationId: 'r-1' }), view('fine')]);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: 1 });
    expect(res.json().results[0]).toEqual({
      index: 0,
      eventId: 'typo',
      status: 'rejected',
      errors: [
        {
          field: 'recomendationId',
          reason: expect.stringMatching(/^is not a field of an event \(.*recommendationId/),
        },
      ],
    });
    expect(await stored()).toEqual(['fine']);
    const items = await shelf.app.inject({
      method: 'PUT',
      url: '/v1/items',
      headers: as(ADMIN),
      payload: {
        items: [
          { itemId: 'sku-9', title: 'Mug', color: 'red' },
          { itemId: 'sku-8', title: 'Cup' },
        ],
      },
    });
    expect(items.json()).toEqual({
      written: 1,
      rejected: 1,
      errors: [
        {
          index: 0,
          errors: [{ field: 'color', reason: expect.stringMatching(/free-form data goes in attributes$/) }],
        },
      ],
    });
    expect(await store.getItem('sku-9')).toBeNull();
  });

  it('rejects a purchase priced beyond any storefront (its sums would overflow), and keeps the others', async () => {
    const res = await post([
      view('huge', { type: 'purchase', price: 1.7e308 }),
      view('fine', { type: 'purchase', price: 19.99, quantity: 2 }),
    ]);
    expect(res.json().results[0]).toMatchObject({
      status: 'rejected',
      errors: [{ field: 'price', reason: 'must be at most 1000000000000' }],
    });
    expect(await stored()).toEqual(['fine']);
  });

  // A JSON body has types: ajv coerced them, so PATCH {"price": null} made an item free and
  // {"stock": null} sold it out, and {"consent": {"personalization": null}} withdrew consent.
  it('takes a JSON body as typed: null, "5" or true where a number or boolean goes is a 400 naming it', async () => {
    await store.upsertItems([
      {
        itemId: 'sku-1',
        title: 'Mug',
        categories: [],
        price: 9.5,
        stock: 3,
        status: 'active',
        publishedAt: NOW - 10 * 86_400_000,
        repurchasable: false,
        attributes: {},
      },
    ]);
    const patchItem = (payload: Record<string, unknown>) =>
      shelf.app.inject({ method: 'PATCH', url: '/v1/items/sku-1', headers: as(ADMIN), payload });
    for (const [payload, field] of [
      [{ price: null }, 'body/price'],
      [{ stock: null }, 'body/stock'],
      [{ stock: true }, 'body/stock'],
      [{ stock: '5' }, 'body/stock'],
    ] as const) {
      const res = await patchItem(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().message).toContain(field);
    }
    expect(await store.getItem('sku-1')).toMatchObject({ price: 9.5, stock: 3 });
    expect((await patchItem({ stock: 0 })).statusCode).toBe(200);
    const consent = await shelf.app.inject({
      method: 'PATCH',
      url: '/v1/users/u1',
      headers: as(SHOP),
      payload: { consent: { personalization: null } },
    });
    expect(consent.statusCode).toBe(400);
    expect(consent.json().message).toContain('body/consent/personalization');
    expect((await store.getUser('u1'))?.consent.personalization ?? true).toBe(true);
    // A batch that is no list is no batch (coerced, "x" was a batch of one rejected record).
    for (const [url, method, payload, field] of [
      ['/v1/events', 'POST', { events: 'x' }, 'body/events'],
      ['/v1/items', 'PUT', { items: 'x' }, 'body/items'],
    ] as const) {
      const res = await shelf.app.inject({ method, url, headers: as(ADMIN), payload });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().message).toContain(`${field} must be array`);
    }
    // A batch's records too: "5" is no number in a JSON event or item (the trial's purchase of
    // quantity "2" was stored as 2), refused naming the record's field; the rest are stored.
    const events = await shelf.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: as(SHOP),
      payload: {
        events: [
          { eventId: 't-1', type: 'purchase', userId: 'u1', itemId: 'sku-1', quantity: '2', timestamp: NOW },
          { eventId: 't-2', type: 'rating', userId: 'u1', itemId: 'sku-1', value: '4', timestamp: NOW },
          { eventId: 't-3', type: 'purchase', userId: 'u1', itemId: 'sku-1', quantity: 2, timestamp: NOW },
        ],
      },
    });
    expect(events.json()).toMatchObject({
      accepted: 1,
      rejected: 2,
      results: [
        { status: 'rejected', errors: [{ field: 'quantity', reason: 'must be a number, got "2"' }] },
        { status: 'rejected', errors: [{ field: 'value', reason: 'must be a number, got "4"' }] },
        { status: 'accepted' },
      ],
    });
    const items = await shelf.app.inject({
      method: 'PUT',
      url: '/v1/items',
      headers: as(ADMIN),
      payload: { items: [{ itemId: 'sku-1', title: 'Mug', price: '9.5' }] },
    });
    expect(items.json()).toMatchObject({
      written: 0,
      errors: [{ index: 0, errors: [{ field: 'price', reason: 'must be a number, got "9.5"' }] }],
    });
    // Query strings are text: their numbers and lists are still read from it.
    const list = await shelf.app.inject({
      url: '/v1/recommendations/cart?cartItemIds=sku-1&limit=5',
      headers: as(SHOP),
    });
    expect(list.statusCode).toBe(200);
  });

  it('names the allowed values of a path or body field that takes one of a few (an enum)', async () => {
    const tier = await shelf.app.inject({ url: '/v1/recommendations/bogus', headers: as(SHOP) });
    expect(tier.statusCode).toBe(400);
    expect(tier.json().message).toBe(
      'params/tier must be one of "homepage", "category", "personalized", "similar", "cart"',
    );
    const rules = await shelf.app.inject({
      method: 'PUT',
      url: '/v1/admin/rules',
      headers: as(ADMIN),
      payload: { pins: [{ itemId: 'sku-1', slot: 0, tiers: ['homepag'] }], boosts: {} },
    });
    expect(rules.statusCode).toBe(400);
    expect(rules.json().message).toMatch(/^body\/pins\/0\/tiers\/0 must be one of "homepage", /);
  });

  it('refuses ids with control characters in paths and queries (400, not a database error)', async () => {
    for (const url of [
      '/v1/users/a%00b/profile',
      '/v1/recommendations/homepage?userId=u%00',
      '/v1/recommendations/similar?itemId=sku%1b',
    ]) {
      const res = await shelf.app.inject({ url, headers: as(SHOP) });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().code, url).toBe('SHELF_ERR_VALIDATION');
    }
  });

  it('never merges a session into an e-mail-shaped user id', async () => {
    await post([view('anon', { userId: undefined, sessionId: 'visit-1' })]);
    const merge = (userId: string) =>
      shelf.app.inject({
        method: 'POST',
        url: '/v1/sessions/visit-1/merge',
        headers: as(SHOP),
        payload: { userId },
      });
    const email = await merge('ann@example.com');
    expect(email.statusCode).toBe(400);
    expect(email.json()).toMatchObject({
      code: 'SHELF_ERR_VALIDATION',
      details: [{ field: 'body/userId', reason: expect.stringContaining('e-mail address') }],
    });
    expect(await store.recentEvents('ann@example.com', 5)).toEqual([]);
    expect((await merge('u\u0000')).statusCode).toBe(400);
    const ok = await merge('u-ann');
    expect(ok.json()).toMatchObject({ userId: 'u-ann', eventsMoved: 1 });
  });

  it('never takes an e-mail address as a user id: a profile, its PATCH, a list asked for it', async () => {
    // Seen: PATCH created user x@y.org, its profile answered known, a list's impression named a@b.com.
    const asked = [
      {
        method: 'PATCH' as const,
        url: '/v1/users/x@y.org',
        payload: { attributes: { tier: 'gold' } },
        field: 'params/userId',
      },
      { method: 'GET' as const, url: '/v1/users/x@y.org/profile', field: 'params/userId' },
      {
        method: 'GET' as const,
        url: '/v1/recommendations/homepage?userId=a@b.com',
        field: 'querystring/userId',
      },
    ];
    for (const { field, ...request } of asked) {
      const res = await shelf.app.inject({ ...request, headers: as(SHOP) });
      expect(res.statusCode, request.url).toBe(400);
      expect(res.json().details, request.url).toEqual([
        { field, reason: 'looks like an e-mail address; send a pseudonymous id' },
      ]);
    }
    expect(await store.getUser('x@y.org')).toBeNull();
  });

  it('answers 429 to an address past its failed authentications, before looking at any key', async () => {
    await shelf.close();
    shelf = await make({ SHELF_AUTH_FAILURE_LIMIT: '3' });
    const from = (remoteAddress: string, key?: string) =>
      shelf.app.inject({
        url: '/v1/recommendations/homepage',
        remoteAddress,
        ...(key ? { headers: as(key) } : {}),
      });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await from('10.0.0.7', `wrong-key-${i}`)).statusCode);
    codes.push((await from('10.0.0.7')).statusCode);
    expect(codes).toEqual([401, 401, 401, 429]);
    // Blocked: the right key too (it could be the next guess), with the time to wait.
    const blocked = await from('10.0.0.7', SHOP);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json()).toMatchObject({ code: 'SHELF_ERR_RATE_LIMITED' });
    expect(blocked.json().message).toMatch(/^more than 3 failed authentications per minute/);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // Other addresses are untouched; a wrong role (403) is not a failed authentication.
    expect((await from('10.0.0.8', SHOP)).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) {
      const res = await shelf.app.inject({
        url: '/v1/admin/models',
        remoteAddress: '10.0.0.9',
        headers: as(SHOP),
      });
      expect(res.statusCode).toBe(403);
    }
    expect((await from('10.0.0.9', SHOP)).statusCode).toBe(200);
  });

  it('tells clients behind a trusted proxy apart by X-Forwarded-For, and only then', async () => {
    const guess = (forwardedFor: string, key = 'wrong-key-0123456789') =>
      shelf.app.inject({
        url: '/v1/recommendations/homepage',
        remoteAddress: '10.0.0.2', // the load balancer
        headers: { ...as(key), 'x-forwarded-for': forwardedFor },
      });
    // Not trusted: every client is the balancer; one guesser blocks the whole shop.
    await shelf.close();
    shelf = await make({ SHELF_AUTH_FAILURE_LIMIT: '3' });
    const guesses = async () => {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await guess('203.0.113.9')).statusCode);
      return codes;
    };
    expect(await guesses()).toEqual([401, 401, 401, 429]);
    expect((await guess('198.51.100.4', SHOP)).statusCode).toBe(429);
    // Trusted: the guesser alone is blocked; a forwarded address from elsewhere is not believed.
    await shelf.close();
    shelf = await make({ SHELF_AUTH_FAILURE_LIMIT: '3', SHELF_TRUST_PROXY: '10.0.0.0/8' });
    expect(await guesses()).toEqual([401, 401, 401, 429]);
    expect((await guess('203.0.113.9', SHOP)).statusCode).toBe(429);
    expect((await guess('198.51.100.4', SHOP)).statusCode).toBe(200);
    const spoofed = await shelf.app.inject({
      url: '/v1/recommendations/homepage',
      remoteAddress: '192.0.2.50', // not a trusted proxy: its header says nothing
      headers: { ...as(SHOP), 'x-forwarded-for': '203.0.113.9' },
    });
    expect(spoofed.statusCode).toBe(200);
  });
});
