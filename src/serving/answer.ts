/**
 * Stage 5, the answer: a recommendation id, the items with score and reason, the model version
 * and variant; and its impression, handed to whoever records them.
 */
import { randomUUID } from 'node:crypto';
import type { Catalog } from './catalog.ts';
import type { Scored } from './rules.ts';
import type { PositionLog } from '../store/types.ts';
import type { Impression, Recommendation, RecommendedItem, RecommendRequest } from './types.ts';
import type { Visitor } from './visitor.ts';

/** The items of an answer, frozen: a cached list hands the same array to every answer. */
export function answerItems(c: Catalog, chosen: readonly Scored[]): readonly RecommendedItem[] {
  return Object.freeze(
    chosen.map((s) =>
      Object.freeze({ itemId: c.item(s.index)!.itemId, score: round(s.score), reason: s.reason }),
    ),
  );
}

/** The answer for `items` under a new recommendation id, and its impression to `onImpression`. */
export function answer(
  modelVersion: string | null,
  req: RecommendRequest,
  config: string,
  who: Visitor,
  items: readonly RecommendedItem[],
  now: number,
  onImpression: ((impression: Impression) => void) | undefined,
  /** The items' ids, frozen: a cached list's answers share them (the writer keys its JSON by them). */
  itemIds: readonly string[],
  positions?: PositionLog,
): Recommendation {
  const recommendationId = timeOrderedId(now);
  const out: Recommendation = { recommendationId, tier: req.tier, modelVersion, items };
  // Assigned, not spread: this runs on every cache hit.
  if (req.experiment) out.experiment = req.experiment;
  if (req.variant) out.variant = req.variant;
  if (onImpression) {
    const i: Impression = { recommendationId, tier: req.tier, config, modelVersion, itemIds, timestamp: now };
    // An erased user's id is stored nowhere again: the list is recorded as anonymous.
    if (who.userId && !who.forgotten) i.userId = who.userId;
    if (req.sessionId) i.sessionId = req.sessionId;
    if (req.experiment) i.experiment = req.experiment;
    if (req.variant) i.variant = req.variant;
    if (req.sessionUnit) i.sessionUnit = true;
    if (req.probability !== undefined) i.probability = req.probability;
    if (positions) i.positions = positions;
    onImpression(i);
  }
  return out;
}

/**
 * Which of the arms (`lists`: what each would have shown) put `shown`'s item at each position
 * there: bit `a` of `masks[k]`. At most 31 arms (the policy allows fewer).
 */
export function positionLog(
  shown: readonly Pick<RecommendedItem, 'itemId'>[],
  lists: readonly (readonly Pick<RecommendedItem, 'itemId'>[])[],
  arms: string[],
  probabilities: readonly number[],
): PositionLog {
  const masks = shown.map((item, k) => {
    let m = 0;
    for (let a = 0; a < lists.length; a++) if (lists[a]![k]?.itemId === item.itemId) m |= 1 << a;
    return m;
  });
  return { arms, probabilities: [...probabilities], masks };
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * A version-7 UUID (RFC 9562): `now`'s 48-bit millisecond time, then 74 random bits (those of
 * a v4 UUID, its version nibble replaced). Time-ordered ids make each impression's insert into
 * the store's recommendation-id index an append near its end, not a write at a random page.
 */
export function timeOrderedId(now: number): string {
  if (now !== lastMs) {
    lastMs = now;
    const t = Math.max(0, Math.floor(now)).toString(16).padStart(12, '0').slice(-12);
    prefix = `${t.slice(0, 8)}-${t.slice(8)}-7`;
  }
  return prefix + randomUUID().slice(15);
}

/** The millisecond of the last id made, and its first 15 characters (one per ms, not per id). */
let lastMs = NaN;
let prefix = '';
