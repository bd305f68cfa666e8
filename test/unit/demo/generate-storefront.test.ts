import { describe, expect, it } from 'vitest';
import { demoUserId } from '../../../src/demo/build-shoppers.ts';
import { DEMO_NOW, generateStorefront } from '../../../src/demo/generate-storefront.ts';
import type { StorefrontOptions } from '../../../src/demo/generate-storefront.ts';
import { eventRecord, itemRecord, toJsonl, userRecord } from '../../../src/demo/json-records.ts';
import { inAnyCategory, SEGMENTS } from '../../../src/demo/planted.ts';
import type { Item, ShelfEvent } from '../../../src/store/types.ts';
import { validateEvent, validateItem, validateUser } from '../../../src/store/validate.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const OPTIONS: StorefrontOptions = { seed: 11, items: 600, users: 900, events: 45_000, batchSize: 1000 };

const storefront = generateStorefront(OPTIONS);
const batches = [...storefront.events()];
const events: ShelfEvent[] = batches.flat();
const itemsById = new Map<string, Item>(storefront.items.map((i) => [i.itemId, i]));
const now = storefront.options.now;

function countBy<T>(list: readonly T[], key: (x: T) => string | undefined): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of list) {
    const k = key(x);
    if (k !== undefined) m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function serialise(options: StorefrontOptions): string {
  const s = generateStorefront(options);
  let out = toJsonl(s.items, itemRecord) + toJsonl(s.users, userRecord);
  for (const batch of s.events()) out += toJsonl(batch, eventRecord);
  return out + JSON.stringify(s.planted);
}

const userEvents = new Map<string, ShelfEvent[]>();
for (const e of events) {
  if (e.userId === undefined) continue;
  let list = userEvents.get(e.userId);
  if (!list) userEvents.set(e.userId, (list = []));
  list.push(e);
}
const typeCount = countBy(events, (e) => e.type);
const n = (type: string): number => typeCount.get(type) ?? 0;

describe('generateStorefront: determinism', () => {
  const small: StorefrontOptions = { seed: 5, items: 150, users: 120, events: 6000 };

  it('gives byte-identical output for the same options', () => {
    expect(serialise(small)).toBe(serialise(small));
  });

  it('gives different output for a different seed or now', () => {
    const base = serialise(small);
    expect(serialise({ ...small, seed: 6 })).not.toBe(base);
    expect(serialise({ ...small, now: DEMO_NOW + DAY })).not.toBe(base);
  });

  it('replays the same events on every call to events()', () => {
    const again = [...storefront.events()].flat();
    expect(again.length).toBe(events.length);
    expect(toJsonl(again, eventRecord)).toBe(toJsonl(events, eventRecord));
  });

  it('rejects options it cannot honour', () => {
    expect(() => generateStorefront({ items: 50 })).toThrow(RangeError);
    expect(() => generateStorefront({ seed: -1 })).toThrow(RangeError);
    expect(() => generateStorefront({ currency: 'euro' })).toThrow(RangeError);
  });
});

describe('generateStorefront: records', () => {
  it('produces records that pass validation unchanged (JSONL form and back)', () => {
    for (const item of storefront.items) {
      const v = validateItem(JSON.parse(JSON.stringify(itemRecord(item))), 0);
      expect(v).toEqual({ ok: true, value: item });
    }
    for (const user of storefront.users) {
      const v = validateUser(JSON.parse(JSON.stringify(userRecord(user))), 0);
      expect(v).toEqual({ ok: true, value: user });
    }
    let bad = 0;
    for (const e of events) {
      const v = validateEvent(JSON.parse(JSON.stringify(eventRecord(e))));
      if (!v.ok || JSON.stringify(eventRecord(v.value)) !== JSON.stringify(eventRecord(e))) bad++;
    }
    expect(bad).toBe(0);
  });

  it('numbers events gen-<seed>-<n> in time order, in batches of at most batchSize, all before now', () => {
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches) expect(b.length).toBeLessThanOrEqual(1000);
    let misnumbered = 0;
    let unordered = 0;
    events.forEach((e, i) => {
      if (e.eventId !== `gen-11-${i + 1}`) misnumbered++;
      if (i > 0 && e.timestamp < events[i - 1]!.timestamp) unordered++;
    });
    expect(misnumbered).toBe(0);
    expect(unordered).toBe(0);
    expect(events.at(-1)!.timestamp).toBeLessThanOrEqual(now);
    expect(events[0]!.timestamp).toBeGreaterThanOrEqual(now - 180 * DAY);
  });

  it('names users u-00001 … in order, as demoUserId does for benchmarks that ask for them', () => {
    expect(storefront.users.map((u) => u.userId)).toEqual(
      Array.from({ length: OPTIONS.users! }, (_, i) => demoUserId(i, OPTIONS.users!)),
    );
    expect(storefront.users[0]!.userId).toBe('u-00001');
    expect(demoUserId(99_999, 100_000)).toBe('u-100000');
  });

  it('lands within 10 % of the requested number of events', () => {
    expect(events.length).toBeGreaterThan(45_000 * 0.9);
    expect(events.length).toBeLessThan(45_000 * 1.1);
  });

  it('never has an event before the item was published or the user signed up', () => {
    const early = events.filter((e) => e.timestamp < itemsById.get(e.itemId)!.publishedAt);
    expect(early).toEqual([]);
    const createdAt = new Map(storefront.users.map((u) => [u.userId, u.createdAt]));
    const beforeSignup = events.filter(
      (e) => e.userId !== undefined && e.timestamp < createdAt.get(e.userId)!,
    );
    expect(beforeSignup).toEqual([]);
  });

  it('increases timestamps strictly within a session', () => {
    const last = new Map<string, number>();
    let violations = 0;
    for (const e of events) {
      if (e.sessionId === undefined) continue;
      if ((last.get(e.sessionId) ?? -Infinity) >= e.timestamp) violations++;
      last.set(e.sessionId, e.timestamp);
    }
    expect(last.size).toBeGreaterThan(1000);
    expect(violations).toBe(0);
  });

  it('puts a positive price and quantity on cart, purchase and return events, a 1–5 value on ratings', () => {
    let bad = 0;
    for (const e of events) {
      if (['add_to_cart', 'remove_from_cart', 'purchase', 'return'].includes(e.type)) {
        if (e.price !== itemsById.get(e.itemId)!.price || !(e.quantity! >= 1)) bad++;
      } else if (e.price !== undefined || e.quantity !== undefined) bad++;
      if ((e.type === 'rating') !== [1, 2, 3, 4, 5].includes(e.value!)) bad++;
    }
    expect(bad).toBe(0);
  });
});

