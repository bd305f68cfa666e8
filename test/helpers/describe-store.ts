/** One suite every `Store` implementation must pass (gorse's `baseTestSuite`). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErasedError } from '../../src/errors.ts';
import { MAX_STOCK } from '../../src/store/validate.ts';
import type { Attribution, Item, ShelfEvent, Store, UserActivity } from '../../src/store/types.ts';
import { describeFeedbackStore, impression } from './describe-feedback-store.ts';

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function item(itemId: string, over: Partial<Item> = {}): Item {
  return {
    itemId,
    title: `Item ${itemId}`,
    categories: ['Home > Kitchen'],
    status: 'active',
    publishedAt: T0,
    repurchasable: false,
    attributes: {},
    ...over,
  };
}

export function event(eventId: string, over: Partial<ShelfEvent> = {}): ShelfEvent {
  return { eventId, type: 'view', userId: 'u1', itemId: 'i1', timestamp: T0, ...over };
}

/** A purchase credited to list `recommendationId` (of `visitor`), sent with only session `sessionId`. */
function sessionCredit(
  eventId: string,
  sessionId: string,
  recommendationId: string,
  visitor = `s:${sessionId}`,
): Attribution {
  return {
    eventId,
    type: 'purchase',
    itemId: 'a',
    sessionId,
    at: T0,
    recommendationId,
    position: 0,
    units: 1,
    revenue: 5,
    tier: 'personalized',
    modelVersion: 'v1',
    config: 'default',
    variant: '',
    day: '2026-01-01',
    visitor,
  };
}

/** 'erased' for the store's refusal of an erased user; any other error is thrown again. */
function erasedOr(err: unknown): 'erased' {
  if (err instanceof ErasedError) return 'erased';
  throw err;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const e of it) out.push(e);
  return out;
}

export interface StoreHarness {
  store: Store;
  cleanup(): Promise<void>;
}

