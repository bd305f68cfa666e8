/** What serving is asked and what it answers (DESIGN.md "Serving a tier"). */
import type { Boosts, EventType, Pin, PositionLog } from '../store/types.ts';

export type { Boosts, Pin };

export const TIERS = ['homepage', 'category', 'personalized', 'similar', 'cart'] as const;
export type Tier = (typeof TIERS)[number];

export interface RequestFilters {
  minPrice?: number;
  maxPrice?: number;
  brand?: string;
  /** Attribute equals, e.g. `{ color: 'red' }`. */
  attributes?: Record<string, string | number | boolean>;
}

export interface RecommendRequest {
  tier: Tier;
  userId?: string;
  sessionId?: string;
  /** The item on the page (`similar`), required there. */
  itemId?: string;
  /** The cart's items (`cart`). */
  cartItemIds?: string[];
  /** Category subtree (`category`, optional elsewhere). */
  category?: string;
  /** @defaultValue 20; at most 100. */
  limit?: number;
  /** Item ids never to return. */
  exclude?: string[];
  filters?: RequestFilters;
  /** Experiment variant, echoed in the answer and the impression. */
  variant?: string;
  /** The experiment that chose `variant` (src/experiments/), echoed in the answer and the impression. */
  experiment?: string;
  /** `experiment` randomises by session: its impressions count by session (`Impression.sessionUnit`). */
  sessionUnit?: true;
  /** The tier's serving configuration for this request (an experiment variant's, a bandit arm's); default: the engine's. */
  config?: TierConfig;
  /** The chance `config` was drawn with (a bandit or exploration arm), recorded as the impression's propensity; absent: 1. */
  probability?: number;
  /**
   * Every arm `config` was drawn from, with its chance: the answer then logs, position by
   * position, which arms would have shown the same item there (`Impression.positions`).
   */
  arms?: ArmChoice;
}

/** A stochastic policy's arms for one request (one of them is the request's `config`). */
export interface ArmChoice {
  configs: readonly TierConfig[];
  probabilities: readonly number[];
}

export interface RecommendedItem {
  itemId: string;
  score: number;
  reason: string;
}

export interface Recommendation {
  recommendationId: string;
  tier: Tier;
  modelVersion: string | null;
  /** The running experiment the visitor is in, and its variant's name. */
  experiment?: string;
  variant?: string;
  /** Read-only: a list answered again from the cache shares this array. */
  items: readonly RecommendedItem[];
}

/** Written for every list served, so that later events can be attributed to it. */
export interface Impression {
  recommendationId: string;
  tier: Tier;
  userId?: string;
  sessionId?: string;
  /** The experiment that chose the variant (experiments issue). */
  experiment?: string;
  variant?: string;
  /** The serving configuration's name. */
  config: string;
  /** The probability the configuration was chosen with; absent: 1 (deterministic). */
  probability?: number;
  modelVersion: string | null;
  /** Frozen; a list cache hit hands the same array as the list's earlier answers. */
  itemIds: readonly string[];
  timestamp: number;
  /** When the request's arms were given: which of them would have shown each position's item there. */
  positions?: PositionLog;
  /** Its experiment randomises by session: it counts by its session. */
  sessionUnit?: true;
}

/** Candidate sources a tier blends. */
export interface BlendWeights {
  /** Nearest items to the user (or item) vector. */
  vector: number;
  /** Item-to-item neighbours of the items the user interacted with (or the page item). */
  neighbours: number;
  /** Bought-together complements of the cart or page item. */
  complements: number;
  /** Time-decayed popularity. */
  trending: number;
  /** EASE's item-item weights summed over the user's whole history (small catalogues). */
  ease: number;
}

export interface TierRules {
  weights: BlendWeights;
  /** At most this many items of one category (first category path) per list. */
  maxPerCategory: number;
  /** MMR trade-off: 1 = relevance only, lower = more diverse (uses item vectors). */
  mmrLambda: number;
  /** 0-based slot reserved for a new arrival (< 72 h old), or -1 for none. */
  newItemSlot: number;
}

export interface ServingConfig {
  tiers: Record<Tier, TierRules>;
  pins: Pin[];
  boosts: Boosts;
  /**
   * Event types after which an item stays out of that visitor's lists (a purchase only when the
   * item is not repurchasable); the other types only inform (views, clicks, carts).
   */
  consumed: readonly EventType[];
}

/**
 * Everything that shapes one tier's lists, handed to the pipeline per request: the default is
 * the engine's `ServingConfig`; an experiment variant or a bandit arm hands another.
 */
export interface TierConfig extends TierRules {
  /** Names the configuration in impressions and keys the list cache. */
  name: string;
  /**
   * Serve from this registered version instead of the current one (an experiment variant's);
   * the engine must hold it loaded (`Engine.serveBeside`), else the current version answers.
   */
  modelVersion?: string;
  /** The pins of this tier. */
  pins: readonly Pin[];
  boosts: Boosts;
  consumed: readonly EventType[];
}

/** `config`'s configuration of `tier`. */
export function tierConfig(config: ServingConfig, tier: Tier, name = 'default'): TierConfig {
  return {
    name,
    ...config.tiers[tier],
    pins: config.pins.filter((p) => !p.tiers || p.tiers.includes(tier)),
    boosts: config.boosts,
    consumed: config.consumed,
  };
}

const rules = (weights: BlendWeights, over: Partial<TierRules> = {}): TierRules => ({
  weights,
  maxPerCategory: 4,
  mmrLambda: 0.8,
  newItemSlot: 3,
  ...over,
});

export const DEFAULT_SERVING_CONFIG: ServingConfig = {
  tiers: {
    homepage: rules({ vector: 1, neighbours: 0.5, complements: 0, trending: 0.4, ease: 1 }),
    category: rules({ vector: 1, neighbours: 0.3, complements: 0, trending: 0.5, ease: 1 }),
    personalized: rules(
      { vector: 1, neighbours: 0.6, complements: 0, trending: 0.1, ease: 1 },
      { newItemSlot: 4 },
    ),
    similar: rules(
      { vector: 0.7, neighbours: 1, complements: 0.3, trending: 0.05, ease: 0 },
      { newItemSlot: -1, mmrLambda: 0.9 },
    ),
    cart: rules(
      { vector: 0.3, neighbours: 0.5, complements: 1, trending: 0.05, ease: 0 },
      { newItemSlot: -1 },
    ),
  },
  pins: [],
  boosts: {},
  consumed: ['purchase', 'rating', 'dislike', 'hide'],
};
