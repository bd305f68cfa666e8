/**
 * `shelf segments`: computes the segment report (counts per segment and lifecycle, KPIs, what
 * each segment engages with now). The segments job runs it in a child process (`--as-job`), off
 * the serving event loop, and takes the report from its last line of output.
 */
import { SegmentReports, reportToJson } from '../../segments/segment-reports.ts';
import { SEGMENT_TRENDING } from '../../serving/trending-state.ts';
import type { Command } from '../command.ts';
import { watchingParent } from '../exit-with-parent.ts';
import { parseOptions } from '../command.ts';

const USAGE = `shelf segments [--json] [--as-job]

  Classifies every user with events into a segment and a lifecycle stage and prints the counts.
  --json    the whole report as one line of JSON
  --as-job  the segments job runs this in a child process: ends when its parent does`;

const segments: Command = {
  summary: 'compute the segment report: users per segment and lifecycle, KPIs, segment lists',
  usage: USAGE,
  async run(args, ctx) {
    const { values: v } = parseOptions(
      {
        args,
        strict: true,
        options: {
          json: { type: 'boolean', default: false },
          'as-job': { type: 'boolean', default: false },
        },
      },
      USAGE,
    );
    const report = await watchingParent(v['as-job'], async () => {
      const reports = new SegmentReports({
        store: await ctx.store(),
        trending: SEGMENT_TRENDING,
      });
      if (v['as-job']) ctx.out.write(JSON.stringify({ progress: { stage: 'classify', percent: 0 } }) + '\n');
      return reports.refresh();
    });
    if (v.json || v['as-job']) {
      ctx.out.write(reportToJson(report) + '\n');
      return 0;
    }
    const { summary } = report;
    ctx.out.write(
      [
        `${summary.users} users in ${report.tookMs} ms`,
        ...Object.entries(summary.bySegment).map(([s, n]) => `  ${s.padEnd(12)} ${n}`),
        'lifecycle:',
        ...Object.entries(summary.byLifecycle).map(([s, n]) => `  ${s.padEnd(12)} ${n}`),
      ].join('\n') + '\n',
    );
    return 0;
  },
};

export default segments;
