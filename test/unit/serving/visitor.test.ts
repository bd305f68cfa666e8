import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRealtime } from '../../../src/realtime/memory-realtime.ts';
import { historyStamp, typeBit, Visitors } from '../../../src/serving/visitor.ts';
import type { Visitor } from '../../../src/serving/visitor.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { ShelfEvent, Store } from '../../../src/store/types.ts';
import type { Subject } from '../../../src/realtime/types.ts';
import { ITEMS, NOW } from '../../helpers/served-fixture.ts';

const ev = (eventId: string, over: Partial<ShelfEvent>): ShelfEvent => ({
  eventId,
  type: 'view',
  itemId: 'a',
  timestamp: NOW,
  ...over,
});
const resolve = async (v: Visitor | Promise<Visitor>) => v;

describe('visitors: who asks', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openSqliteStore(':memory:');
    await store.upsertItems(ITEMS);
    await store.upsertUsers([
      { userId: 'u-store', attributes: {}, createdAt: NOW, consent: { personalization: true } },
      { userId: 'u-no', attributes: {}, createdAt: NOW, consent: { personalization: false } },
    ]);
    await store.insertEvents([
      ev('e1', { userId: 'u-store', itemId: 'b', timestamp: NOW - 2000 }),
      ev('e2', { userId: 'u-store', itemId: 'c', type: 'purchase', timestamp: NOW - 1000 }),
      ev('e3', { userId: 'u-no', itemId: 'c', timestamp: NOW - 1000 }),
    ]);
  });
  afterAll(() => store.close());

  it("reads a user's stored history on first sight, then from real-time state without a promise", async () => {
    const visitors = new Visitors(store, new MemoryRealtime());
    const first = visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW);
    expect(first).toBeInstanceOf(Promise);
    expect((await first).history.map((e) => [e.itemId, e.type])).toEqual([
      ['c', 'purchase'],
      ['b', 'view'],
    ]);
    const again = visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW);
    expect(again).not.toBeInstanceOf(Promise);
    expect((again as Visitor).history).toHaveLength(2);
  });

  it('holds the consent of a bounded number of users: made-up ids push the first read out, which is read again', async () => {
    const visitors = new Visitors(store, new MemoryRealtime(), { consentUsers: 3 });
    await visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW);
    expect(visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW)).not.toBeInstanceOf(Promise);
    for (const made of ['x-1', 'x-2', 'x-3']) await visitors.of({ tier: 'personalized', userId: made }, NOW);
    const again = visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW);
    expect(again).toBeInstanceOf(Promise);
    expect((await again).history.map((e) => e.itemId)).toEqual(['c', 'b']);
    expect(visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW)).not.toBeInstanceOf(Promise);
  });

  it('asks a remote real-time state for the demotions and the recent events at once', async () => {
    // A state without the synchronous reads (as Redis is) whose demotions answer only once the
    // recent events have been asked for: read one after the other, the two never end.
    const mem = new MemoryRealtime();
    let recentAsked = () => {};
    const asked = new Promise<void>((r) => (recentAsked = r));
    const rotation = new Proxy(mem.rotation, {
      get: (t, p) =>
        p === 'demotedNow'
          ? undefined
          : p === 'demoted'
            ? async (s: Subject, at: number) => (await asked, t.demoted(s, at))
            : Reflect.get(t, p, t),
    });
    const remote = new Proxy(mem, {
      get: (t, p) =>
        p === 'recentNow'
          ? undefined
          : p === 'rotation'
            ? rotation
            : p === 'recent'
              ? (s: Subject, limit?: number) => (recentAsked(), t.recent(s, limit))
              : Reflect.get(t, p, t),
    });
    const visitors = new Visitors(store, remote);
    const stuck = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('read one after the other')), 2000).unref(),
    );
    const v = await Promise.race([
      resolve(visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW)),
      stuck,
    ]);
    expect(v.history.map((e) => e.itemId)).toEqual(['c', 'b']);
  });

  it('merges the stored history when the first contact since start is an event or a merged session', async () => {
    // Reproduction 2 of issue #12: the real-time state held only the new view, so the stored
    // history (a purchase among it) was never read.
    for (const first of ['event', 'merge'] as const) {
      const visitors = new Visitors(store, new MemoryRealtime());
      if (first === 'event') {
        const view = ev(`late-${first}`, { userId: 'u-store', itemId: 'd', timestamp: NOW - 10 });
        await visitors.record([view]);
      } else {
        await visitors.record([ev('anon', { sessionId: 's-first', itemId: 'd', timestamp: NOW - 10 })]);
        await visitors.mergeSession('s-first', 'u-store');
      }
      const v = await resolve(visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW));
      expect(v.history.map((e) => `${e.itemId}:${e.type}`)).toEqual(['d:view', 'c:purchase', 'b:view']);
      // Read once: the next request is answered from real-time state alone.
      expect(visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW)).not.toBeInstanceOf(Promise);
    }
  });

  it('honours consent: no history and not personal', async () => {
    const v = await resolve(
      new Visitors(store, new MemoryRealtime()).of({ tier: 'homepage', userId: 'u-no' }, NOW),
    );
    expect(v).toMatchObject({ userId: 'u-no', personal: false, history: [] });
  });

  it('records events, merges a session into its user, and forgets a deleted user', async () => {
    const visitors = new Visitors(store, new MemoryRealtime());
    await visitors.record([ev('s1', { sessionId: 's-1', itemId: 'd' }), ev('s2', { itemId: 'e' })]);
    const session = await resolve(visitors.of({ tier: 'homepage', sessionId: 's-1' }, NOW));
    expect(session.history.map((e) => e.itemId)).toEqual(['d']);
    await visitors.mergeSession('s-1', 'u-store');
    const merged = await resolve(visitors.of({ tier: 'homepage', userId: 'u-store' }, NOW));
    expect(merged.history.map((e) => e.itemId)).toContain('d');
    const before = historyStamp(merged);
    await visitors.forget('u-store');
    const gone = await resolve(visitors.of({ tier: 'homepage', userId: 'u-store' }, NOW));
    expect(gone).toMatchObject({ forgotten: true, history: [] });
    expect(historyStamp(gone)).not.toBe(before);
  });

  // The events route stores, then records; the merge route merges, then moves the state. An
  // erasure in between cleared the user's state before they wrote it again, for good.
  it('keeps no real-time state of a user erased between the store and the state', async () => {
    const realtime = new MemoryRealtime();
    const visitors = new Visitors(store, realtime);
    await visitors.record([ev('l0', { sessionId: 's-late', itemId: 'd' })]);
    await visitors.forget('u-late');
    await visitors.record([ev('l1', { userId: 'u-late', itemId: 'e' })]);
    await visitors.mergeSession('s-late', 'u-late');
    expect(await realtime.recent({ userId: 'u-late' })).toEqual([]);
    expect((await realtime.recent({ sessionId: 's-late' })).map((e) => e.itemId)).toEqual(['d']);

    // Erased while a write is in flight: it lands after the erasure's, and is erased again.
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    const slow = new Proxy(realtime, {
      get: (t, p) =>
        p === 'record'
          ? async (...args: Parameters<MemoryRealtime['record']>) => (await held, t.record(...args))
          : Reflect.get(t, p),
    });
    const racing = new Visitors(store, slow);
    const writing = racing.record([ev('l2', { userId: 'u-race', itemId: 'f' })]);
    await racing.forget('u-race');
    release();
    await writing;
    expect(await realtime.recent({ userId: 'u-race' })).toEqual([]);
  });

  it('does without a real-time state that does not answer, and deletes what it could not once it does', async () => {
    const realtime = new MemoryRealtime();
    await realtime.record({ userId: 'u-gone' }, [{ itemId: 'e', type: 'view', timestamp: NOW - 5000 }]);
    let down = true;
    const failing = <T extends object>(target: T): T =>
      new Proxy(target, {
        get: (t, p) => {
          // As Redis's: no synchronous reads.
          if (p === 'recentNow' || p === 'demotedNow') return undefined;
          const v = Reflect.get(t, p, t) as unknown;
          if (p === 'rotation') return failing(v as object);
          if (typeof v !== 'function' || p === 'policy') return v;
          return (...args: unknown[]) =>
            down
              ? Promise.reject(new Error('Redis down'))
              : (v as (...a: unknown[]) => unknown).apply(t, args);
        },
      });
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const visitors = new Visitors(store, failing(realtime), { consumed: ['purchase'], log });
    // Served from the stored history, nothing demoted; said once.
    const who = await resolve(visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW));
    expect(who.history.map((e) => [e.itemId, e.type])).toEqual([
      ['c', 'purchase'],
      ['b', 'view'],
    ]);
    await resolve(visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW));
    // A list shown cannot be counted for rotation: not a rejection, not another line.
    await visitors.shown(who, ['a', 'b'], NOW);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('the real-time state does not answer');
    // A purchase recorded meanwhile keeps its item out; an erasure is taken.
    await visitors.record([ev('down-1', { userId: 'u-store', itemId: 'd', type: 'purchase' })]);
    expect(
      (await resolve(visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW))).consumed.has('d'),
    ).toBe(true);
    await visitors.forget('u-gone');
    expect(await realtime.recent({ userId: 'u-gone' })).toHaveLength(1);
    down = false;
    await visitors.realtimeBack();
    expect(await realtime.recent({ userId: 'u-gone' })).toEqual([]);
    // Warmed again at the next request: the stored history is in the state.
    await resolve(visitors.of({ tier: 'personalized', userId: 'u-store' }, NOW));
    expect((await realtime.recent({ userId: 'u-store' })).map((e) => e.itemId)).toEqual(['c', 'b']);
  });

  it('stamps the history so that a new event changes it', async () => {
    const visitors = new Visitors(store, new MemoryRealtime());
    const a = historyStamp(await resolve(visitors.of({ tier: 'homepage', sessionId: 's-9' }, NOW)));
    await visitors.record([ev('x', { sessionId: 's-9', itemId: 'f', timestamp: NOW - 5 })]);
    const b = historyStamp(await resolve(visitors.of({ tier: 'homepage', sessionId: 's-9' }, NOW)));
    expect(a).not.toBe(b);
  });

  it("reads a user's consumed items over the whole stored history once, then keeps them current", async () => {
    const many = Array.from({ length: 80 }, (_, k) =>
      ev(`m${k}`, {
        userId: 'u-many',
        itemId: k === 0 ? 'a' : 'f',
        type: k === 0 ? 'purchase' : 'view',
        timestamp: NOW - 10_000 + k,
      }),
    );
    await store.insertEvents(many);
    const visitors = new Visitors(store, new MemoryRealtime(), { consumed: ['purchase', 'rating'] });
    const first = await resolve(visitors.of({ tier: 'personalized', userId: 'u-many' }, NOW));
    // The purchase is older than the 50 events of the history, but still consumed.
    expect(first.history.map((e) => e.itemId)).not.toContain('a');
    expect([...first.consumed]).toEqual([['a', { types: typeBit('purchase'), at: NOW - 10_000 }]]);
    await visitors.record([ev('m-new', { userId: 'u-many', itemId: 'b', type: 'rating', value: 5 })]);
    const next = visitors.of({ tier: 'personalized', userId: 'u-many' }, NOW);
    expect(next).not.toBeInstanceOf(Promise);
    expect((next as Visitor).consumed.get('b')).toEqual({ types: typeBit('rating'), at: NOW });
    // Sessions and users without consent carry none.
    expect((await resolve(visitors.of({ tier: 'homepage', sessionId: 's-x' }, NOW))).consumed.size).toBe(0);
    expect((await resolve(visitors.of({ tier: 'homepage', userId: 'u-no' }, NOW))).consumed.size).toBe(0);
  });
});
