/** One suite every `Store` implementation must pass (gorse's `baseTestSuite`). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Item, ShelfEvent, Store } from '../../src/store/types.ts';

const T0 = Date.UTC(2026, 0, 1);

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

async function collect(it: AsyncIterable<ShelfEvent>): Promise<ShelfEvent[]> {
  const out: ShelfEvent[] = [];
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
      expect(first).toEqual({ stored: 2, duplicates: 1, statuses: ['stored', 'stored', 'duplicate'] });
      const again = await store.insertEvents([e, event('e3')]);
      expect(again.statuses).toEqual(['duplicate', 'stored']);
      const all = await collect(store.streamEvents());
      expect(all).toHaveLength(3);
      expect(all.find((x) => x.eventId === 'e1')).toEqual(e);
      expect((await store.stats()).eventsByType).toEqual({ purchase: 1, view: 2 });
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

    it('filters the stream by event type', async () => {
      await store.insertEvents([event('a'), event('b', { type: 'purchase' }), event('c', { type: 'click' })]);
      const bought = await collect(store.streamEvents({ types: ['purchase', 'click'], batchSize: 1 }));
      expect(bought.map((e) => e.eventId)).toEqual(['b', 'c']);
    });

    it('returns a user’s recent events newest first', async () => {
      await store.insertEvents([1, 3, 2].map((k) => event(`e${k}`, { timestamp: T0 + k })));
      expect((await store.recentEvents('u1', 2)).map((e) => e.eventId)).toEqual(['e3', 'e2']);
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
