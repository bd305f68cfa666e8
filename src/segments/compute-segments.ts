/** The "compute segments" job: every user's whole history, streamed from the store, counted. */
import type { Store } from '../store/types.ts';
import type { SegmentOptions, SegmentSummary } from './segments.ts';
import { SegmentTally } from './segments.ts';

/**
 * Segment and lifecycle counts of every user with an event, as of `now` (epoch ms). Memory is
 * one store page plus 8 bytes per buyer (see `SegmentTally`). The summary's `rules` classify a
 * single user consistently with these counts.
 */
export async function computeSegments(
  store: Pick<Store, 'usersActivity'>,
  now: number,
  options: SegmentOptions = {},
): Promise<SegmentSummary> {
  const tally = new SegmentTally(now, options); // bad rules fail before the scan
  for await (const activity of store.usersActivity()) tally.add(activity);
  return tally.summary();
}
