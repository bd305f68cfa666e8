/**
 * Lists as they cross from the serving thread to the impression writer thread
 * (impression-thread.ts → impression-writer.ts).
 */
import type { Impression } from '../serving/types.ts';
import type { NewImpression, PositionLog } from '../store/types.ts';

/**
 * Lists in one flat array, `FIELDS` values a list, its ids as JSON text. Structured cloning costs
 * per object and per string: a list as an object with an array of 20 ids cost 1–3 µs on each
 * side, a row of this array ~0.5 µs (a message of 1,000 lists).
 */
export type Wire = (string | number | boolean | null | undefined | PositionLog)[];
export const FIELDS = 14;

/** Appends `i` to `wire`, its ids as `idsJson`. */
export function encode(wire: Wire, i: Impression, idsJson: string): void {
  wire.push(
    i.recommendationId,
    i.tier,
    i.userId,
    i.sessionId,
    i.experiment,
    i.variant,
    i.config,
    i.probability ?? 1,
    i.modelVersion,
    idsJson,
    i.itemIds.length,
    i.timestamp,
    i.positions,
    i.sessionUnit,
  );
}

/** The lists of a `wire` array, as the store writes them. */
export function decodeLists(wire: Wire): NewImpression[] {
  const out: NewImpression[] = [];
  for (let k = 0; k + FIELDS <= wire.length; k += FIELDS) {
    const s: NewImpression = {
      recommendationId: wire[k] as string,
      tier: wire[k + 1] as string,
      config: wire[k + 6] as string,
      probability: wire[k + 7] as number,
      modelVersion: wire[k + 8] as string | null,
      itemIds: { json: wire[k + 9] as string, count: wire[k + 10] as number },
      timestamp: wire[k + 11] as number,
    };
    if (wire[k + 2] !== undefined) s.userId = wire[k + 2] as string;
    if (wire[k + 3] !== undefined) s.sessionId = wire[k + 3] as string;
    if (wire[k + 4] !== undefined) s.experiment = wire[k + 4] as string;
    if (wire[k + 5] !== undefined) s.variant = wire[k + 5] as string;
    if (wire[k + 12] !== undefined) s.positions = wire[k + 12] as PositionLog;
    if (wire[k + 13]) s.sessionUnit = true;
    out.push(s);
  }
  return out;
}