export function describeStore(name: string, make: () => Promise<StoreHarness | null>): void {
  describe(`Store: ${name}`, () => {
    let h: StoreHarness | null = null;
    let store: Store;
    beforeEach(async (ctx) => {
      h = await make();
      if (!h) return ctx.skip();
      store = h.store;
    });
    afterEach(async () => {
      await h?.cleanup();
      h = null;
    });

    it('migrates idempotently', async () => {
      await store.migrate();
      await store.migrate();
      expect((await store.stats()).items).toBe(0);
    });

    it('answers a ping (what readiness probes ask)', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('says whether it is empty: an item or a user alone makes it not', async () => {
      expect(await store.isEmpty()).toBe(true);
      await store.upsertUsers([
        { userId: 'u-only', attributes: {}, createdAt: T0, consent: { personalization: true } },
      ]);
      expect(await store.isEmpty()).toBe(false);
      const other = (await make())!;
      try {
        expect(await other.store.isEmpty()).toBe(true);
        await other.store.upsertItems([item('i-only')]);
        expect(await other.store.isEmpty()).toBe(false);
      } finally {
        await other.cleanup();
      }
    });

    it('says whether any event is stored', async () => {
      expect(await store.hasEvents()).toBe(false);
      await store.insertEvents([event('first')]);
      expect(await store.hasEvents()).toBe(true);
    });

    it('keeps the first generated keys offered: later and concurrent offers get that pair', async () => {
      const offer = (n: number) => ({ storefront: `sk_offer-${n}`, admin: `ak_offer-${n}` });
      const racing = await Promise.all([1, 2, 3].map((n) => store.generatedKeys(offer(n))));
      expect(new Set(racing.map((k) => `${k.storefront} ${k.admin}`)).size).toBe(1);
      expect([1, 2, 3].map((n) => offer(n).storefront)).toContain(racing[0]!.storefront);
      expect(racing[0]!.admin).toBe(racing[0]!.storefront.replace('sk_', 'ak_'));
      expect(await store.generatedKeys(offer(4))).toEqual(racing[0]);
    });

    it('holds the most stock an item may have', async () => {
      await store.upsertItems([item('max', { stock: MAX_STOCK })]);
      expect((await store.getItem('max'))!.stock).toBe(MAX_STOCK);
    });

    it('keeps the merchandising rules last saved, with their time', async () => {
      expect(await store.merchantRules()).toBeNull();
      const first = {
        pins: [
          { itemId: 'a', slot: 0, tiers: ['homepage'] },
          { itemId: 'b', slot: 3, category: 'Home > Mugs' },
        ],
        boosts: { brands: { Acme: 1.5 }, categories: { Home: 0.5 } },
      };
      await store.saveMerchantRules(first, 1000);
      expect(await store.merchantRules()).toEqual({ rules: first, updatedAt: 1000 });
      const second = { pins: [], boosts: { itemIds: { c: 2 } } };
      await store.saveMerchantRules(second, 2000);
      expect(await store.merchantRules()).toEqual({ rules: second, updatedAt: 2000 });
    });

    it('round-trips items with every field, and upserts idempotently', async () => {
      const full = item('a', {
        description: 'A mug',
        categories: ['Home > Kitchen > Mugs', 'Gifts'],
        brand: 'Acme',
        price: 12.5,
        currency: 'EUR',
        stock: 3,
        repurchasable: true,
        attributes: { color: 'red', size: 2, organic: false },
      });
      expect(await store.upsertItems([full, item('b')])).toEqual({ written: 2 });
      expect(await store.upsertItems([full, item('b')])).toEqual({ written: 0 });
      expect(await store.getItem('a')).toEqual(full);
      expect(await store.getItem('missing')).toBeNull();
      expect((await store.stats()).items).toBe(2);
      expect(await store.upsertItems([{ ...full, stock: 0, status: 'delisted' }])).toEqual({ written: 1 });
      expect(await store.getItem('a')).toMatchObject({ stock: 0, status: 'delisted' });
      expect((await store.stats()).activeItems).toBe(1);
    });

    it('gets items by id in the order asked and pages through all items', async () => {
      await store.upsertItems(['c', 'a', 'b', 'd'].map((id) => item(id)));
      expect((await store.getItems(['d', 'x', 'a'])).map((i) => i.itemId)).toEqual(['d', 'a']);
      const first = await store.listItems({ limit: 3 });
      expect(first.map((i) => i.itemId)).toEqual(['a', 'b', 'c']);
      const rest = await store.listItems({ after: 'c', limit: 3 });
      expect(rest.map((i) => i.itemId)).toEqual(['d']);
    });

    it('round-trips users and consent', async () => {
      const u = {
        userId: 'u9',
        attributes: { tier: 'gold' },
        createdAt: T0,
        consent: { personalization: false },
      };
      expect(await store.upsertUsers([u])).toEqual({ written: 1 });
      expect(await store.upsertUsers([u])).toEqual({ written: 0 });
      expect(await store.upsertUsers([{ ...u, consent: { personalization: true } }])).toEqual({ written: 1 });
      await store.upsertUsers([u]);
      expect(await store.getUser('u9')).toEqual(u);
      expect(await store.getUser('nobody')).toBeNull();
      await store.upsertUsers([{ ...u, userId: 'u8', consent: { personalization: true } }]);
      // Those with a profile only, each once.
      expect(await store.consentOf(['u9', 'u8', 'nobody', 'u9'])).toEqual(
        new Map([
          ['u9', false],
          ['u8', true],
        ]),
      );
      expect(await store.consentOf([])).toEqual(new Map());
    });

    it('stores an event once per eventId, inside and across batches', async () => {
      const e = event('e1', {
        type: 'purchase',
        quantity: 2,
        price: 9.99,
        recommendationId: 'r1',
        context: { page: 'home', mobile: true },
      });
      const first = await store.insertEvents([e, event('e2'), { ...e }]);
      expect(first).toEqual({
        stored: 2,
        duplicates: 1,
        erased: 0,
        invalid: [],
        statuses: ['stored', 'stored', 'duplicate'],
      });
      const again = await store.insertEvents([e, event('e3')]);
      expect(again.statuses).toEqual(['duplicate', 'stored']);
      const all = await collect(store.streamEvents());
      expect(all).toHaveLength(3);
      expect(all.find((x) => x.eventId === 'e1')).toEqual(e);
      expect((await store.stats()).eventsByType).toEqual({ purchase: 1, view: 2 });
    });

    // Issue #12, reproduction 6: on PostgreSQL one NUL in an id failed the whole batch (22021).
    it('stores the good events of a batch when one cannot be held (a NUL, a fractional time)', async () => {
      const result = await store.insertEvents([
        event('good-1'),
        event('bad-nul', { itemId: 'sku\u00001' }),
        event('bad-user', { userId: 'u\u0000x' }),
        event('bad-context', { context: { page: 'a\u0000b' } }),
        event('bad-time', { timestamp: T0 + 0.5 }),
        event('good-2'),
      ]);
      expect(result.statuses).toEqual(['stored', 'invalid', 'invalid', 'invalid', 'invalid', 'stored']);
      expect(result).toMatchObject({ stored: 2, duplicates: 0 });
      expect(result.invalid).toEqual([
        { index: 1, field: 'itemId', reason: expect.stringContaining('NUL') },
        { index: 2, field: 'userId', reason: expect.stringContaining('NUL') },
        { index: 3, field: 'context', reason: expect.stringContaining('NUL') },
        { index: 4, field: 'timestamp', reason: expect.stringContaining('whole number') },
      ]);
      expect((await collect(store.streamEvents())).map((e) => e.eventId)).toEqual(['good-1', 'good-2']);
      expect((await store.stats()).users).toBe(1); // no profile for the refused event's user
    });

    it('creates a profile for a user first seen in events', async () => {
      await store.insertEvents([event('e1', { userId: 'new', timestamp: T0 + 5 })]);
      expect(await store.getUser('new')).toMatchObject({ userId: 'new', createdAt: T0 + 5 });
      await store.insertEvents([event('e2', { userId: undefined, sessionId: 's1' })]);
      expect((await store.stats()).users).toBe(1);
    });

    it('streams events in time order (ties by insertion) across batches and windows', async () => {
      const events: ShelfEvent[] = [];
      for (let i = 0; i < 53; i++) events.push(event(`e${i}`, { timestamp: T0 + ((i * 7) % 10) * 1000 }));
      await store.insertEvents(events);
      const streamed = await collect(store.streamEvents({ batchSize: 5 }));
      expect(streamed).toHaveLength(53);
      const expected = [...events].sort((a, b) => a.timestamp - b.timestamp); // stable: ties keep insertion
      expect(streamed.map((e) => e.eventId)).toEqual(expected.map((e) => e.eventId));
      const window = await collect(store.streamEvents({ from: T0 + 3000, to: T0 + 6000, batchSize: 4 }));
      expect(window.every((e) => e.timestamp >= T0 + 3000 && e.timestamp < T0 + 6000)).toBe(true);
      expect(window).toHaveLength(
        expected.filter((e) => e.timestamp >= T0 + 3000 && e.timestamp < T0 + 6000).length,
      );
    });

    it("streams the users' interactions in the events' order, without anonymous ones", async () => {
      const events: ShelfEvent[] = [];
      for (let i = 0; i < 29; i++)
        events.push(
          event(`e${i}`, {
            timestamp: T0 + ((i * 7) % 10) * 1000,
            itemId: `i${i % 4}`,
            ...(i % 5 === 0 ? { userId: undefined, sessionId: 's1' } : { userId: `u${i % 3}` }),
            ...(i % 4 === 0
              ? { type: 'rating' as const, value: 4.5 }
              : { type: 'purchase' as const, quantity: i }),
          }),
        );
      await store.insertEvents(events);
      const asRow = (e: ShelfEvent) => [
        e.userId,
        e.itemId,
        e.type,
        e.value ?? null,
        e.quantity ?? null,
        e.timestamp,
      ];
      const read = async (q: Parameters<typeof store.streamInteractions>[0]) => {
        const rows: unknown[][] = [];
        for await (const batch of store.streamInteractions(q))
          for (const r of batch) rows.push(r.slice(0, 6));
        return rows;
      };
      const users = (await collect(store.streamEvents())).filter((e) => e.userId !== undefined);
      expect(users).toHaveLength(23);
      expect(await read({ batchSize: 4 })).toEqual(users.map(asRow));
      const window = users.filter((e) => e.timestamp >= T0 + 3000 && e.timestamp < T0 + 6000);
      expect(window.length).toBeGreaterThan(3);
      expect(await read({ from: T0 + 3000, to: T0 + 6000, batchSize: 3 })).toEqual(window.map(asRow));
      const rated = users.filter((e) => e.type === 'rating');
      expect(await read({ types: ['rating'], batchSize: 2 })).toEqual(rated.map(asRow));
    });

    it('filters the stream by event type', async () => {
      await store.insertEvents([event('a'), event('b', { type: 'purchase' }), event('c', { type: 'click' })]);
      const bought = await collect(store.streamEvents({ types: ['purchase', 'click'], batchSize: 1 }));
      expect(bought.map((e) => e.eventId)).toEqual(['b', 'c']);
    });

    it('returns a user’s recent events newest first', async () => {
      await store.insertEvents([1, 3, 2].map((k) => event(`e${k}`, { timestamp: T0 + k })));
      expect((await store.recentEvents('u1', 2)).map((e) => e.eventId)).toEqual(['e3', 'e2']);
    });

    it('returns a session’s anonymous events newest first, not those of its user', async () => {
      await store.insertEvents([
        event('a1', { userId: undefined, sessionId: 'visit' }),
        event('a3', { userId: undefined, sessionId: 'visit', timestamp: T0 + 2 }),
        event('a2', { userId: undefined, sessionId: 'visit', timestamp: T0 + 1 }),
        event('logged', { sessionId: 'visit', timestamp: T0 + 3 }),
        event('elsewhere', { userId: undefined, sessionId: 'another', timestamp: T0 + 4 }),
      ]);
      expect((await store.sessionEvents('visit', 2)).map((e) => e.eventId)).toEqual(['a3', 'a2']);
      expect((await store.sessionEvents('visit', 10)).map((e) => e.eventId)).toEqual(['a3', 'a2', 'a1']);
      await store.mergeSession('visit', 'u1');
      expect(await store.sessionEvents('visit', 10)).toEqual([]);
    });

    it('lists the distinct items of a session’s anonymous events by event type', async () => {
      await store.insertEvents([
        event('b1', { userId: undefined, sessionId: 'visit', itemId: 'b', type: 'purchase' }),
        event('b2', {
          userId: undefined,
          sessionId: 'visit',
          itemId: 'b',
          type: 'purchase',
          timestamp: T0 + 1,
        }),
        event('v1', { userId: undefined, sessionId: 'visit', itemId: 'c' }),
        event('u1', { sessionId: 'visit', itemId: 'd', type: 'purchase' }),
        event('x1', { userId: undefined, sessionId: 'another', itemId: 'e', type: 'purchase' }),
      ]);
      expect(await store.sessionItems('visit', ['purchase', 'dislike'])).toEqual([
        { itemId: 'b', type: 'purchase', at: T0 + 1 },
      ]);
      expect(await store.sessionItems('visit', ['view'])).toEqual([{ itemId: 'c', type: 'view', at: T0 }]);
      await store.mergeSession('visit', 'u1');
      expect(await store.sessionItems('visit', ['purchase'])).toEqual([]);
    });

    it("lists the distinct items of a user's whole history by event type", async () => {
      await store.insertEvents([
        event('p1', { itemId: 'b', type: 'purchase' }),
        event('p2', { itemId: 'b', type: 'purchase', timestamp: T0 + 1 }),
        event('r1', { itemId: 'a', type: 'rating', value: 4 }),
        event('v1', { itemId: 'c', type: 'view' }),
        event('x1', { itemId: 'd', type: 'purchase', userId: 'someone-else' }),
      ]);
      expect(await store.userItems('u1', ['purchase', 'rating', 'dislike'])).toEqual([
        { itemId: 'a', type: 'rating', at: T0 },
        { itemId: 'b', type: 'purchase', at: T0 + 1 },
      ]);
      expect(await store.userItems('u1', ['view'])).toEqual([{ itemId: 'c', type: 'view', at: T0 }]);
      expect(await store.userItems('nobody', ['purchase'])).toEqual([]);
    });

    it('merges a session into a user', async () => {
      await store.insertEvents([
        event('s1', { userId: undefined, sessionId: 'sess' }),
        event('s2', { userId: undefined, sessionId: 'sess', timestamp: T0 + 1 }),
        event('o1', { userId: undefined, sessionId: 'other' }),
      ]);
      expect(await store.mergeSession('sess', 'alice')).toBe(2);
      expect((await store.recentEvents('alice', 10)).map((e) => e.eventId)).toEqual(['s2', 's1']);
      expect(await store.getUser('alice')).not.toBeNull();
      expect(await store.mergeSession('sess', 'alice')).toBe(0);
    });

    it('deletes a user: profile and every event, nobody else’s', async () => {
      await store.upsertUsers([
        { userId: 'gone', attributes: {}, createdAt: T0, consent: { personalization: true } },
      ]);
      await store.insertEvents([
        event('g1', { userId: 'gone' }),
        event('g2', { userId: undefined, sessionId: 'gs' }),
        event('k1', { userId: 'kept' }),
      ]);
      await store.mergeSession('gs', 'gone');
      expect(await store.deleteUser('gone')).toEqual({ user: true, events: 2 });
      expect(await store.getUser('gone')).toBeNull();
      const left = await collect(store.streamEvents());
      expect(left.map((e) => e.eventId)).toEqual(['k1']);
      expect(await store.deleteUser('gone')).toEqual({ user: false, events: 0 });
    });

    it('leaves a tombstone: an erased user’s later events are not stored, nobody else’s are', async () => {
      await store.insertEvents([event('g1', { userId: 'gone' })]);
      await store.deleteUser('gone', T0);
      expect(await store.erasedAmong(['gone', 'kept', 'nobody'])).toEqual(new Set(['gone']));
      expect(await store.erasedUsers()).toEqual(['gone']);
      const r = await store.insertEvents([
        event('g2', { userId: 'gone' }),
        event('k1', { userId: 'kept' }),
        event('s1', { userId: undefined, sessionId: 's' }),
      ]);
      expect(r).toEqual({
        stored: 2,
        duplicates: 0,
        erased: 1,
        invalid: [],
        statuses: ['erased', 'stored', 'stored'],
      });
      expect(await store.getUser('gone')).toBeNull();
      expect((await collect(store.streamEvents())).map((e) => e.eventId).sort()).toEqual(['k1', 's1']);
    });

    // Seen on PostgreSQL: of 5 events posted while DELETE /v1/users/:id ran on another replica, one
    // answered `accepted` outlived the erasure (its insert read no tombstone, and committed after
    // the erasure's DELETE had read the events), in 4 runs of 6.
    it('keeps no event or profile of a user erased while its events are being stored', async () => {
      for (let round = 0; round < 30; round++) {
        const userId = `racing-${round}`;
        const insert = (k: number) => store.insertEvents([event(`race-${round}-${k}`, { userId })]);
        const [before, , after] = await Promise.all([
          Promise.all([0, 1, 2].map(insert)),
          store.deleteUser(userId),
          Promise.all([3, 4, 5].map(insert)),
        ]);
        for (const r of [...before, ...after]) expect(['stored', 'erased']).toContain(r.statuses[0]);
        expect(await store.recentEvents(userId, 10)).toEqual([]);
        expect(await store.getUser(userId)).toBeNull();
      }
    });

    it('refuses a merge into an erased user, a patch of one and its import, and writes nothing of theirs', async () => {
      await store.insertEvents([
        event('g1', { userId: 'gone' }),
        event('s1', { userId: undefined, sessionId: 'gs' }),
      ]);
      await store.insertImpressions([impression('gs-list', { userId: undefined, sessionId: 'gs' })]);
      await store.insertAttributions([sessionCredit('gs-buy', 'gs', 'gs-list')]);
      await store.deleteUser('gone');
      await expect(store.mergeSession('gs', 'gone')).rejects.toBeInstanceOf(ErasedError);
      await expect(store.patchUser('gone', { consent: { personalization: true } }, T0)).rejects.toMatchObject(
        { code: 'SHELF_ERR_ERASED', statusCode: 410, userId: 'gone' },
      );
      // Nor does a user import (its tombstone lookup ran before the store's transaction).
      const profile = { userId: 'gone', attributes: {}, createdAt: T0, consent: { personalization: true } };
      expect(await store.upsertUsers([profile, { ...profile, userId: 'kept' }])).toEqual({ written: 1 });
      expect(await store.recentEvents('gone', 10)).toEqual([]);
      expect(await store.getUser('gone')).toBeNull();
      expect(await store.listsShownTo({ userId: 'gone' }, 0, 10)).toEqual([]);
      expect(await store.purchaseAttribution({ userId: 'gone' }, 'a', T0 + DAY)).toBeNull();
      // The session keeps what it had, anonymous.
      expect((await store.sessionEvents('gs', 10)).map((e) => e.eventId)).toEqual(['s1']);
      expect(await store.listsShownTo({ sessionId: 'gs' }, 0, 10)).toHaveLength(1);
      expect(await store.purchaseAttribution({ sessionId: 'gs' }, 'a', T0 + DAY)).toMatchObject({
        eventId: 'gs-buy',
      });
    });

    // The routes looked for the tombstone before the store's transaction: a merge or a patch
    // beside DELETE /v1/users/:id could write to the user after the erasure had committed (the
    // session's events, lists and credits moved onto its id; its profile made again). Each
    // session also holds a list of the user's with a session-only credit: the erasure deletes
    // that credit while a merge of the session moves the session's.
    it('keeps nothing of a user erased while sessions are being merged into it and it is patched', async () => {
      for (let round = 0; round < 30; round++) {
        const userId = `merging-${round}`;
        const sessions = [0, 1, 2, 3, 4, 5].map((k) => `m-${round}-${k}`);
        await store.insertEvents(sessions.map((s) => event(`${s}-e`, { userId: undefined, sessionId: s })));
        await store.insertImpressions(
          sessions.flatMap((s) => [
            impression(`${s}-anon`, { userId: undefined, sessionId: s }),
            impression(`${s}-signed`, { userId, sessionId: s }),
          ]),
        );
        await store.insertAttributions(
          sessions.flatMap((s) => [
            sessionCredit(`${s}-buy`, s, `${s}-anon`),
            sessionCredit(`${s}-buy-signed`, s, `${s}-signed`, `u:${userId}`),
          ]),
        );
        const merge = (s: string) => store.mergeSession(s, userId).catch(erasedOr);
        const patch = () => store.patchUser(userId, { attributes: { round } }, T0).catch(erasedOr);
        const [before, , after] = await Promise.all([
          Promise.all([merge(sessions[0]!), patch(), merge(sessions[1]!), merge(sessions[2]!)]),
          store.deleteUser(userId),
          Promise.all([merge(sessions[3]!), patch(), merge(sessions[4]!), merge(sessions[5]!)]),
        ]);
        // A merge moved its session's one event, a patch answered the profile; or either was refused.
        for (const r of [...before, ...after])
          expect([1, userId, 'erased']).toContain(typeof r === 'object' ? r.userId : r);
        expect(await store.recentEvents(userId, 10)).toEqual([]);
        expect(await store.getUser(userId)).toBeNull();
        expect(await store.listsShownTo({ userId }, 0, 10)).toEqual([]);
        expect(await store.purchaseAttribution({ userId }, 'a', T0 + DAY)).toBeNull();
      }
    });

    it('never moves a user’s createdAt, on import or patch; patches consent and attributes', async () => {
      const u = {
        userId: 'u9',
        attributes: { tier: 'gold' },
        createdAt: T0,
        consent: { personalization: true },
      };
      await store.upsertUsers([u]);
      await store.upsertUsers([{ ...u, createdAt: T0 + DAY, consent: { personalization: false } }]);
      expect(await store.getUser('u9')).toEqual({ ...u, consent: { personalization: false } });
      const p = await store.patchUser(
        'u9',
        { consent: { personalization: true }, attributes: { city: 'Oslo' } },
        T0 + 2 * DAY,
      );
      expect(p).toEqual({ ...u, attributes: { tier: 'gold', city: 'Oslo' } });
      expect(await store.getUser('u9')).toEqual(p);
      expect(await store.patchUser('new', { consent: { personalization: false } }, T0 + 3 * DAY)).toEqual({
        userId: 'new',
        attributes: {},
        createdAt: T0 + 3 * DAY,
        consent: { personalization: false },
      });
    });

    it('keeps the change feed in order, pages it and says its newest seq', async () => {
      expect(await store.lastChangeSeq()).toBe(0);
      const first = await store.appendChanges([{ kind: 'items', itemIds: ['a', 'b'] }], T0);
      const last = await store.appendChanges(
        [
          { kind: 'erased', userId: 'u1' },
          { kind: 'version', version: 'v2' },
        ],
        T0 + 1,
      );
      expect(last).toBe(first + 2);
      expect(await store.lastChangeSeq()).toBe(last);
      const all = await store.changesSince(0, 10);
      expect(all.map((c) => c.change)).toEqual([
        { kind: 'items', itemIds: ['a', 'b'] },
        { kind: 'erased', userId: 'u1' },
        { kind: 'version', version: 'v2' },
      ]);
      expect(all.map((c) => c.seq)).toEqual([first, first + 1, first + 2]);
      expect(all[2]!.at).toBe(T0 + 1);
      expect((await store.changesSince(first, 1)).map((c) => c.seq)).toEqual([first + 1]);
      expect(await store.changesSince(last, 10)).toEqual([]);
    });

    it('prunes the change log before a time, never its newest change', async () => {
      const old = await store.appendChanges(
        [
          { kind: 'items', itemIds: ['a'] },
          { kind: 'erased', userId: 'u1' },
        ],
        T0,
      );
      const kept = await store.appendChanges([{ kind: 'version', version: 'v2' }], T0 + 10);
      expect(await store.pruneChanges(T0 + 5)).toBe(2);
      expect((await store.changesSince(0, 10)).map((c) => c.seq)).toEqual([kept]);
      // Everything older, the newest too: the newest stays, so the log's head is never lost.
      expect(await store.pruneChanges(T0 + 100)).toBe(0);
      expect(await store.lastChangeSeq()).toBe(kept);
      const next = await store.appendChanges([{ kind: 'items', itemIds: ['b'] }], T0 + 200);
      expect(next).toBeGreaterThan(kept);
      expect(old).toBeLessThan(kept);
    });

    it('appends to the audit log and reads it newest first, a page at a time', async () => {
      await store.appendAudit([
        { at: T0, role: 'admin', keyId: 'admin:abc', action: 'model.promote', target: 'v1' },
        {
          at: T0 + 1,
          role: 'storefront',
          keyId: 'storefront:def',
          action: 'user.consent',
          target: 'u1',
          detail: { personalization: false },
        },
        { at: T0 + 2, role: 'cli', keyId: null, action: 'user.erase', target: 'u2' },
      ]);
      const page = await store.audit({ limit: 2 });
      expect(page.map((e) => e.action)).toEqual(['user.erase', 'user.consent']);
      expect(page[1]).toMatchObject({
        role: 'storefront',
        keyId: 'storefront:def',
        detail: { personalization: false },
      });
      const next = await store.audit({ before: page[1]!.seq });
      expect(next).toHaveLength(1);
      expect(next[0]).toEqual({
        seq: next[0]!.seq,
        at: T0,
        role: 'admin',
        keyId: 'admin:abc',
        action: 'model.promote',
        target: 'v1',
      });
    });

    describe('user activity', () => {
      // u1: two purchase lines on day 0 (one without quantity), one without price on day 2, a
      // partial return on day 3, a view and a rating. Amounts are exact in binary, so both
      // backends must agree to the bit.
      const u1Events = [
        event('v1', { userId: 'u1', type: 'view', timestamp: T0 }),
        event('p1', { userId: 'u1', type: 'purchase', price: 12.5, quantity: 2, timestamp: T0 + HOUR }),
        event('p2', { userId: 'u1', type: 'purchase', price: 4.25, timestamp: T0 + 2 * HOUR }),
        event('p3', { userId: 'u1', type: 'purchase', quantity: 3, timestamp: T0 + 2 * DAY }),
        event('r1', { userId: 'u1', type: 'return', price: 12.5, quantity: 1, timestamp: T0 + 3 * DAY }),
        event('x1', { userId: 'u1', type: 'rating', value: 4, timestamp: T0 + 4 * DAY }),
      ];
      const u1: UserActivity = {
        userId: 'u1',
        firstEventAt: T0,
        lastEventAt: T0 + 4 * DAY,
        events: 6,
        purchases: 2, // purchase days, not lines
        revenue: 2 * 12.5 + 4.25 + 0 - 12.5,
      };
      const none = (userId: string): UserActivity => ({
        userId,
        firstEventAt: null,
        lastEventAt: null,
        events: 0,
        purchases: 0,
        revenue: 0,
      });

      it('aggregates one user: purchases net of returns, quantities, missing prices', async () => {
        await store.insertEvents([
          ...u1Events,
          event('o1', { userId: 'u2', type: 'purchase', price: 100, timestamp: T0 + DAY }),
          event('s1', { userId: undefined, sessionId: 'anon', type: 'purchase', price: 100, timestamp: T0 }),
        ]);
        expect(await store.userActivity('u1')).toEqual(u1);
        expect(await store.userActivity('u2')).toMatchObject({ events: 1, purchases: 1, revenue: 100 });
      });

      it('gives a user without events zeros and nulls, and a return-only user negative revenue', async () => {
        await store.upsertUsers([
          { userId: 'idle', attributes: {}, createdAt: T0, consent: { personalization: true } },
        ]);
        await store.insertEvents([
          event('r', { userId: 'ret', type: 'return', price: 3, quantity: 2, timestamp: T0 }),
          event('r0', { userId: 'ret', type: 'return', timestamp: T0 + 1 }),
        ]);
        expect(await store.userActivity('idle')).toEqual(none('idle'));
        expect(await store.userActivity('nobody')).toEqual(none('nobody'));
        expect(await store.userActivity('ret')).toEqual({
          userId: 'ret',
          firstEventAt: T0,
          lastEventAt: T0 + 1,
          events: 2,
          purchases: 0,
          revenue: -6,
        });
      });

      it('counts only events at or after `since`', async () => {
        await store.insertEvents(u1Events);
        expect(await store.userActivity('u1', T0 + 2 * DAY)).toEqual({
          userId: 'u1',
          firstEventAt: T0 + 2 * DAY,
          lastEventAt: T0 + 4 * DAY,
          events: 3,
          purchases: 1,
          revenue: -12.5,
        });
        expect(await store.userActivity('u1', T0 + 4 * DAY + 1)).toEqual(none('u1'));
      });

      it('counts a merged session’s events and forgets a deleted user', async () => {
        await store.insertEvents([
          event('a1', { userId: undefined, sessionId: 'sess', type: 'purchase', price: 5, timestamp: T0 }),
          event('a2', { userId: 'alice', timestamp: T0 + DAY }),
        ]);
        expect(await store.userActivity('alice')).toMatchObject({ events: 1, revenue: 0 });
        await store.mergeSession('sess', 'alice');
        expect(await store.userActivity('alice')).toMatchObject({ events: 2, purchases: 1, revenue: 5 });
        await store.deleteUser('alice');
        expect(await store.userActivity('alice')).toEqual(none('alice'));
      });

      it('streams every user’s activity in userId order across pages, skipping anonymous events', async () => {
        const ids = ['ua', 'ub', 'uc', 'ud', 'ue'];
        await store.insertEvents([
          ...ids.flatMap((userId, k) =>
            Array.from({ length: k + 1 }, (_, j) =>
              event(`${userId}-${j}`, {
                userId,
                type: j === 0 ? 'view' : 'purchase',
                price: 10,
                quantity: j,
                timestamp: T0 + j * DAY,
              }),
            ),
          ),
          event('anon', { userId: undefined, sessionId: 'sess', type: 'purchase', price: 99 }),
        ]);
        await store.upsertUsers([
          { userId: 'profile-only', attributes: {}, createdAt: T0, consent: { personalization: true } },
        ]);
        for (const batchSize of [1, 2, 5, 100]) {
          const all = await collect(store.usersActivity({ batchSize }));
          expect(all.map((a) => a.userId)).toEqual(ids);
          for (const a of all) expect(a).toEqual(await store.userActivity(a.userId));
        }
        expect((await collect(store.usersActivity()))[4]).toEqual({
          userId: 'ue',
          firstEventAt: T0,
          lastEventAt: T0 + 4 * DAY,
          events: 5,
          purchases: 4,
          revenue: 10 * (1 + 2 + 3 + 4),
        });
      });

      it('streams only users with events since the bound, and none after a delete', async () => {
        await store.insertEvents([
          ...u1Events,
          event('old', { userId: 'old', timestamp: T0 - DAY }),
          event('gone', { userId: 'gone', timestamp: T0 + 5 * DAY }),
        ]);
        expect(await collect(store.usersActivity())).toHaveLength(3);
        await store.deleteUser('gone');
        const recent = await collect(store.usersActivity({ since: T0 + 2 * DAY, batchSize: 1 }));
        expect(recent).toEqual([await store.userActivity('u1', T0 + 2 * DAY)]);
        expect(await collect(store.usersActivity({ since: T0 - DAY }))).toEqual([
          await store.userActivity('old'),
          u1,
        ]);
      });

      it('streams nothing from an empty store', async () => {
        expect(await collect(store.usersActivity())).toEqual([]);
      });
    });

    describeFeedbackStore(() => store);

    it('reports stats with the time span', async () => {
      expect(await store.stats()).toEqual({
        items: 0,
        activeItems: 0,
        users: 0,
        events: 0,
        eventsByType: {},
        firstEventAt: null,
        lastEventAt: null,
      });
      await store.insertEvents([event('a', { timestamp: T0 + 10 }), event('b', { timestamp: T0 + 99 })]);
      expect(await store.stats()).toMatchObject({ events: 2, firstEventAt: T0 + 10, lastEventAt: T0 + 99 });
    });
  });
}