describe('generateStorefront: catalogue', () => {
  const items = storefront.items;

  it('has about 5 % out of stock, a few delisted, some under 72 h old', () => {
    const outOfStock = items.filter((i) => i.stock === 0).length / items.length;
    expect(outOfStock).toBeGreaterThan(0.03);
    expect(outOfStock).toBeLessThan(0.075);
    const delisted = items.filter((i) => i.status === 'delisted').length;
    expect(delisted).toBeGreaterThan(0);
    expect(delisted).toBeLessThan(items.length * 0.05);
    const fresh = items.filter((i) => i.publishedAt > now - 72 * HOUR && i.publishedAt <= now).length;
    expect(fresh).toBeGreaterThan(items.length * 0.01);
    expect(fresh).toBeLessThan(items.length * 0.06);
    const spread = items.map((i) => i.publishedAt).sort((a, b) => a - b);
    expect(spread[Math.floor(items.length / 2)]!).toBeLessThan(now - 60 * DAY);
  });

  it('marks consumables repurchasable and prices categories differently', () => {
    const repurchasable = items.filter((i) => i.repurchasable);
    expect(repurchasable.length).toBeGreaterThan(items.length * 0.1);
    expect(repurchasable.every((i) => !i.categories[0]!.startsWith('Electronics'))).toBe(true);
    expect(items.filter((i) => i.categories[0]!.startsWith('Grocery')).every((i) => i.repurchasable)).toBe(
      true,
    );
    const median = (dept: string): number => {
      const p = items
        .filter((i) => i.categories[0]!.startsWith(dept))
        .map((i) => i.price!)
        .sort((a, b) => a - b);
      return p[p.length >> 1]!;
    };
    expect(median('Electronics')).toBeGreaterThan(3 * median('Grocery'));
    expect(items.every((i) => i.price! > 0 && i.currency === 'EUR')).toBe(true);
  });

  it('builds titles from the category vocabulary and brand', () => {
    const mugs = items.filter((i) => i.categories[0] === 'Home > Kitchen > Mugs');
    expect(mugs.length).toBeGreaterThan(0);
    for (const m of mugs) expect(m.title).toMatch(/Mug|Cup|Tumbler/);
    for (const i of items) if (i.brand) expect(i.title.startsWith(i.brand)).toBe(true);
  });

  it('lets specialist brands concentrate in their departments', () => {
    const { brands } = storefront.planted;
    let specialists = 0;
    for (const [name, { specialities }] of Object.entries(brands)) {
      const own = items.filter((i) => i.brand === name);
      if (specialities.length === 0 || own.length < 5) continue;
      specialists++;
      const inside = own.filter((i) => specialities.some((d) => i.categories[0]!.startsWith(d))).length;
      expect(inside / own.length).toBeGreaterThan(0.6);
    }
    expect(specialists).toBeGreaterThan(5);
  });

  it('concentrates views on a few items (power-law popularity)', () => {
    const views = [...countBy(events, (e) => (e.type === 'view' ? e.itemId : undefined)).values()].sort(
      (a, b) => b - a,
    );
    const total = views.reduce((a, b) => a + b, 0);
    const top = views.slice(0, Math.ceil(items.length * 0.1)).reduce((a, b) => a + b, 0);
    expect(top / total).toBeGreaterThan(0.4);
  });
});

