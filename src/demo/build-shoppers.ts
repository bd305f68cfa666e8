/**
 * Synthetic shoppers with latent tastes: 1–3 favourite categories (a department, subcategory or
 * leaf), a brand affinity, a planted segment that sets when they are active and how often they
 * buy, and a number of sessions drawn from a heavy-tailed activity level.
 */
import type { Rng } from '../../models/random.ts';
import type { User } from '../store/types.ts';
import type { Catalogue } from './build-catalogue.ts';
import type { CategoryTree } from './category-tree.ts';
import { PATH_SEPARATOR } from './category-tree.ts';
import { cumulative, logNormal, pickCumulative, pickOne, uniform } from './sampling.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const SEGMENTS = ['new', 'active', 'high_value', 'churning', 'churned'] as const;
export type Segment = (typeof SEGMENTS)[number];

/** Planted segment mix. */
const SEGMENT_SHARES: Record<Segment, number> = {
  new: 0.1,
  active: 0.48,
  high_value: 0.08,
  churning: 0.14,
  churned: 0.2,
};
/** Sessions per unit of active time, relative to an active shopper. */
const SEGMENT_ACTIVITY: Record<Segment, number> = {
  new: 1,
  active: 1,
  high_value: 3,
  churning: 0.9,
  churned: 0.8,
};
/** Multiplier on add-to-cart and checkout probabilities. */
export const SEGMENT_CONVERSION: Readonly<Record<Segment, number>> = {
  new: 0.8,
  active: 1,
  high_value: 1.6,
  churning: 0.9,
  churned: 0.9,
};
const COUNTRIES = ['DE', 'FR', 'GB', 'NL', 'ES', 'IT', 'SE', 'PL'];
/** Chance that a shopper opted out of personalization. */
const NO_CONSENT_SHARE = 0.03;
/** Activity stops this long before `now` at the latest, so whole sessions fit before it. */
export const ACTIVITY_MARGIN_MS = 2 * HOUR;

/** The id of the demo's `index`-th shopper (from 0) of `users`: `u-00001`, five digits at least. */
export function demoUserId(index: number, users: number): string {
  return `u-${String(index + 1).padStart(Math.max(5, String(users).length), '0')}`;
}

export interface Shopper {
  segment: Segment;
  /** Node indices of the favourite categories (never nested in one another). */
  favouriteNodes: number[];
  /** Brand indices the shopper prefers. */
  brands: number[];
  /** Share of browsing spent in favourite categories (the rest explores). */
  favouriteShare: number;
  /** Chance that a favourite-category pick goes to a preferred brand when the leaf has one. */
  brandStrength: number;
  activityStart: number;
  activityEnd: number;
  /** Planned sessions. */
  sessions: number;
  /** Multiplier on add-to-cart and checkout. */
  conversion: number;
  /** 0 mobile, 1 desktop, 2 tablet. */
  device: number;
}

export interface ShopperOptions {
  users: number;
  now: number;
  days: number;
  /** Sessions to spread over all shoppers (new shoppers get 1–3 each regardless). */
  sessions: number;
}

function nested(a: string, b: string): boolean {
  return a === b || a.startsWith(b + PATH_SEPARATOR) || b.startsWith(a + PATH_SEPARATOR);
}

