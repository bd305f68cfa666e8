/** The "segments" job: a new segment report (SegmentReports keeps it; serving takes its lists). */
import type { SegmentReports } from '../segments/segment-reports.ts';

/** What the job's status shows; the full report stays in `SegmentReports.latest`. */
export interface SegmentsJobResult {
  computedAt: string;
  tookMs: number;
  users: number;
}

/** The segments job's processor over `reports`. */
export function segmentsProcessor(reports: SegmentReports): () => Promise<SegmentsJobResult> {
  return async () => {
    const { computedAt, tookMs, summary } = await reports.refresh();
    return { computedAt: new Date(computedAt).toISOString(), tookMs, users: summary.users };
  };
}
