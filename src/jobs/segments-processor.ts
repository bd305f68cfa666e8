/** The "segments" job: a new segment report (SegmentReports keeps it; serving takes its lists). */
import type { SegmentReport, SegmentReports } from '../segments/segment-reports.ts';
import { reportFromJson } from '../segments/segment-reports.ts';
import { runChildJob } from './child-job.ts';
import type { JobChildSpec } from './child-job.ts';
import type { JobContext } from './job-types.ts';

/** What the job's status shows; the full report stays in `SegmentReports.latest`. */
export interface SegmentsJobResult {
  computedAt: string;
  tookMs: number;
  users: number;
}

function resultOf(r: SegmentReport): SegmentsJobResult {
  return { computedAt: new Date(r.computedAt).toISOString(), tookMs: r.tookMs, users: r.summary.users };
}

/** The segments job's processor over `reports`, in this process (tests' in-memory stores). */
export function segmentsProcessor(reports: SegmentReports): (ctx: JobContext) => Promise<SegmentsJobResult> {
  return async () => resultOf(await reports.refresh());
}

/**
 * The segments job in a child process (`shelf segments --as-job`): the store's reads and the
 * classification of every user happen there, the report comes back on its stdout and `reports`
 * takes it (serving gets its lists).
 */
export function childSegmentsProcessor(
  /** Takes the report (a worker shares it before the job completes). */
  reports: { accept(report: SegmentReport): void | Promise<void> },
  spec: JobChildSpec,
): (ctx: JobContext) => Promise<SegmentsJobResult> {
  return async (ctx) => {
    const { code, last, stderr } = await runChildJob(['segments', '--as-job'], spec, ctx);
    if (code !== 0 || last === null) throw new Error(`shelf segments exited with ${code}: ${stderr}`);
    const report = reportFromJson(last);
    await reports.accept(report);
    return resultOf(report);
  };
}
