/**
 * The closed-loop simulator's visitor model: how likely a visitor with planted tastes is to
 * click, add to cart and buy an item shown at a position. Pure, so the probabilities written as
 * ground truth are exactly the ones the simulator drew against.
 */
import type { Item } from '../store/types.ts';
import { SEGMENT_CONVERSION } from './build-shoppers.ts';
import type { PlantedUser, Segment } from './planted.ts';
import { inAnyCategory } from './planted.ts';

export const CLICK_MODEL = {
  /** Chance of clicking a favourite-category item once looked at. */
  favourite: 0.12,
  /** The same for any other item: exploring. */
  explore: 0.015,
  /** Multiplier for a favourite-category item of a preferred brand. */
  brand: 2,
  /** Per click; times the segment's conversion multiplier. */
  cart: 0.25,
  /** Per visit with a cart: everything in it is bought; times the conversion multiplier, at most 0.95. */
  checkout: 0.5,
  /** Per purchase line, 1–3 days later. */
  return: 0.05,
} as const;

/** Chance of a visit on a given day while the visitor has not churned. */
export const VISIT_PER_DAY: Readonly<Record<Segment, number>> = {
  new: 0.5,
  active: 0.45,
  high_value: 0.7,
  churning: 0.3,
  churned: 0.15,
};

/** Chance of churning after a visit, and the extra when that visit clicked nothing. */
export const CHURN = { base: 0.04, unengaged: 0.12 } as const;

/**
 * Position bias: the chance that the item at 0-based `position` is looked at at all (the DCG
 * discount, 1 / log2(position + 2)); a click needs both a look and an affinity.
 */
export function examination(position: number): number {
  return 1 / Math.log2(position + 2);
}

/** The chance that `taste` clicks `item` once looked at. */
export function affinity(
  taste: Pick<PlantedUser, 'favouriteCategories' | 'brandAffinity'>,
  item: Item,
): number {
  if (!inAnyCategory(item.categories, taste.favouriteCategories)) return CLICK_MODEL.explore;
  const brand = item.brand !== undefined && taste.brandAffinity.includes(item.brand);
  return CLICK_MODEL.favourite * (brand ? CLICK_MODEL.brand : 1);
}

/** Chance of adding to cart after a click. */
export function cartProbability(segment: Segment): number {
  return Math.min(1, CLICK_MODEL.cart * SEGMENT_CONVERSION[segment]);
}

/** Chance of checking out a cart. */
export function checkoutProbability(segment: Segment): number {
  return Math.min(0.95, CLICK_MODEL.checkout * SEGMENT_CONVERSION[segment]);
}

/** The true chances for `item` shown to `taste` at `position`: click, and purchase through that click. */
export function trueProbabilities(
  taste: Pick<PlantedUser, 'favouriteCategories' | 'brandAffinity' | 'segment'>,
  item: Item,
  position: number,
): { click: number; purchase: number } {
  const click = Math.min(1, examination(position) * affinity(taste, item));
  return { click, purchase: click * cartProbability(taste.segment) * checkoutProbability(taste.segment) };
}
