/**
 * The `aggregate-feedback` job: adds the impressions and attributions stored since the
 * watermark to the per-visitor-day and per-position aggregates, and moves the watermark, in one
 * transaction (`Store.addFeedback`). Incremental and idempotent: a re-run finds nothing past the
 * watermark and adds nothing; a run racing another loses the compare-and-set and adds nothing.
 */
import type {
  Attribution,
  FeedbackCounts,
  PositionDelta,
  StoredImpression,
  Store,
  VisitorDayDelta,
} from '../store/types.ts';
import { visitorKey } from '../store/types.ts';
import { utcDay } from './attributor.ts';

export interface AggregateResult {
  impressions: number;
  attributions: number;
  /** False when another run moved the watermark first (this one added nothing). */
  applied: boolean;
  tookMs: number;
}

type AggregateStore = Pick<
  Store,
  'feedbackWatermark' | 'impressionsAfter' | 'attributionsAfter' | 'addFeedback'
>;

const zero = (): FeedbackCounts => ({
  itemsShown: 0,
  clicks: 0,
  addToCarts: 0,
  purchases: 0,
  units: 0,
  revenue: 0,
});

/** Rows read per round trip. */
const PAGE = 10_000;
/** Rows added per transaction at most: bounds memory and the length of one write. */
const CHUNK = 200_000;

export async function aggregateFeedback(store: AggregateStore): Promise<AggregateResult> {
  const t0 = Date.now();
  let impressions = 0;
  let attributions = 0;
  let applied = true;
  for (;;) {
    const from = await store.feedbackWatermark();
    const imps: (StoredImpression & { seq: number })[] = [];
    const attrs: (Attribution & { seq: number })[] = [];
    while (imps.length < CHUNK) {
      const page = await store.impressionsAfter(imps.at(-1)?.seq ?? from.impressionSeq, PAGE);
      imps.push(...page);
      if (page.length < PAGE) break;
    }
    while (attrs.length < CHUNK) {
      const page = await store.attributionsAfter(attrs.at(-1)?.seq ?? from.attributionSeq, PAGE);
      attrs.push(...page);
      if (page.length < PAGE) break;
    }
    if (!imps.length && !attrs.length) break;
    const { visitorDays, positions } = deltas(imps, attrs);
    const to = {
      impressionSeq: imps.at(-1)?.seq ?? from.impressionSeq,
      attributionSeq: attrs.at(-1)?.seq ?? from.attributionSeq,
    };
    if (!(await store.addFeedback(visitorDays, positions, from, to))) {
      applied = false;
      break;
    }
    impressions += imps.length;
    attributions += attrs.length;
  }
  return { impressions, attributions, applied, tookMs: Date.now() - t0 };
}

/** The aggregate rows `impressions` and `attributions` add, one per key. */
export function deltas(
  impressions: readonly StoredImpression[],
  attributions: readonly Attribution[],
): { visitorDays: VisitorDayDelta[]; positions: PositionDelta[] } {
  const visitorDays = new Map<string, VisitorDayDelta>();
  const positions = new Map<string, PositionDelta>();
  const group = (tier: string, modelVersion: string, config: string, variant: string, day: string) => ({
    tier,
    modelVersion,
    config,
    variant,
    day,
  });
  const visitorRow = (g: ReturnType<typeof group>, visitor: string) => {
    const k = JSON.stringify([g.tier, g.modelVersion, g.config, g.variant, g.day, visitor]);
    let r = visitorDays.get(k);
    if (!r) visitorDays.set(k, (r = { ...g, visitor, impressions: 0, ...zero() }));
    return r;
  };
  const positionRow = (g: ReturnType<typeof group>, position: number) => {
    const k = JSON.stringify([g.tier, g.modelVersion, g.config, g.variant, g.day, position]);
    let r = positions.get(k);
    if (!r) positions.set(k, (r = { ...g, position, ...zero() }));
    return r;
  };
  for (const i of impressions) {
    const g = group(i.tier, i.modelVersion ?? '', i.config, i.variant ?? '', utcDay(i.timestamp));
    const v = visitorRow(g, visitorKey(i));
    v.impressions++;
    v.itemsShown += i.itemIds.length;
    for (let p = 0; p < i.itemIds.length; p++) positionRow(g, p).itemsShown++;
  }
  for (const a of attributions) {
    const g = group(a.tier, a.modelVersion, a.config, a.variant, a.day);
    for (const r of [visitorRow(g, a.visitor), positionRow(g, a.position)]) {
      if (a.type === 'click') r.clicks++;
      else if (a.type === 'add_to_cart') r.addToCarts++;
      else if (a.type === 'purchase') r.purchases++;
      r.units += a.units;
      r.revenue += a.revenue;
    }
  }
  return { visitorDays: [...visitorDays.values()], positions: [...positions.values()] };
}