describe('generateStorefront: behaviour', () => {
  it('runs the funnel view → click → add_to_cart → purchase at about 100 : 40 : 10 : 3', () => {
    expect(n('click') / n('view')).toBeGreaterThan(0.35);
    expect(n('click') / n('view')).toBeLessThan(0.45);
    expect(n('add_to_cart') / n('view')).toBeGreaterThan(0.07);
    expect(n('add_to_cart') / n('view')).toBeLessThan(0.13);
    expect(n('purchase') / n('view')).toBeGreaterThan(0.02);
    expect(n('purchase') / n('view')).toBeLessThan(0.045);
    for (const t of ['remove_from_cart', 'return', 'dislike', 'rating']) expect(n(t)).toBeGreaterThan(0);
    expect(n('remove_from_cart')).toBeLessThan(n('add_to_cart') * 0.25);
    expect(n('return')).toBeLessThan(n('purchase') * 0.1);
  });

  it('keeps most of each user’s events in the planted favourite categories', () => {
    const shares: number[] = [];
    for (const [userId, list] of userEvents) {
      if (list.length < 10) continue;
      const fav = storefront.planted.users[userId]!.favouriteCategories;
      const inside = list.filter((e) => inAnyCategory(itemsById.get(e.itemId)!.categories, fav)).length;
      shares.push(inside / list.length);
    }
    expect(shares.length).toBeGreaterThan(500);
    expect(shares.filter((s) => s >= 0.6).length / shares.length).toBeGreaterThan(0.85);
    const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
    expect(mean).toBeGreaterThan(0.7);
    expect(mean).toBeLessThan(0.92);
  });

  it('makes the planted brand affinity visible', () => {
    const brandShare = countBy(storefront.items, (i) => i.brand);
    let lifted = 0;
    let users = 0;
    for (const [userId, list] of userEvents) {
      const brands = storefront.planted.users[userId]!.brandAffinity;
      if (list.length < 20 || brands.length === 0) continue;
      users++;
      const observed =
        list.filter((e) => brands.includes(itemsById.get(e.itemId)!.brand ?? '')).length / list.length;
      const baseline = brands.reduce((a, b) => a + (brandShare.get(b) ?? 0), 0) / storefront.items.length;
      if (observed > 2 * baseline) lifted++;
    }
    expect(users).toBeGreaterThan(200);
    expect(lifted / users).toBeGreaterThan(0.7);
  });

  it('plants all segments and their behaviour shows in the data', () => {
    const { users: planted, segments } = storefront.planted;
    for (const s of SEGMENTS) expect(segments[s]).toBeGreaterThan(0);
    const bySegment = (s: string) => storefront.users.filter((u) => planted[u.userId]!.segment === s);
    const lastEvent = (userId: string) => userEvents.get(userId)?.at(-1)?.timestamp ?? -Infinity;
    const purchases = (userId: string) => (userEvents.get(userId) ?? []).filter((e) => e.type === 'purchase');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

    for (const u of bySegment('new')) {
      expect(u.createdAt).toBeGreaterThan(now - 14 * DAY);
      expect(new Set((userEvents.get(u.userId) ?? []).map((e) => e.sessionId)).size).toBeLessThanOrEqual(3);
    }
    // Sessions stop at activeUntil; later events can only be returns and ratings of earlier purchases.
    for (const s of ['churning', 'churned']) {
      for (const u of bySegment(s)) {
        const until = Date.parse(planted[u.userId]!.activeUntil);
        expect(until).toBeLessThan(now - (s === 'churned' ? 60 : 21) * DAY);
        const late = (userEvents.get(u.userId) ?? []).filter(
          (e) => e.timestamp > until + 3 * HOUR && e.type !== 'return' && e.type !== 'rating',
        );
        expect(late).toEqual([]);
      }
    }
    const active = bySegment('active');
    const recent = active.filter((u) => lastEvent(u.userId) > now - 8 * DAY).length;
    expect(recent / active.length).toBeGreaterThan(0.9);

    const spend = (userId: string) => purchases(userId).reduce((a, e) => a + e.price! * e.quantity!, 0);
    const hv = bySegment('high_value').map((u) => u.userId);
    const act = active.map((u) => u.userId);
    expect(mean(hv.map((u) => purchases(u).length))).toBeGreaterThan(
      3 * mean(act.map((u) => purchases(u).length)),
    );
    expect(mean(hv.map(spend))).toBeGreaterThan(3 * mean(act.map(spend)));
    expect(mean(bySegment('new').map((u) => userEvents.get(u.userId)?.length ?? 0))).toBeLessThan(
      mean(act.map((u) => userEvents.get(u)?.length ?? 0)) / 2,
    );
  });

  it('has anonymous sessions and sessions that log in part-way', () => {
    const anonymous = events.filter((e) => e.userId === undefined);
    expect(anonymous.length).toBeGreaterThan(events.length * 0.03);
    expect(anonymous.every((e) => e.sessionId !== undefined)).toBe(true);
    const firstSeen = new Map<string, boolean>();
    const loggedInLater = new Set<string>();
    for (const e of events) {
      if (e.sessionId === undefined) continue;
      if (!firstSeen.has(e.sessionId)) firstSeen.set(e.sessionId, e.userId !== undefined);
      else if (!firstSeen.get(e.sessionId) && e.userId !== undefined) loggedInLater.add(e.sessionId);
    }
    expect(loggedInLater.size).toBeGreaterThan(50);
  });

  it('has repeat buyers of repurchasable items', () => {
    const pairs = countBy(
      events.filter((e) => e.type === 'purchase' && e.userId),
      (e) => `${e.userId}|${e.itemId}`,
    );
    const repeats = [...pairs].filter(([k, c]) => c >= 2 && itemsById.get(k.split('|')[1]!)!.repurchasable);
    expect(repeats.length).toBeGreaterThan(20);
  });
});
