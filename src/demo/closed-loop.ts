/**
 * The closed-loop storefront simulator (issue #13): visitors with planted tastes (`planted.json`)
 * come back over simulated days, are served Shelf's lists through `GET /v1/recommendations` (so
 * experiments and adaptive arms route them, and impressions are recorded the normal way), click
 * with a position-biased chance of their affinity for each item shown (click-model.ts), add to
 * cart, buy, return some purchases, and churn — more readily after a visit without a click, so
 * lists that serve them badly lose them. Their events go through `POST /v1/events` (validation,
 * ingest, attribution) carrying the list's `recommendationId`.
 *
 * Seeded: the same seed, start, store and model give the same visits, clicks and counts (only the
 * engine's recommendation ids differ). It counts what it did — impressions, clicks, purchases,
 * revenue per tier — so the aggregates can be checked against it exactly, and hands every list
 * shown, with the true chances it drew against, to `onShown` (the ground truth).
 */
import { createRng } from '../../models/random.ts';
import type { Rng } from '../../models/random.ts';
import type { ShelfApp } from '../api/app.ts';
import type { Recommendation, RecommendRequest, Tier } from '../serving/types.ts';
import { TIERS } from '../serving/types.ts';
import type { Item, ShelfEvent } from '../store/types.ts';
import {
  CHURN,
  CLICK_MODEL,
  VISIT_PER_DAY,
  cartProbability,
  checkoutProbability,
  trueProbabilities,
} from './click-model.ts';
import type { PlantedTruth, PlantedUser } from './planted.ts';
import { pickOne, uniform } from './sampling.ts';

const SECOND = 1000;
const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A clock that only moves forward, set by the simulator and read by the engine and the app. */
export class SimulatedClock {
  constructor(private t: number) {}
  readonly now = (): number => this.t;
  /** Moves to `ms`, or stays when that is in the past. */
  advance(ms: number): void {
    if (ms > this.t) this.t = ms;
  }
}

export interface ClosedLoopOptions {
  /** Visitors drawn from the planted users (at most as many as there are). */
  visitors: number;
  days: number;
  seed: number;
  /** The first simulated day, epoch ms at 00:00 UTC. */
  start: number;
  /** Tiers a visit may be served, in visit order. @defaultValue every tier */
  tiers?: readonly Tier[];
  /** Items per list. @defaultValue 10 */
  limit?: number;
}

/** What the simulator runs against: a Shelf built with `clock.now`. */
export interface ClosedLoopShelf {
  app: Pick<ShelfApp, 'inject'>;
  /** A storefront key for `GET /v1/recommendations` and `POST /v1/events`. */
  storefrontKey: string;
  /** Called at the end of every simulated day (the impression recorder's flush). */
  endOfDay?: () => Promise<void>;
}

/** The simulator's own counts; revenue in cents (whole numbers add up exactly). */
export interface SimulationCounts {
  impressions: number;
  itemsShown: number;
  clicks: number;
  addToCarts: number;
  purchases: number;
  units: number;
  returns: number;
  /** Purchases less returns, in cents. */
  revenueCents: number;
  /** Sums of the true chances over the items shown: what the counts estimate. */
  expectedClicks: number;
  expectedPurchases: number;
}

/** One list served, with the true chances of each item (the ground truth). */
export interface ShownList {
  recommendationId: string;
  tier: Tier;
  at: number;
  userId: string;
  sessionId: string;
  items: { itemId: string; position: number; click: number; purchase: number; clicked: boolean }[];
}

export interface SimulationResult {
  options: Required<ClosedLoopOptions>;
  /** The first and last simulated UTC day, YYYY-MM-DD. */
  from: string;
  to: string;
  visitors: number;
  visits: number;
  /** Visitors gone for good by the end. */
  churned: number;
  totals: SimulationCounts;
  byTier: Partial<Record<Tier, SimulationCounts>>;
}

interface Visitor {
  userId: string;
  taste: PlantedUser;
  churned: boolean;
}

interface CartLine {
  itemId: string;
  tier: Tier;
  recommendationId: string;
  quantity: number;
  price: number;
}

interface PendingReturn {
  at: number;
  userId: string;
  line: CartLine;
}

const zero = (): SimulationCounts => ({
  impressions: 0,
  itemsShown: 0,
  clicks: 0,
  addToCarts: 0,
  purchases: 0,
  units: 0,
  returns: 0,
  revenueCents: 0,
  expectedClicks: 0,
  expectedPurchases: 0,
});

const cents = (price: number) => Math.round(price * 100);

