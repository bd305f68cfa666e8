/**
 * How strongly each event type ties a visitor to an item: the one table that training (the
 * confidence matrix ALS fits), fold-in (a visitor's fresh events) and trending read. Training
 * writes the table it used into the version's manifest, and fold-in reads it back from there.
 */
import type { EventType } from './types.ts';
import { EVENT_TYPES } from './types.ts';

export type EventWeights = Readonly<Record<EventType, number>>;

/**
 * Purchase > add-to-cart > click > view; a rating counts its weight × value / RATING_MAX; a
 * return takes its purchase back, a removal from the cart its add; a dislike or a hide removes
 * the pair.
 */
export const EVENT_WEIGHTS: EventWeights = Object.freeze({
  view: 1,
  click: 2,
  add_to_cart: 4,
  remove_from_cart: -2,
  purchase: 8,
  return: -8,
  rating: 5,
  dislike: 0,
  hide: 0,
});

/**
 * The top of the rating scale: a rating counts its weight × value / RATING_MAX, its value checked
 * from 0 to it (validate.ts) and counted within it (training/interaction-weights.ts).
 */
export const RATING_MAX = 5;

/** Event types that remove the pair (visitor, item) altogether, whatever else they did. */
export const REJECTIONS: readonly EventType[] = ['dislike', 'hide'];

/** The positive part of `weights`: what counts as engagement (trending, segment lists). */
export function engagementWeights(weights: EventWeights = EVENT_WEIGHTS): Partial<Record<EventType, number>> {
  return Object.fromEntries(EVENT_TYPES.flatMap((t) => (weights[t] > 0 ? [[t, weights[t]]] : [])));
}

/**
 * `value` read as a weight table (a manifest's `params.weights`), or null when it is not one.
 * Types it lacks (added since it was written) take today's weight.
 */
export function eventWeightsFrom(value: unknown): EventWeights | null {
  if (typeof value !== 'object' || value === null) return null;
  const o = value as Record<string, unknown>;
  const out: Record<EventType, number> = { ...EVENT_WEIGHTS };
  for (const t of EVENT_TYPES) {
    const w = o[t];
    if (w === undefined) continue;
    if (typeof w !== 'number' || !Number.isFinite(w)) return null;
    out[t] = w;
  }
  return out;
}
