/**
 * Merchandising rules through HTTP: `PUT /v1/admin/rules` refuses a set that could not act
 * (naming the field), serves a good one from the next request on — cached lists and experiment
 * variants included — on the replica that stored it and, through the change feed, on another,
 * and on one started afterwards; a pinned item out of stock is not shown; a boost lifts; the
 * audit log keeps the set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Shelf } from '../../../src/app/create-shelf.ts';
import type { Item } from '../../../src/store/types.ts';
import { trainedShop } from '../../helpers/trained-shop.ts';
import type { TrainedShop } from '../../helpers/trained-shop.ts';

const NOW = Date.UTC(2025, 0, 15, 12);
const SHOP = 'storefront-key-0123456789';
const ADMIN = 'admin-key-0123456789abcdef';
/** Rotation off: a list asked again is the same list unless the rules changed it. */
const ENV = { SHELF_API_KEYS: `storefront:${SHOP},admin:${ADMIN}`, SHELF_ROTATION_SHOWS: '0' };

interface Answer {
  items: { itemId: string; reason: string }[];
  variant?: string;
}

describe('merchandising rules through HTTP', () => {
  let shop: TrainedShop;
  let shelf: Shelf;
  /** Another replica over the same store: it learns of the rules from the change feed only. */
  let replica: Shelf;
  let users: string[];
  let itemIds: string[];
  let items: Item[];

  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const put = (s: Shelf, payload: object) =>
    s.app.inject({ method: 'PUT', url: '/v1/admin/rules', headers: as(ADMIN), payload });
  const list = async (s: Shelf, tier: string, userId: string): Promise<Answer> => {
    const r = await s.app.inject({
      url: `/v1/recommendations/${tier}?userId=${userId}&limit=10`,
      headers: as(SHOP),
    });
    expect(r.statusCode).toBe(200);
    return r.json() as Answer;
  };
  const ids = (a: Answer) => a.items.map((i) => i.itemId);

  beforeAll(async () => {
    shop = await trainedShop({ seed: 11, items: 150, users: 60, events: 3000, now: NOW });
    users = shop.storefront.users.map((u) => u.userId);
    items = shop.storefront.items;
    itemIds = items.map((i) => i.itemId);
    shelf = await shop.start(ENV, () => NOW);
    replica = await shop.start(ENV, () => NOW);
  });
  afterAll(async () => {
    await replica.close();
    await shelf.close();
    await shop.close();
  });

  it('answers no rules before any are set', async () => {
    const r = await shelf.app.inject({ url: '/v1/admin/rules', headers: as(ADMIN) });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ pins: [], boosts: {}, updatedAt: null });
    const shop = await shelf.app.inject({ url: '/v1/admin/rules', headers: as(SHOP) });
    expect(shop.statusCode).toBe(403);
  });

  it('refuses a set that could not act, naming the field, and keeps serving the one before', async () => {
    const unknown = await put(shelf, { pins: [{ itemId: 'no-such-item', slot: 0 }], boosts: {} });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toBe("body/pins/0/itemId: 'no-such-item' is not in the catalogue");
    const clash = await put(shelf, {
      pins: [
        { itemId: itemIds[0], slot: 1, tiers: ['homepage'] },
        { itemId: itemIds[1], slot: 1 },
        { itemId: itemIds[2], slot: 1, tiers: ['cart'] },
      ],
      boosts: {},
    });
    expect(clash.statusCode).toBe(400);
    // The third shares no list with the first; the second shares the homepage's.
    expect(clash.json().details).toEqual([
      { field: 'body/pins/1/slot', reason: 'slot 1 of the same lists is pinned by pins/0' },
      { field: 'body/pins/2/slot', reason: 'slot 1 of the same lists is pinned by pins/1' },
    ]);
    const twice = await put(shelf, {
      pins: [
        { itemId: itemIds[0], slot: 1, category: 'A' },
        { itemId: itemIds[0], slot: 4, category: 'B' },
        { itemId: itemIds[0], slot: 5 },
      ],
      boosts: {},
    });
    expect(twice.json().details).toContainEqual({
      field: 'body/pins/2/itemId',
      reason: `'${itemIds[0]}' is pinned in the same lists by pins/0`,
    });
    expect(twice.json().details).toHaveLength(2);
    const zero = await put(shelf, { pins: [], boosts: { brands: { Acme: 0 } } });
    expect(zero.statusCode).toBe(400);
    expect(zero.json().message).toMatch(/^body\/boosts\/brands\/Acme must be > 0/);
    const missing = await put(shelf, { pins: [] });
    expect(missing.statusCode).toBe(400);
    // Seen: "body/boosts must have required property 'boosts'".
    expect(missing.json().message).toBe('body/boosts is required');
    expect(
      (await shelf.app.inject({ url: '/v1/admin/rules', headers: as(ADMIN) })).json().updatedAt,
    ).toBeNull();
    // A category pin for an item outside that category is kept (it may be recategorised) and said.
    const first = items.find((i) => i.categories.length)!;
    const elsewhere = items.find(
      (i) =>
        i.categories.length && !i.categories.some((c) => first.categories[0]!.startsWith(c.split(' > ')[0]!)),
    )!;
    const category = elsewhere.categories[0]!;
    const outside = await put(shelf, { pins: [{ itemId: first.itemId, slot: 0, category }], boosts: {} });
    expect(outside.statusCode).toBe(200);
    expect(outside.json().warnings).toEqual([
      {
        field: 'pins/0/category',
        reason: `'${first.itemId}' is not in '${category}': never shown in its lists`,
      },
    ]);
  });

  it('pins items at their slots from the next request on, on this replica, another and one started after', async () => {
    const user = users[0]!;
    const before = await list(shelf, 'homepage', user);
    const personalizedBefore = await list(shelf, 'personalized', user);
    // Items the user's lists do not hold: pinned, they must appear.
    const outside = itemIds.filter(
      (id) => !ids(before).includes(id) && !ids(personalizedBefore).includes(id),
    );
    const [home0, every2] = [outside[0]!, outside[1]!];
    const r = await put(shelf, {
      pins: [
        { itemId: home0, slot: 0, tiers: ['homepage'] },
        { itemId: every2, slot: 2 },
      ],
      boosts: { brands: { 'No Such Brand': 2 } },
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      updatedAt: new Date(NOW).toISOString(),
      warnings: [{ field: 'boosts/brands/No Such Brand', reason: "no item is of brand 'No Such Brand'" }],
    });

    // The homepage list was cached before the change: it is not reused.
    for (const s of [shelf, replica]) {
      if (s === replica) await replica.changes.catchUp();
      const home = await list(s, 'homepage', user);
      expect(home.items[0]).toEqual(expect.objectContaining({ itemId: home0, reason: 'promoted' }));
      expect(home.items[2]).toEqual(expect.objectContaining({ itemId: every2, reason: 'promoted' }));
      const personalized = await list(s, 'personalized', user);
      expect(ids(personalized)).not.toContain(home0);
      expect(personalized.items[2]!.itemId).toBe(every2);
    }
    const restarted = await shop.start(ENV, () => NOW);
    try {
      expect(ids(await list(restarted, 'homepage', user)).slice(0, 3)).toEqual([
        home0,
        expect.any(String),
        every2,
      ]);
    } finally {
      await restarted.close();
    }

    const got = await shelf.app.inject({ url: '/v1/admin/rules', headers: as(ADMIN) });
    expect(got.json()).toEqual({
      pins: [
        { itemId: home0, slot: 0, tiers: ['homepage'] },
        { itemId: every2, slot: 2 },
      ],
      boosts: { brands: { 'No Such Brand': 2 } },
      updatedAt: new Date(NOW).toISOString(),
    });
    const audit = await shelf.app.inject({ url: '/v1/admin/audit', headers: as(ADMIN) });
    const entries = (
      audit.json() as { entries: { action: string; role: string; detail: { rules: string } }[] }
    ).entries.filter((e) => e.action === 'rules.update');
    // Newest first: this set, then the one kept with a warning above.
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ action: 'rules.update', role: 'admin' });
    expect(JSON.parse(entries[0]!.detail.rules).pins).toHaveLength(2);
  });

  it('never shows a pinned item out of stock, and shows it again once back', async () => {
    const user = users[1]!;
    const before = await list(shelf, 'homepage', user);
    const pinned = itemIds.find((id) => !ids(before).includes(id))!;
    expect((await put(shelf, { pins: [{ itemId: pinned, slot: 0 }], boosts: {} })).statusCode).toBe(200);
    expect((await list(shelf, 'homepage', user)).items[0]!.itemId).toBe(pinned);
    const stock = (n: number) =>
      shelf.app.inject({
        method: 'PATCH',
        url: `/v1/items/${pinned}`,
        headers: as(ADMIN),
        payload: { stock: n },
      });
    expect((await stock(0)).statusCode).toBe(200);
    // Set again while out: kept, and said.
    const again = await put(shelf, { pins: [{ itemId: pinned, slot: 0 }], boosts: {} });
    expect(again.json().warnings).toEqual([
      {
        field: 'pins/0/itemId',
        reason: `'${pinned}' is out of stock or delisted: not shown until it is back`,
      },
    ]);
    const out = await list(shelf, 'homepage', user);
    expect(ids(out)).not.toContain(pinned);
    expect(out.items).toHaveLength(10);
    expect((await stock(5)).statusCode).toBe(200);
    // A list made while it was out is reused until it expires; a new visitor's shows it at once.
    expect((await list(shelf, 'homepage', users[2]!)).items[0]!.itemId).toBe(pinned);
  });

  it('boosts an item up the list, in an experiment variant too', async () => {
    const user = users[3]!;
    expect((await put(shelf, { pins: [], boosts: {} })).statusCode).toBe(200);
    const plain = await list(shelf, 'homepage', user);
    const low = plain.items[plain.items.length - 1]!.itemId;
    expect((await put(shelf, { pins: [], boosts: { itemIds: { [low]: 100 } } })).statusCode).toBe(200);
    const boosted = await list(shelf, 'homepage', user);
    expect(boosted.items[0]!.itemId).toBe(low);
    // The others keep the order they have beside it unboosted (pinned first): a boost lifts its
    // item, it does not leave similarity alone to order the rest (MMR's relevance measured
    // against the boosted score made every other item's a sliver of it).
    expect((await put(shelf, { pins: [{ itemId: low, slot: 0 }], boosts: {} })).statusCode).toBe(200);
    expect(ids(boosted)).toEqual(ids(await list(shelf, 'homepage', user)));

    // A running experiment's variants are built on the rules served now, whichever replica.
    const exp = {
      id: 'rules-exp',
      name: 'trending only',
      tiers: ['homepage'],
      unit: 'user',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'b', share: 0.5, config: { weights: { vector: 0, neighbours: 0, ease: 0, trending: 1 } } },
      ],
    };
    const admin = (url: string, payload?: object) =>
      shelf.app.inject({ method: 'POST', url, headers: as(ADMIN), ...(payload ? { payload } : {}) });
    expect((await admin('/v1/admin/experiments', exp)).statusCode).toBe(201);
    expect((await admin('/v1/admin/experiments/rules-exp/start')).statusCode).toBe(200);
    const pinned = itemIds.at(-1)!;
    expect((await put(shelf, { pins: [{ itemId: pinned, slot: 1 }], boosts: {} })).statusCode).toBe(200);
    await replica.changes.catchUp();
    const variants = new Set<string>();
    for (const u of users.slice(0, 12)) {
      const a = await list(replica, 'homepage', u);
      variants.add(a.variant!);
      expect(a.items[1]!.itemId).toBe(pinned);
    }
    expect(variants).toEqual(new Set(['control', 'b']));
  });
});