/** Checks the options; throws `RangeError` naming the bad one. */
export function checkClosedLoopOptions(
  o: ClosedLoopOptions,
  plantedUsers: number,
): Required<ClosedLoopOptions> {
  const whole = (name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(v) || v < min || v > max)
      throw new RangeError(`${name} must be a whole number from ${min} to ${max}, got ${v}`);
  };
  whole('visitors', o.visitors, 1, plantedUsers);
  whole('days', o.days, 1, 3650);
  whole('seed', o.seed, 0, 0xffffffff);
  whole('limit', o.limit ?? 10, 1, 100);
  if (!Number.isFinite(o.start) || o.start % DAY !== 0)
    throw new RangeError('start must be epoch ms at 00:00 UTC');
  const tiers = o.tiers ?? TIERS;
  for (const t of tiers) if (!TIERS.includes(t)) throw new RangeError(`unknown tier ${JSON.stringify(t)}`);
  if (!tiers.length) throw new RangeError('tiers must name at least one tier');
  return { ...o, tiers, limit: o.limit ?? 10 };
}

/**
 * Runs the simulation against `shelf`, moving `clock` through the days; `onShown` gets every
 * list served. Throws when the app refuses an event (the counts would no longer be the truth).
 */
export async function runClosedLoop(
  shelf: ClosedLoopShelf,
  clock: SimulatedClock,
  world: { planted: PlantedTruth; items: readonly Item[] },
  options: ClosedLoopOptions,
  onShown?: (list: ShownList) => void | Promise<void>,
): Promise<SimulationResult> {
  const userIds = Object.keys(world.planted.users).sort();
  const o = checkClosedLoopOptions(options, userIds.length);
  const rng = createRng(o.seed);
  const catalogue = new Map(world.items.map((i) => [i.itemId, i]));
  const totals = zero();
  const byTier: Partial<Record<Tier, SimulationCounts>> = {};
  const count = (tier: Tier) => (byTier[tier] ??= zero());
  const day0 = new Date(o.start).toISOString().slice(0, 10).replaceAll('-', '');
  let eventNo = 0;
  let visitNo = 0;
  const eventId = () => `sim-${o.seed}-${day0}-${++eventNo}`;

  // Visitors: a seeded sample of the planted users, without repeats.
  const pool = [...userIds];
  const visitors: Visitor[] = [];
  for (let k = 0; k < o.visitors; k++) {
    const j = k + rng.int(pool.length - k);
    [pool[k], pool[j]] = [pool[j]!, pool[k]!];
    visitors.push({ userId: pool[k]!, taste: world.planted.users[pool[k]!]!, churned: false });
  }
  const returns: PendingReturn[] = [];

  /**
   * A list asked for as a storefront asks: over HTTP, so a running experiment, a shipped variant
   * or an adaptive arm serves it as it serves real traffic (the engine asked directly served
   * every simulated list with the tier's default).
   */
  const list = async (req: RecommendRequest): Promise<Recommendation> => {
    const q = new URLSearchParams({ limit: String(req.limit) });
    for (const k of ['userId', 'sessionId', 'category', 'itemId'] as const) if (req[k]) q.set(k, req[k]);
    if (req.cartItemIds) q.set('cartItemIds', req.cartItemIds.join(','));
    const url = `/v1/recommendations/${req.tier}?${q}`;
    const res = await shelf.app.inject({ url, headers: { authorization: `Bearer ${shelf.storefrontKey}` } });
    if (res.statusCode !== 200)
      throw new Error(`the simulator's GET ${url} answered ${res.statusCode}: ${res.body}`);
    return res.json<Recommendation>();
  };

  const post = async (events: ShelfEvent[]) => {
    if (!events.length) return;
    clock.advance(Math.max(...events.map((e) => e.timestamp)));
    const res = await shelf.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${shelf.storefrontKey}` },
      payload: { events },
    });
    const body = res.json<{ accepted: number }>();
    if (res.statusCode !== 200 || body.accepted !== events.length)
      throw new Error(`the simulator's events were not all accepted: ${res.statusCode} ${res.body}`);
  };

  // Purchases per user and item, in time order: a return is credited, as the attributor does, to
  // the latest purchase of the item before it, whichever list that purchase came from.
  const bought = new Map<string, { at: number; tier: Tier }[]>();
  const sendReturnsDue = async (until: number) => {
    returns.sort((a, b) => a.at - b.at);
    const k = returns.findIndex((r) => r.at > until);
    const due = returns.splice(0, k < 0 ? returns.length : k);
    for (const r of due) {
      const tier = bought
        .get(`${r.userId}\u0000${r.line.itemId}`)!
        .filter((p) => p.at <= r.at)
        .at(-1)!.tier;
      for (const x of [totals, count(tier)]) {
        x.returns++;
        x.revenueCents -= cents(r.line.price) * r.line.quantity;
      }
    }
    await post(
      due.map((r) => ({
        eventId: eventId(),
        type: 'return',
        userId: r.userId,
        itemId: r.line.itemId,
        quantity: r.line.quantity,
        price: r.line.price,
        timestamp: r.at,
      })),
    );
  };

  const visit = async (v: Visitor, startAt: number, end: number, r: Rng) => {
    const sessionId = `sim-${o.seed}-${day0}-s${++visitNo}`;
    let t = Math.max(startAt, clock.now());
    const step = (lo: number, hi: number) => (t += Math.floor(uniform(r, lo, hi) * SECOND));
    const cart: CartLine[] = [];
    let clicked: string | undefined;
    let clicks = 0;
    for (const tier of o.tiers) {
      const req: RecommendRequest = { tier, userId: v.userId, sessionId, limit: o.limit };
      if (tier === 'category') {
        if (!v.taste.favouriteCategories.length) continue;
        req.category = pickOne(v.taste.favouriteCategories, r);
      } else if (tier === 'similar') {
        if (clicked === undefined) continue;
        req.itemId = clicked;
      } else if (tier === 'cart') {
        if (!cart.length) continue;
        req.cartItemIds = cart.map((l) => l.itemId);
      }
      step(2, 20);
      clock.advance(t);
      const rec = await list(req);
      const shown: ShownList = {
        recommendationId: rec.recommendationId,
        tier,
        at: clock.now(),
        userId: v.userId,
        sessionId,
        items: [],
      };
      const c = [totals, count(tier)];
      for (const x of c) {
        x.impressions++;
        x.itemsShown += rec.items.length;
      }
      const events: ShelfEvent[] = [];
      for (const [position, { itemId }] of rec.items.entries()) {
        const item = catalogue.get(itemId);
        const p = item ? trueProbabilities(v.taste, item, position) : { click: 0, purchase: 0 };
        const hit = r.next() < p.click;
        shown.items.push({ itemId, position, click: p.click, purchase: p.purchase, clicked: hit });
        for (const x of c) {
          x.expectedClicks += p.click;
          x.expectedPurchases += p.purchase;
        }
        if (!hit || !item) continue;
        step(5, 40);
        const base = { userId: v.userId, sessionId, itemId, recommendationId: rec.recommendationId };
        events.push({ eventId: eventId(), type: 'click', timestamp: t, ...base });
        for (const x of c) x.clicks++;
        clicks++;
        clicked = itemId;
        if (r.next() >= cartProbability(v.taste.segment)) continue;
        step(10, 90);
        const price = item.price ?? 0;
        const quantity = item.repurchasable && r.next() < 0.3 ? 2 : 1;
        events.push({ eventId: eventId(), type: 'add_to_cart', timestamp: t, quantity, price, ...base });
        for (const x of c) x.addToCarts++;
        cart.push({ itemId, tier, recommendationId: rec.recommendationId, quantity, price });
      }
      await onShown?.(shown);
      await post(events);
    }
    if (cart.length && r.next() < checkoutProbability(v.taste.segment)) {
      step(20, 120);
      const events: ShelfEvent[] = [];
      for (const line of cart) {
        events.push({
          eventId: eventId(),
          type: 'purchase',
          userId: v.userId,
          sessionId,
          itemId: line.itemId,
          recommendationId: line.recommendationId,
          quantity: line.quantity,
          price: line.price,
          timestamp: t,
        });
        for (const x of [totals, count(line.tier)]) {
          x.purchases++;
          x.units += line.quantity;
          x.revenueCents += cents(line.price) * line.quantity;
        }
        const key = `${v.userId}\u0000${line.itemId}`;
        bought.set(key, [...(bought.get(key) ?? []), { at: t, tier: line.tier }]);
        // A return 1–3 days later, sent only if it falls inside the simulated days.
        if (r.next() < CLICK_MODEL.return) {
          const at = t + Math.floor(uniform(r, 1, 3) * DAY);
          if (at < end) returns.push({ at, userId: v.userId, line });
        }
        step(1, 3);
      }
      await post(events);
    }
    return clicks;
  };

  let visits = 0;
  const end = o.start + o.days * DAY;
  for (let d = 0; d < o.days; d++) {
    const dayStart = o.start + d * DAY;
    // Who comes today, and when (06:00–23:00 UTC); each visit draws from its own generator.
    const today: { v: Visitor; at: number; seed: number }[] = [];
    for (const v of visitors) {
      if (v.churned || rng.next() >= VISIT_PER_DAY[v.taste.segment]) continue;
      today.push({ v, at: dayStart + Math.floor(uniform(rng, 6, 23) * HOUR), seed: rng.int(0x100000000) });
    }
    today.sort((a, b) => a.at - b.at);
    for (const { v, at, seed } of today) {
      await sendReturnsDue(Math.max(at, clock.now()));
      const r = createRng(seed);
      const clicks = await visit(v, at, end, r);
      visits++;
      if (r.next() < CHURN.base + (clicks ? 0 : CHURN.unengaged)) v.churned = true;
    }
    await sendReturnsDue(Math.min(end - 1, dayStart + DAY - 1));
    await shelf.endOfDay?.();
  }
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return {
    options: o,
    from: iso(o.start),
    to: iso(end - 1),
    visitors: visitors.length,
    visits,
    churned: visitors.filter((v) => v.churned).length,
    totals,
    byTier,
  };
}
