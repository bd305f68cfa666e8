/**
 * The `aggregate-feedback` job: adds the impressions and attributions stored since the
 * watermark to the per-visitor-day and per-position aggregates, and moves the watermark, in one
 * transaction per chunk (`Store.addFeedbackBetween`: the database sums). Incremental and
 * idempotent: a re-run finds nothing past the watermark and adds nothing; a run racing another
 * loses the compare-and-set and adds nothing.
 */
import type { FeedbackWatermark, Store } from '../store/types.ts';

export interface AggregateResult {
  impressions: number;
  attributions: number;
  /** False when another run moved the watermark first (this one added nothing). */
  applied: boolean;
  tookMs: number;
}

type AggregateStore = Pick<Store, 'feedbackWatermark' | 'feedbackHorizon' | 'addFeedbackBetween'>;

/**
 * Seqs added per transaction at most: bounds how long one write holds SQLite's single writer
 * lock (0.6–0.7 s here since migration 10, which event inserts wait out), not memory — the
 * database sums, nothing is read out.
 */
const CHUNK = 250_000;

/** `chunk`: seqs per transaction (tests make it small). */
export async function aggregateFeedback(store: AggregateStore, chunk = CHUNK): Promise<AggregateResult> {
  const t0 = Date.now();
  let impressions = 0;
  let attributions = 0;
  let applied = true;
  for (;;) {
    const from = await store.feedbackWatermark();
    const horizon = await store.feedbackHorizon();
    const to: FeedbackWatermark = {
      impressionSeq: Math.max(
        from.impressionSeq,
        Math.min(horizon.impressionSeq, from.impressionSeq + chunk),
      ),
      attributionSeq: Math.max(
        from.attributionSeq,
        Math.min(horizon.attributionSeq, from.attributionSeq + chunk),
      ),
    };
    if (to.impressionSeq === from.impressionSeq && to.attributionSeq === from.attributionSeq) break;
    const added = await store.addFeedbackBetween(from, to);
    if (!added) {
      applied = false;
      break;
    }
    impressions += added.impressions;
    attributions += added.attributions;
  }
  return { impressions, attributions, applied, tookMs: Date.now() - t0 };
}