/** Builds users and their planted tastes; deterministic for a given `rng` state. */
export function buildShoppers(
  tree: CategoryTree,
  catalogue: Catalogue,
  options: ShopperOptions,
  rng: Rng,
): { users: User[]; shoppers: Shopper[] } {
  const { now, days } = options;
  const windowStart = now - days * DAY;
  const latest = now - ACTIVITY_MARGIN_MS;
  const newWindow = Math.min(14, days / 6) * DAY;

  // Favourite candidates per depth, weighted by the attention their leaves get.
  const byDepth = [0, 1, 2].map((depth) => {
    const nodes = tree.nodes.flatMap((n, i) => (n.depth === depth ? [i] : []));
    const weights = nodes.map((i) => {
      let w = 0;
      for (const l of tree.nodes[i]!.leaves) w += catalogue.leafWeight[l]!;
      return w;
    });
    return { nodes, cum: cumulative(weights) };
  });
  const depthCum = cumulative([0.25, 0.45, 0.3]);

  // Items per (leaf, brand), for brand affinities that fit the favourites.
  const nBrands = catalogue.brands.length;
  const leafBrands: Map<number, number>[] = tree.leafSpecs.map(() => new Map());
  catalogue.itemLeaf.forEach((l, i) => {
    const b = catalogue.itemBrand[i]!;
    if (b >= 0) leafBrands[l]!.set(b, (leafBrands[l]!.get(b) ?? 0) + 1);
  });

  const segmentCum = cumulative(SEGMENTS.map((s) => SEGMENT_SHARES[s]));
  const users: User[] = [];
  const shoppers: Shopper[] = [];
  const weights = new Float64Array(options.users);
  const brandWeights = new Float64Array(nBrands);
  for (let u = 0; u < options.users; u++) {
    const segment = SEGMENTS[pickCumulative(segmentCum, rng)]!;
    let createdAt: number;
    let activityEnd = latest;
    if (segment === 'new') {
      createdAt = now - uniform(rng, 3 * HOUR, newWindow);
    } else {
      if (segment === 'churning') activityEnd = now - days * uniform(rng, 0.12, 0.3) * DAY;
      else if (segment === 'churned') activityEnd = now - days * uniform(rng, 0.35, 0.8) * DAY;
      const minAge = now - activityEnd + newWindow + DAY;
      createdAt = now - uniform(rng, minAge, Math.max(730 * DAY, 2 * minAge));
    }
    createdAt = Math.floor(createdAt / 1000) * 1000;
    activityEnd = Math.floor(activityEnd / 1000) * 1000;
    const activityStart = Math.max(createdAt, windowStart);

    const favouriteNodes: number[] = [];
    const want = rng.next() < 0.45 ? 1 : rng.next() < 0.73 ? 2 : 3;
    for (let tries = 0; favouriteNodes.length < want && tries < 20; tries++) {
      const level = byDepth[pickCumulative(depthCum, rng)]!;
      const node = level.nodes[pickCumulative(level.cum, rng)]!;
      const path = tree.nodes[node]!.path;
      if (favouriteNodes.every((f) => !nested(tree.nodes[f]!.path, path))) favouriteNodes.push(node);
    }

    brandWeights.fill(0);
    for (const f of favouriteNodes) {
      for (const l of tree.nodes[f]!.leaves) {
        for (const [b, count] of leafBrands[l]!) brandWeights[b]! += count;
      }
    }
    const brands: number[] = [];
    const brandCum = cumulative(brandWeights);
    if (brandCum[nBrands - 1]! > 0) {
      brands.push(pickCumulative(brandCum, rng));
      if (rng.next() < 0.3) {
        const second = pickCumulative(brandCum, rng);
        if (second !== brands[0]) brands.push(second);
      }
    }

    const r = rng.next();
    shoppers.push({
      segment,
      favouriteNodes,
      brands,
      favouriteShare: uniform(rng, 0.7, 0.85),
      brandStrength: uniform(rng, 0.3, 0.6),
      activityStart,
      activityEnd,
      sessions: 0,
      conversion: SEGMENT_CONVERSION[segment],
      device: r < 0.6 ? 0 : r < 0.93 ? 1 : 2,
    });
    weights[u] =
      segment === 'new'
        ? 0
        : (logNormal(rng, 1, 0.8) * SEGMENT_ACTIVITY[segment] * (activityEnd - activityStart)) / (days * DAY);
    users.push({
      userId: demoUserId(u, options.users),
      attributes: { country: pickOne(COUNTRIES, rng), signup: rng.next() < 0.35 ? 'app' : 'web' },
      createdAt,
      consent: { personalization: rng.next() >= NO_CONSENT_SHARE },
    });
  }

  // Sessions: 1–3 for new shoppers, the rest of the budget in proportion to activity.
  let budget = options.sessions;
  for (const s of shoppers) {
    if (s.segment === 'new') {
      s.sessions = 1 + rng.int(3);
      budget -= s.sessions;
    }
  }
  let total = 0;
  for (const w of weights) total += w;
  shoppers.forEach((s, u) => {
    if (s.segment !== 'new') {
      s.sessions = Math.max(1, Math.floor((Math.max(0, budget) * weights[u]!) / (total || 1) + rng.next()));
    }
  });
  return { users, shoppers };
}
