/**
 * `generateStorefront(options)`: a deterministic synthetic storefront with planted tastes. The
 * same options give the same items, users and events, byte for byte; events are produced lazily
 * in time order, a batch at a time, so a million of them never sit in memory together.
 */
import { createRng } from '../../models/random.ts';
import type { Item, ShelfEvent, User } from '../store/types.ts';
import { buildCatalogue } from './build-catalogue.ts';
import { buildShoppers, SEGMENTS } from './build-shoppers.ts';
import type { Segment, Shopper } from './build-shoppers.ts';
import { buildCategoryTree } from './category-tree.ts';
import { planSessions } from './plan-sessions.ts';
import type { PlantedTruth, PlantedUser } from './planted.ts';
import { PLANTED_SCHEMA_VERSION } from './planted.ts';
import { EVENTS_PER_SESSION, simulateEvents } from './simulate-events.ts';
import type { SimulationWorld } from './simulate-events.ts';

/** The fixed reference time used unless `now` is given, so default output never changes. */
export const DEMO_NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
/** Share of sessions by visitors who never log in. */
const ANONYMOUS_SESSION_SHARE = 0.06;

export interface StorefrontOptions {
  /** Seed of every random choice. @defaultValue 42 */
  seed?: number;
  /** Catalogue size (at least one item per leaf category, i.e. 100). @defaultValue 2000 */
  items?: number;
  /** Registered users. @defaultValue 3000 */
  users?: number;
  /** Approximate number of events (the result lands within a few per cent). @defaultValue 150000 */
  events?: number;
  /** Days of event history before `now`. @defaultValue 180 */
  days?: number;
  /** Reference time (epoch ms): new arrivals, churn and all timestamps are relative to it. @defaultValue DEMO_NOW */
  now?: number;
  /** ISO 4217 code of every price. @defaultValue 'EUR' */
  currency?: string;
  /** Events per yielded batch. @defaultValue 5000 */
  batchSize?: number;
}

export const STOREFRONT_DEFAULTS: Readonly<Required<StorefrontOptions>> = Object.freeze({
  seed: 42,
  items: 2000,
  users: 3000,
  events: 150_000,
  days: 180,
  now: DEMO_NOW,
  currency: 'EUR',
  batchSize: 5000,
});

export interface Storefront {
  options: Readonly<Required<StorefrontOptions>>;
  /** Every category path: departments, subcategories, leaves. */
  categories: string[];
  items: Item[];
  users: User[];
  planted: PlantedTruth;
  /** Planned sessions (known users and anonymous visitors). */
  sessions: number;
  /** Expected number of events, for progress bars; the real count differs by a few per cent. */
  estimatedEvents: number;
  /** Events in time order, `batchSize` at a time; every call replays the same sequence. */
  events(): Generator<ShelfEvent[]>;
}

function checkOptions(o: Required<StorefrontOptions>): void {
  const whole = (name: keyof StorefrontOptions, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    const v = o[name] as number;
    if (!Number.isInteger(v) || v < min || v > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
      throw new RangeError(`${name} must be a whole number ${range}, got ${v}`);
    }
  };
  whole('seed', 0, 0xffffffff);
  whole('items', 100);
  whole('users', 1);
  whole('events', 0);
  whole('days', 1, 3650);
  whole('batchSize', 1);
  if (!Number.isFinite(o.now)) throw new RangeError('now must be epoch milliseconds');
  if (!/^[A-Z]{3}$/.test(o.currency)) throw new RangeError('currency must be an ISO 4217 code');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Builds the storefront; pure and deterministic for given options. */
export function generateStorefront(options: StorefrontOptions = {}): Storefront {
  const o: Required<StorefrontOptions> = { ...STOREFRONT_DEFAULTS };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, unknown>)[k] = v;
  checkOptions(o);
  const rng = createRng(o.seed);
  const catalogueRng = rng.fork();
  const shopperRng = rng.fork();
  const planRng = rng.fork();

  const tree = buildCategoryTree();
  const catalogue = buildCatalogue(
    tree,
    { items: o.items, now: o.now, days: o.days, currency: o.currency },
    catalogueRng,
  );
  const sessionBudget = Math.round(o.events / EVENTS_PER_SESSION);
  const anonymousSessions = Math.round(sessionBudget * ANONYMOUS_SESSION_SHARE);
  const { users, shoppers } = buildShoppers(
    tree,
    catalogue,
    { users: o.users, now: o.now, days: o.days, sessions: sessionBudget - anonymousSessions },
    shopperRng,
  );
  const plan = planSessions(shoppers, { now: o.now, days: o.days, anonymousSessions }, planRng);
  const world: SimulationWorld = { seed: o.seed, now: o.now, tree, catalogue, users, shoppers, plan };
  const categories = tree.nodes.map((n) => n.path);

  return {
    options: Object.freeze(o),
    categories,
    items: catalogue.items,
    users,
    planted: plantedTruth(o, world, categories),
    sessions: plan.start.length,
    estimatedEvents: plan.start.length * EVENTS_PER_SESSION,
    events: () => simulateEvents(world, o.batchSize),
  };
}

function plantedTruth(
  o: Required<StorefrontOptions>,
  world: SimulationWorld,
  categories: string[],
): PlantedTruth {
  const { tree, catalogue, users, shoppers } = world;
  const segments = Object.fromEntries(SEGMENTS.map((s) => [s, 0])) as Record<Segment, number>;
  const plantedUsers: Record<string, PlantedUser> = {};
  shoppers.forEach((s: Shopper, u) => {
    segments[s.segment]++;
    plantedUsers[users[u]!.userId] = {
      segment: s.segment,
      favouriteCategories: s.favouriteNodes.map((f) => tree.nodes[f]!.path),
      brandAffinity: s.brands.map((b) => catalogue.brands[b]!.name),
      favouriteShare: Math.round(s.favouriteShare * 1000) / 1000,
      activeFrom: iso(s.activityStart),
      activeUntil: iso(s.activityEnd),
    };
  });
  const brands: PlantedTruth['brands'] = {};
  for (const b of catalogue.brands) {
    brands[b.name] = { specialities: b.specialities.map((d) => tree.departments[d]!.name) };
  }
  return {
    schemaVersion: PLANTED_SCHEMA_VERSION,
    generator: 'shelf-demo',
    seed: o.seed,
    now: iso(o.now),
    options: { items: o.items, users: o.users, events: o.events, days: o.days, currency: o.currency },
    categories,
    brands,
    segments,
    users: plantedUsers,
  };
}
