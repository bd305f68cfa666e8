/**
 * The feedback part of the store suite (impressions, attributions, aggregates), with the
 * attribution cases of issue #13 run through `Attributor` over each store.
 */
import { describe, expect, it } from 'vitest';
import { aggregateFeedback } from '../../src/feedback/aggregate-feedback.ts';
import { Attributor } from '../../src/feedback/attributor.ts';
import type {
  Experiment,
  FeedbackKey,
  Item,
  ShelfEvent,
  Store,
  StoredImpression,
  VisitorRef,
} from '../../src/store/types.ts';
import { experimentOf } from './experiment-fixture.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function impression(id: string, over: Partial<StoredImpression> = {}): StoredImpression {
  return {
    recommendationId: id,
    tier: 'personalized',
    userId: 'u1',
    config: 'default',
    probability: 1,
    modelVersion: 'v1',
    itemIds: ['a', 'b', 'c'],
    timestamp: T0,
    ...over,
  };
}

function ev(eventId: string, over: Partial<ShelfEvent> = {}): ShelfEvent {
  return { eventId, type: 'click', userId: 'u1', itemId: 'b', timestamp: T0 + HOUR, ...over };
}

export function describeFeedbackStore(store: () => Store): void {
  describe('feedback', () => {
    /** Stores `events` and attributes the ones stored, as the events route does. */
    const post = async (events: ShelfEvent[]) => {
      const r = await store().insertEvents(events);
      const stored = events.filter((_, k) => r.statuses[k] === 'stored');
      return new Attributor({ store: store(), retries: 0 }).attribute(stored);
    };

    /** The attributions of `eventId` once a retry has made them (half a second at most). */
    const creditOnRetry = async (eventId: string) => {
      const credited = async () =>
        (await store().attributionsAfter(0, 100)).filter((a) => a.eventId === eventId);
      for (let i = 0; i < 50 && !(await credited()).length; i++) await new Promise((r) => setTimeout(r, 10));
      return credited();
    };

    it('stores ids handed over as JSON text with their count (as the writer thread hands them) as it stores an array', async () => {
      const listed = impression('r1', { itemIds: ['x', 'y"z', 'b'] });
      const encoded = { ...impression('r2'), itemIds: { json: JSON.stringify(listed.itemIds), count: 3 } };
      expect(await store().insertImpressions([listed, encoded])).toBe(2);
      expect(await store().impressions(['r2'])).toEqual([{ ...listed, recommendationId: 'r2' }]);
      expect(await store().latestImpressionWith({ userId: 'u1' }, 'y"z', T0 - DAY, T0 + DAY)).toMatchObject({
        recommendationId: 'r2',
      });
    });

    it('lists what a visitor was shown since a time, the newest few, oldest first (a session: its anonymous lists)', async () => {
      await store().insertImpressions([
        impression('w1', { timestamp: T0 - DAY, itemIds: ['old'] }),
        impression('w2', { timestamp: T0, itemIds: ['a'] }),
        impression('w3', { timestamp: T0 + HOUR, itemIds: ['b', 'c'], sessionId: 'sx' }),
        impression('w4', { timestamp: T0 + 2 * HOUR, itemIds: ['d'] }),
        impression('w5', { timestamp: T0 + HOUR, userId: undefined, sessionId: 'sx', itemIds: ['e'] }),
        impression('w6', { timestamp: T0 + 3 * HOUR, userId: 'u2', itemIds: ['f'] }),
      ]);
      const [a, bc, d] = [
        { itemIds: ['a'], at: T0 },
        { itemIds: ['b', 'c'], at: T0 + HOUR },
        { itemIds: ['d'], at: T0 + 2 * HOUR },
      ];
      expect(await store().listsShownTo({ userId: 'u1' }, T0, 10)).toEqual([a, bc, d]);
      expect(await store().listsShownTo({ userId: 'u1' }, T0, 2)).toEqual([bc, d]);
      expect(await store().listsShownTo({ sessionId: 'sx' }, 0, 10)).toEqual([
        { itemIds: ['e'], at: T0 + HOUR },
      ]);
      expect(await store().listsShownTo({ userId: 'nobody' }, 0, 10)).toEqual([]);
    });

    it('stores impressions once each, with every field, and finds the latest showing an item', async () => {
      const full = impression('r1', { sessionId: 's1', experiment: 'x', variant: 'B', probability: 0.5 });
      expect(await store().insertImpressions([full, impression('r2', { timestamp: T0 + HOUR })])).toBe(2);
      expect(await store().insertImpressions([full])).toBe(0);
      expect(await store().impressions(['r1', 'nope'])).toEqual([full]);
      const noModel = impression('r3', { modelVersion: null, userId: 'u2', itemIds: ['z'] });
      const armed = impression('r4', {
        timestamp: T0 - HOUR,
        probability: 0.25,
        positions: { arms: ['a:default', 'a:pop'], probabilities: [0.75, 0.25], masks: [3, 2, 2] },
      });
      await store().insertImpressions([noModel, armed]);
      expect(await store().impressions(['r3'])).toEqual([noModel]);
      expect(await store().impressions(['r4'])).toEqual([armed]);
      const latest = (itemId: string, from: number, to: number, v: VisitorRef = { userId: 'u1' }) =>
        store()
          .latestImpressionWith(v, itemId, from, to)
          .then((i) => i?.recommendationId ?? null);
      expect(await latest('b', T0 - DAY, T0 + DAY)).toBe('r2');
      expect(await latest('b', T0 - DAY, T0 + HOUR - 1)).toBe('r1');
      expect(await latest('z', T0 - DAY, T0 + DAY)).toBeNull();
      expect(await latest('b', T0 - DAY, T0 + DAY, { sessionId: 's1' })).toBe('r1');
      // Seqs only grow (a refused duplicate may use one up).
      const horizon = await store().feedbackHorizon();
      expect(horizon.attributionSeq).toBe(0);
      expect(horizon.impressionSeq).toBeGreaterThanOrEqual(4);
      expect((await store().impressionsAfter(0, 10)).map((i) => i.recommendationId)).toEqual([
        'r1',
        'r2',
        'r3',
        'r4',
      ]);
      expect((await store().impressionsAfter(0, 10))[3]!.positions).toEqual(armed.positions);
    });

    it('attributes an explicit recommendationId to the item position in that list', async () => {
      await store().insertImpressions([
        impression('r1'),
        impression('r2', { itemIds: ['b'], timestamp: T0 + 1 }),
      ]);
      const [a] = await post([ev('e1', { recommendationId: 'r1' })]);
      expect(a).toMatchObject({ recommendationId: 'r1', position: 1, tier: 'personalized', visitor: 'u:u1' });
    });

    it('waits for a list another replica has not written yet, and credits it once it is stored', async () => {
      const attributor = new Attributor({ store: store(), retryMs: 20, retries: 2 });
      const click = ev('late-1', { recommendationId: 'r-late' });
      await store().insertEvents([click]);
      expect(await attributor.attribute([click])).toEqual([]);
      // The other replica's buffer is flushed a moment later; the retry credits the click.
      await store().insertImpressions([impression('r-late')]);
      expect(await creditOnRetry('late-1')).toMatchObject([
        { recommendationId: 'r-late', position: 1, type: 'click' },
      ]);
      // An unknown list still unknown after the last try gets nothing (and close ends the waiting).
      const never = ev('late-2', { recommendationId: 'r-never' });
      await store().insertEvents([never]);
      await attributor.attribute([never]);
      await attributor.close();
    });

    it('with replicas, credits an event naming no list only once their buffers are written: the newest list, whoever served it', async () => {
      const attributor = new Attributor({ store: store(), retryMs: 20, retries: 2, awaitReplicas: true });
      // This replica's older list is stored; the newer one another replica served is not yet.
      await store().insertImpressions([impression('mine', { timestamp: T0 })]);
      const click = ev('unnamed-1', { timestamp: T0 + HOUR });
      const purchase = ev('unnamed-2', {
        type: 'purchase',
        itemId: 'c',
        price: 4,
        quantity: 2,
        timestamp: T0 + HOUR,
      });
      const back = ev('unnamed-3', { type: 'return', itemId: 'c', quantity: 1, timestamp: T0 + 2 * HOUR });
      await store().insertEvents([click, purchase, back]);
      // Nothing is credited at once, not even to the list this replica holds.
      expect(await attributor.attribute([click, purchase, back])).toEqual([]);
      await store().insertImpressions([impression('theirs', { timestamp: T0 + HOUR - 1000 })]);
      expect(await creditOnRetry('unnamed-1')).toMatchObject([{ recommendationId: 'theirs', position: 1 }]);
      expect(await creditOnRetry('unnamed-2')).toMatchObject([{ recommendationId: 'theirs', revenue: 8 }]);
      // The return waited with its purchase, and took back from the list it was credited to.
      expect(await creditOnRetry('unnamed-3')).toMatchObject([{ recommendationId: 'theirs', revenue: -4 }]);
      // An event naming its list is credited at once.
      const named = ev('named-1', { recommendationId: 'mine', itemId: 'a' });
      await store().insertEvents([named]);
      expect(await attributor.attribute([named])).toMatchObject([{ recommendationId: 'mine', position: 0 }]);
      await attributor.close();
    });

    it('waits for a recorder that never settles (a starved or stalled writer) no longer than settleMs', async () => {
      // Without the bound, attribute() (and the events route awaiting it) would never resolve.
      const attributor = new Attributor({
        store: store(),
        settle: () => new Promise<void>(() => {}),
        settleMs: 20,
        retryMs: 20,
        retries: 2,
      });
      const click = ev('stalled-1', { recommendationId: 'r-stalled' });
      await store().insertEvents([click]);
      expect(await attributor.attribute([click])).toEqual([]);
      // The writer gets to it: the retry credits the click.
      await store().insertImpressions([impression('r-stalled')]);
      expect(await creditOnRetry('stalled-1')).toMatchObject([
        { recommendationId: 'r-stalled', position: 1 },
      ]);
      await attributor.close();
    });

    it('gives no credit when the item was not in the referenced list, even if another list showed it', async () => {
      await store().insertImpressions([impression('r1', { itemIds: ['a'] }), impression('r2')]);
      expect(await post([ev('e1', { recommendationId: 'r1' })])).toEqual([]);
      expect(await post([ev('e2', { recommendationId: 'unknown' })])).toEqual([]);
    });

    it('falls back to the latest impression of the item to the visitor within the window', async () => {
      await store().insertImpressions([
        impression('old', { timestamp: T0 - 2 * HOUR }),
        impression('new', { timestamp: T0, itemIds: ['x', 'y', 'b'] }),
        impression('other', { userId: 'u2', timestamp: T0 + 1 }),
      ]);
      const [a] = await post([ev('e1')]);
      expect(a).toMatchObject({ recommendationId: 'new', position: 2 });
    });

    it('credits the newest list shown up to the clock skew after an event (the storefront clock lags)', async () => {
      await store().insertImpressions([
        impression('days-ago', { userId: 'u4', timestamp: T0 - 2 * DAY }),
        impression('soon', { userId: 'u4', timestamp: T0 + 400 }),
        impression('old', { userId: 'u3', timestamp: T0 - HOUR }),
        impression('late', { userId: 'u3', timestamp: T0 + 5001 }),
      ]);
      // A purchase at 12:00:00.9 sent as 12:00:00Z: the list it came from was shown 400 ms "after"
      // it, and an older one showed the item too.
      const [p] = await post([ev('p', { type: 'purchase', price: 3, userId: 'u4', timestamp: T0 })]);
      expect(p).toMatchObject({ recommendationId: 'soon', revenue: 3 });
      // A list shown past the skew never takes the credit.
      expect(await post([ev('c1', { userId: 'u3', timestamp: T0 })])).toMatchObject([
        { recommendationId: 'old' },
      ]);
      // The skew is configurable (0: only lists shown by the event's time).
      const strict = new Attributor({ store: store(), clockSkewMs: 0 });
      await store().insertEvents([ev('p2', { type: 'purchase', userId: 'u4', timestamp: T0 })]);
      expect(
        await strict.attribute([ev('p2', { type: 'purchase', userId: 'u4', timestamp: T0 })]),
      ).toMatchObject([{ recommendationId: 'days-ago' }]);
    });

    it('gives no credit out of the window: a click after 24 h, a purchase after 7 days', async () => {
      await store().insertImpressions([impression('r1')]);
      expect(await post([ev('c', { timestamp: T0 + DAY + 1 })])).toEqual([]);
      const [p] = await post([ev('p', { type: 'purchase', price: 2, timestamp: T0 + 6 * DAY })]);
      expect(p).toMatchObject({ recommendationId: 'r1', revenue: 2 });
      expect(await post([ev('p2', { type: 'purchase', timestamp: T0 + 7 * DAY + 1 })])).toEqual([]);
      // Configurable windows.
      const wide = new Attributor({
        store: store(),
        windows: { click: 2 * DAY, addToCart: DAY, purchase: DAY },
      });
      await store().insertEvents([ev('c2', { timestamp: T0 + DAY + 1 })]);
      expect(await wide.attribute([ev('c2', { timestamp: T0 + DAY + 1 })])).toHaveLength(1);
    });

    it('never counts a duplicate event twice', async () => {
      await store().insertImpressions([impression('r1')]);
      expect(
        await post([ev('e1', { recommendationId: 'r1' }), ev('e1', { recommendationId: 'r1' })]),
      ).toHaveLength(1);
      expect(await post([ev('e1', { recommendationId: 'r1' })])).toEqual([]);
      // Even attributing the same stored event again adds nothing.
      expect(
        await new Attributor({ store: store() }).attribute([ev('e1', { recommendationId: 'r1' })]),
      ).toEqual([]);
      expect(await store().attributionsAfter(0, 10)).toHaveLength(1);
    });

    it('counts price × quantity for several units, and a return takes revenue back from its purchase', async () => {
      await store().insertImpressions([impression('r1'), impression('r2', { timestamp: T0 + 2 * HOUR })]);
      const [p] = await post([ev('p', { type: 'purchase', recommendationId: 'r1', price: 5, quantity: 3 })]);
      expect(p).toMatchObject({ units: 3, revenue: 15 });
      // The return names no list and comes after r2 also showed the item: it follows the purchase.
      const [r] = await post([ev('ret', { type: 'return', quantity: 2, timestamp: T0 + 3 * HOUR })]);
      expect(r).toMatchObject({
        type: 'return',
        recommendationId: 'r1',
        position: 1,
        revenue: -10,
        units: 0,
      });
      // A return with no attributed purchase gets nothing.
      expect(await post([ev('ret2', { type: 'return', itemId: 'c' })])).toEqual([]);
      // Never more back than the purchase took in: 5 of the 3 units bought, 2 already returned,
      // takes back the last 5, and a return in the same batch after it nothing.
      const later = { timestamp: T0 + 4 * HOUR };
      const rest = await post([
        ev('ret3', { type: 'return', quantity: 5, ...later }),
        ev('ret4', { type: 'return', quantity: 1, ...later }),
      ]);
      expect(rest.map((a) => [a.eventId, a.revenue])).toEqual([['ret3', -5]]);
      expect(await post([ev('ret5', { type: 'return', ...later })])).toEqual([]);
      const net = (await store().attributionsAfter(0, 100))
        .filter((a) => a.recommendationId === 'r1' && a.itemId === 'b')
        .reduce((t, a) => t + a.revenue, 0);
      expect(net).toBe(0);
    });

    it('counts a purchase sent without a price at the catalogue price, and its return at that price', async () => {
      const item: Omit<Item, 'itemId'> = {
        title: 'x',
        categories: [],
        status: 'active',
        repurchasable: false,
        attributes: {},
        publishedAt: T0,
      };
      await store().upsertItems([
        { ...item, itemId: 'b', price: 2.5 },
        { ...item, itemId: 'c' },
      ]);
      await store().insertImpressions([impression('r1')]);
      const made = await post([
        ev('p1', { type: 'purchase', recommendationId: 'r1', quantity: 4 }),
        ev('p2', { type: 'purchase', recommendationId: 'r1', price: 3, quantity: 2 }),
        ev('p3', { type: 'purchase', recommendationId: 'r1', itemId: 'c', quantity: 2 }),
      ]);
      // Its own price first; an item without a catalogue price counts its units and no revenue.
      expect(made.map((a) => [a.eventId, a.units, a.revenue])).toEqual([
        ['p1', 4, 10],
        ['p2', 2, 6],
        ['p3', 2, 0],
      ]);
      // A return without a price takes back the unit price its purchase was counted at.
      const [back] = await post([ev('ret', { type: 'return', quantity: 1, timestamp: T0 + 2 * HOUR })]);
      expect(back).toMatchObject({ eventId: 'ret', revenue: -3 });
    });

    it('takes back no more than a purchase took in, however many of its returns come at once', async () => {
      await store().insertImpressions([impression('r1')]);
      await post([ev('p', { type: 'purchase', recommendationId: 'r1', price: 15 })]);
      // Four returns of the one unit, each posted on its own, all at once (as from two replicas).
      const later = { timestamp: T0 + HOUR };
      const made = await Promise.all(
        [1, 2, 3, 4].map((k) => post([ev(`ret${k}`, { type: 'return', ...later })])),
      );
      expect(made.flat().map((a) => a.revenue)).toEqual([-15]);
      const rows = (await store().attributionsAfter(0, 100)).filter((a) => a.type === 'return');
      expect(rows.map((a) => a.revenue)).toEqual([-15]);
      // And through the store alone: nothing is left to take back.
      const [ret] = rows;
      expect(await store().insertAttributions([{ ...ret!, eventId: 'again' }])).toEqual([]);
    });

    it('credits one click a shown item: another click on it from the same list is no click-through', async () => {
      await store().insertImpressions([impression('r1')]);
      const again = (id: string) => ev(id, { recommendationId: 'r1' });
      expect(await post([again('k1'), again('k2')])).toHaveLength(1);
      expect(await post([again('k3')])).toEqual([]);
      // Other items of the list, and other event types on the same item, still count.
      expect(await post([ev('k4', { recommendationId: 'r1', itemId: 'c' })])).toHaveLength(1);
      expect(await post([ev('k5', { recommendationId: 'r1', type: 'add_to_cart' })])).toHaveLength(1);
      const clicks = (await store().attributionsAfter(0, 10)).filter((a) => a.type === 'click');
      expect(clicks.map((a) => a.eventId)).toEqual(['k1', 'k4']);
    });

    it('carries a session’s impressions into the user it is merged into', async () => {
      await store().insertImpressions([impression('r1', { userId: undefined, sessionId: 's1' })]);
      await store().insertEvents([ev('v', { type: 'view', userId: undefined, sessionId: 's1' })]);
      await store().mergeSession('s1', 'u9');
      const [a] = await post([ev('p', { type: 'purchase', userId: 'u9', price: 4 })]);
      expect(a).toMatchObject({ recommendationId: 'r1', userId: 'u9', revenue: 4 });
    });

    // Seen in a trial: a list aggregated under s:<session> before its merge, and its purchase after
    // it under u:<user>, made one visitor two in `visitors` and the per-visitor CTR.
    it('counts a merged session’s lists, and credits to them, for the session they were served to, aggregated before the merge or after', async () => {
      for (const [s, aggregatedFirst] of [
        ['m1', true],
        ['m2', false],
      ] as const) {
        await store().insertImpressions([
          impression(`${s}-r`, { userId: undefined, sessionId: s, config: s }),
        ]);
        if (aggregatedFirst) await aggregateFeedback(store());
        await store().mergeSession(s, `${s}-u`);
        // Found through the user, as the merge lets later events of the user find the session's lists.
        const [credit] = await post([
          ev(`${s}-p`, { type: 'purchase', userId: `${s}-u`, itemId: 'a', price: 4 }),
        ]);
        expect(credit).toMatchObject({ recommendationId: `${s}-r`, userId: `${s}-u`, visitor: `s:${s}` });
        await aggregateFeedback(store());
        expect(await store().unitTotals([s])).toEqual([
          { config: s, visitor: `s:${s}`, impressions: 1, clicks: 0, purchases: 1, revenue: 4 },
        ]);
      }
    });

    it('counts lists asked for by nobody (no user, no session) as lists, not as one visitor', async () => {
      const nobody = { userId: undefined, sessionId: undefined };
      await store().insertImpressions([
        impression('n1', nobody),
        impression('n2', nobody),
        impression('n3', { ...nobody, timestamp: T0 + HOUR }),
        impression('r1'),
      ]);
      await aggregateFeedback(store());
      const [all] = await store().feedbackTotals({ from: '2026-01-01', to: '2026-01-01', groupBy: [] });
      expect(all).toMatchObject({ impressions: 4, visitors: 1 });
    });

    it('aggregates incrementally and idempotently, and erases a deleted user’s impressions', async () => {
      await store().insertImpressions([
        impression('r1'),
        impression('r2', { userId: 'u2', itemIds: ['a'], timestamp: T0 + DAY }),
      ]);
      await post([
        ev('c1', { recommendationId: 'r1' }),
        ev('p1', { type: 'purchase', recommendationId: 'r1', price: 3 }),
      ]);
      const first = await aggregateFeedback(store());
      expect(first).toMatchObject({ impressions: 2, attributions: 2, applied: true });
      expect(await store().feedbackWatermark()).toEqual(await store().feedbackHorizon());
      const q = { from: '2026-01-01', to: '2026-01-02', groupBy: [] as const };
      const total = await store().feedbackTotals(q);
      expect(total).toEqual([
        expect.objectContaining({
          impressions: 2,
          itemsShown: 4,
          visitors: 2,
          clicks: 1,
          purchases: 1,
          revenue: 3,
        }),
      ]);
      // u1: 1 click / 1 list; u2: 0 / 1.
      expect(total[0]!.visitorCtr).toBeCloseTo(0.5, 12);
      expect(await aggregateFeedback(store())).toMatchObject({ impressions: 0, attributions: 0 });
      expect(await store().feedbackTotals(q)).toEqual(total);
      // A list and a click more, added one seq per transaction: the sums are the same as at once.
      await store().insertImpressions([
        impression('r3', { userId: 'u2', itemIds: ['a', 'b'], timestamp: T0 + DAY }),
      ]);
      await post([
        ev('c3', { userId: 'u2', recommendationId: 'r3', itemId: 'b', timestamp: T0 + DAY + HOUR }),
      ]);
      expect(await aggregateFeedback(store(), 1)).toMatchObject({
        impressions: 1,
        attributions: 1,
        applied: true,
      });
      const more = await store().feedbackTotals(q);
      expect(more).toEqual([
        expect.objectContaining({
          impressions: 3,
          itemsShown: 6,
          visitors: 2,
          clicks: 2,
          purchases: 1,
          revenue: 3,
        }),
      ]);
      // A stale watermark (a run racing this one) adds nothing.
      const wm = { impressionSeq: 0, attributionSeq: 0 };
      expect(await store().addFeedbackBetween(wm, { impressionSeq: 1, attributionSeq: 0 })).toBeNull();
      const byPosition = await store().feedbackTotals({ ...q, groupBy: ['position'] });
      expect(byPosition.map((r) => [r.keys.position, r.itemsShown, r.clicks])).toEqual(
        expect.arrayContaining([
          [0, 3, 0],
          [1, 2, 2],
          [2, 1, 0],
        ]),
      );
      await store().deleteUser('u1');
      expect(await store().impressions(['r1'])).toEqual([]);
      expect((await store().attributionsAfter(0, 10)).map((a) => a.eventId)).toEqual(['c3']);
      expect(await store().feedbackTotals(q)).toEqual([
        expect.objectContaining({ impressions: 2, visitors: 1, clicks: 1 }),
      ]);
    });
    it('groups by experiment, so that two experiments’ variants of one name are two rows', async () => {
      const of = (experiment: string, variant: string) => ({
        experiment,
        variant,
        config: `${experiment}:${variant}`,
      });
      await store().insertImpressions([
        impression('x1', of('exp-a', 'b')),
        impression('x2', { ...of('exp:b', 'b'), userId: 'u2' }),
        impression('x3', { ...of('exp:b', 'control'), userId: 'u3' }),
        impression('x4', { userId: 'u4' }),
      ]);
      await post([ev('c1', { recommendationId: 'x2' })]);
      await aggregateFeedback(store());
      const q = { from: '2026-01-01', to: '2026-01-01' };
      const rows = async (groupBy: FeedbackKey[]) =>
        (await store().feedbackTotals({ ...q, groupBy }))
          .map((t) => [t.keys.experiment, t.keys.variant, t.keys.position, t.impressions, t.clicks])
          .sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
      // The experiment is the configuration less `:<variant>`, whatever the id holds; none: null.
      expect(await rows(['experiment', 'variant'])).toEqual([
        ['exp-a', 'b', undefined, 1, 0],
        ['exp:b', 'b', undefined, 1, 1],
        ['exp:b', 'control', undefined, 1, 0],
        [null, null, undefined, 1, 0],
      ]);
      expect(await rows(['experiment'])).toEqual([
        ['exp-a', undefined, undefined, 1, 0],
        ['exp:b', undefined, undefined, 2, 1],
        [null, undefined, undefined, 1, 0],
      ]);
      expect((await rows(['experiment', 'position'])).filter((r) => r[2] === 1)).toEqual([
        ['exp-a', undefined, 1, 1, 0],
        ['exp:b', undefined, 1, 2, 1],
        [null, undefined, 1, 1, 0],
      ]);
    });

    it('erases a deleted user’s per-visitor-day rows under every configuration', async () => {
      await store().insertImpressions([
        impression('e1', { userId: 'u9', config: 'c1' }),
        impression('e2', { userId: 'u9', config: 'c2', timestamp: T0 + DAY }),
        impression('e3', { userId: 'u8', config: 'c2' }),
      ]);
      await aggregateFeedback(store());
      const q = { from: '2026-01-01', to: '2026-01-31', groupBy: ['config' as const] };
      const visitors = async () =>
        (await store().feedbackTotals(q)).map((t) => [t.keys.config, t.visitors]).sort();
      expect(await visitors()).toEqual([
        ['c1', 1],
        ['c2', 2],
      ]);
      await store().deleteUser('u9');
      expect(await visitors()).toEqual([['c2', 1]]);
    });

    // Seen on PostgreSQL: a click and a purchase sent with only the sessionId of a list served to
    // a user were credited to it (user_id NULL, visitor u:<user>); the erasure kept them, and the
    // next aggregation brought the user back as an experiment unit.
    it('erases the credits a deleted user’s lists got from session-only events', async () => {
      await store().insertImpressions([
        impression('t6', { userId: 't6-u1', sessionId: 't6-s' }),
        impression('k6', { userId: 't6-u2' }),
      ]);
      const credits = await post([
        ev('t6-c', { userId: undefined, sessionId: 't6-s' }),
        ev('t6-p', { type: 'purchase', userId: undefined, sessionId: 't6-s', price: 5 }),
        ev('k6-c', { userId: 't6-u2' }),
      ]);
      expect(credits.map((a) => [a.eventId, a.userId, a.visitor])).toEqual([
        ['t6-c', undefined, 'u:t6-u1'],
        ['t6-p', undefined, 'u:t6-u1'],
        ['k6-c', 't6-u2', 'u:t6-u2'],
      ]);
      await store().deleteUser('t6-u1');
      await aggregateFeedback(store());
      expect((await store().attributionsAfter(0, 10)).map((a) => a.recommendationId)).toEqual(['k6']);
      expect((await store().unitTotals(['default'])).map((t) => t.visitor)).toEqual(['u:t6-u2']);
      const q = { from: '2026-01-01', to: '2026-01-31', groupBy: [] as const };
      expect(await store().feedbackTotals(q)).toEqual([
        expect.objectContaining({ impressions: 1, visitors: 1, clicks: 1, purchases: 0, revenue: 0 }),
      ]);
    });

    // Seen on PostgreSQL: a session's lists and clicks, aggregated under s:<session> before it was
    // merged into a user, stayed in the per-visitor aggregates when that user was erased.
    it('erases with a user the per-visitor rows of every session their lists name, merged or not', async () => {
      // t7-s is merged into the user below; t7-s2 never is, but the user was signed in on it.
      await store().insertImpressions([
        impression('t7', { userId: undefined, sessionId: 't7-s' }),
        impression('t7-signed-in', { userId: 't7-u', sessionId: 't7-s2' }),
        impression('t7-anonymous', { userId: undefined, sessionId: 't7-s2', timestamp: T0 - HOUR }),
        impression('k7', { userId: undefined, sessionId: 'k7-s' }),
      ]);
      await post([ev('t7-c', { userId: undefined, sessionId: 't7-s' })]);
      await aggregateFeedback(store());
      const units = async () => (await store().unitTotals(['default'])).map((t) => t.visitor).sort();
      expect(await units()).toEqual(['s:k7-s', 's:t7-s', 's:t7-s2', 'u:t7-u']);
      expect(await store().mergeSession('t7-s', 't7-u')).toBe(1);
      await store().deleteUser('t7-u');
      await aggregateFeedback(store());
      expect(await units()).toEqual(['s:k7-s']);
      const q = { from: '2026-01-01', to: '2026-01-31', groupBy: [] as const };
      expect(await store().feedbackTotals(q)).toEqual([
        expect.objectContaining({ impressions: 1, visitors: 1, clicks: 0 }),
      ]);
    });

    it('erases with a user the anonymous lists of the sessions their lists name, which would bring those sessions back', async () => {
      await store().insertImpressions([
        impression('e8-signed-in', { userId: 'e8-u', sessionId: 'e8-s' }),
        impression('e8-before', { userId: undefined, sessionId: 'e8-s', timestamp: T0 - HOUR }),
        // Another user's list on that session is theirs: it stays.
        impression('e8-other', { userId: 'e8-v', sessionId: 'e8-s', timestamp: T0 + HOUR }),
        impression('k8', { userId: undefined, sessionId: 'k8-s' }),
      ]);
      await post([ev('e8-c', { userId: undefined, sessionId: 'e8-s', recommendationId: 'e8-before' })]);
      await store().deleteUser('e8-u');
      await aggregateFeedback(store());
      expect((await store().unitTotals(['default'])).map((t) => t.visitor).sort()).toEqual([
        's:k8-s',
        'u:e8-v',
      ]);
      const kept = await store().impressions(['e8-signed-in', 'e8-before', 'e8-other', 'k8']);
      expect(kept.map((i) => i.recommendationId).sort()).toEqual(['e8-other', 'k8']);
      expect((await store().attributionsAfter(0, 100)).map((a) => a.eventId)).not.toContain('e8-c');
      expect(
        await store().latestImpressionWith({ sessionId: 'e8-s' }, 'a', T0 - DAY, T0 + DAY),
      ).toMatchObject({
        recommendationId: 'e8-other',
      });
    });

    it('never stores a list or an attribution naming an erased user, written after the erasure', async () => {
      // Seen with two replicas: a list served a moment before DELETE /v1/users/:id, still in the
      // serving replica's buffer, was written after the erasure and named the user again.
      await store().insertImpressions([impression('before', { userId: 'u5' })]);
      const [credit] = await post([ev('early', { userId: 'u5', recommendationId: 'before' })]);
      expect(credit).toBeDefined();
      await store().deleteUser('u5');
      const late = [
        impression('late-1', { userId: 'u5', sessionId: 's5' }),
        impression('late-2', { userId: 'u6' }),
        impression('late-3', { userId: undefined, sessionId: 's5' }),
      ];
      expect(await store().insertImpressions(late)).toBe(2);
      expect(
        (await store().impressions(['before', 'late-1', 'late-2', 'late-3']))
          .map((i) => i.recommendationId)
          .sort(),
      ).toEqual(['late-2', 'late-3']);
      // The attributor's write of a credit made before the erasure reached it: for the user, or
      // for a click on their list sent with only a session id (it named no user to find erased,
      // and came back as the list's visitor, u:u5).
      const { userId: _erased, ...sessionOnly } = credit!;
      const stored = await store().insertAttributions([
        { ...credit!, eventId: 'late-credit' },
        { ...sessionOnly, eventId: 'late-session-credit', sessionId: 's5' },
        { ...credit!, eventId: 'other', userId: 'u6', visitor: 'u:u6', recommendationId: 'late-2' },
      ]);
      expect(stored.map((a) => a.eventId)).toEqual(['other']);
      await aggregateFeedback(store());
      const totals = await store().unitTotals(['default']);
      expect(totals.map((t) => t.visitor).sort()).toEqual(['s:s5', 'u:u6']);
    });

    it('sums each unit of an experiment variant over its days, and keeps experiments', async () => {
      await store().insertImpressions([
        impression('r1', { config: 'x1:control', variant: 'control', experiment: 'x1' }),
        impression('r2', { config: 'x1:control', variant: 'control', experiment: 'x1', timestamp: T0 + DAY }),
        impression('r3', { config: 'x1:b', variant: 'b', experiment: 'x1', userId: 'u2' }),
        impression('r4', { config: 'default', userId: 'u3' }),
      ]);
      await post([
        ev('c1', { recommendationId: 'r2', timestamp: T0 + DAY + HOUR }),
        ev('p1', { type: 'purchase', recommendationId: 'r3', userId: 'u2', price: 4, quantity: 2 }),
      ]);
      await aggregateFeedback(store());
      expect(await store().unitTotals(['x1:control', 'x1:b'])).toEqual([
        { config: 'x1:b', visitor: 'u:u2', impressions: 1, clicks: 0, purchases: 1, revenue: 8 },
        { config: 'x1:control', visitor: 'u:u1', impressions: 2, clicks: 1, purchases: 0, revenue: 0 },
      ]);
      expect(await store().unitTotals([])).toEqual([]);

      const x = experimentOf({ createdAt: T0 });
      await store().saveExperiment(x);
      await store().saveExperiment({ ...x, id: 'a0' });
      const running: Experiment = { ...x, state: 'running', range: [0, 10_000], startedAt: T0 + 1 };
      await store().saveExperiment(running);
      expect(await store().experiments()).toEqual([{ ...x, id: 'a0' }, running]);
    });
    // Seen with two replicas: a session-unit experiment counted 74 sessions as 148 units, those
    // asked for with a userId under u:, the same sessions without one under s:.
    it('counts a session-unit experiment’s lists by session, signed in or not, and erases them with the user', async () => {
      const s = (id: string, over: Partial<StoredImpression>) =>
        impression(id, {
          config: 'x2:control',
          variant: 'control',
          experiment: 'x2',
          sessionUnit: true,
          ...over,
        });
      await store().insertImpressions([
        s('s1', { userId: 'u7', sessionId: 'sess-a' }),
        s('s2', { userId: undefined, sessionId: 'sess-a', timestamp: T0 + 1 }),
        s('s3', { userId: 'u6', sessionId: 'sess-b' }),
      ]);
      expect((await store().impressions(['s1']))[0]).toMatchObject({ sessionUnit: true, userId: 'u7' });
      await post([
        ev('sc1', { recommendationId: 's1', userId: 'u7', sessionId: 'sess-a' }),
        ev('sc2', { recommendationId: 's2', userId: undefined, sessionId: 'sess-a', itemId: 'c' }),
      ]);
      await aggregateFeedback(store());
      expect(await store().unitTotals(['x2:control'])).toEqual([
        { config: 'x2:control', visitor: 's:sess-a', impressions: 2, clicks: 2, purchases: 0, revenue: 0 },
        { config: 'x2:control', visitor: 's:sess-b', impressions: 1, clicks: 0, purchases: 0, revenue: 0 },
      ]);
      await store().deleteUser('u7');
      expect((await store().unitTotals(['x2:control'])).map((t) => t.visitor)).toEqual(['s:sess-b']);
    });

    it('sums each visitor’s purchases and net revenue before exposure (CUPED)', async () => {
      await store().insertEvents([
        ev('p1', { type: 'purchase', price: 5, quantity: 2, timestamp: T0 - 2 * DAY }),
        ev('r1', { type: 'return', price: 5, timestamp: T0 - DAY }),
        ev('c1', { type: 'click', timestamp: T0 - DAY }),
        ev('p2', { type: 'purchase', price: 100, timestamp: T0 + HOUR }), // after the window
        ev('p3', { type: 'purchase', price: 7, userId: undefined, sessionId: 's9', timestamp: T0 - HOUR }),
        ev('p4', { type: 'purchase', price: 1, userId: 'u2', timestamp: T0 - 30 * DAY }), // before it
      ]);
      const users = await store().preExposure('user', ['u1', 'u2', 'u3'], T0 - 14 * DAY, T0);
      expect(users).toEqual([{ id: 'u1', purchases: 1, revenue: 5 }]);
      expect(await store().preExposure('session', ['s9'], T0 - 14 * DAY, T0)).toEqual([
        { id: 's9', purchases: 1, revenue: 7 },
      ]);
      expect(await store().preExposure('user', [], T0 - DAY, T0)).toEqual([]);
    });
  });
}
