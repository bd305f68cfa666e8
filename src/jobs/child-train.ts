/**
 * The train job in a child process (`shelf train --as-job`). Fitting, scoring, tuning and the
 * gate are CPU-bound for seconds to minutes; on the serving process's event loop they would stop
 * the API answering, in a worker they would stop its lock renewals. The child opens the same
 * store and models dir, publishes (one version per job id: `--job-key`), promotes through the
 * gate, and announces the version on the change feed, which brings it to every replica. Used
 * when Shelf opened its store and data dir from the config, which a child process can open too.
 */
import { runChildJob } from './child-job.ts';
import type { JobChildSpec } from './child-job.ts';
import type { TrainPayload } from './job-payloads.ts';
import type { JobContext } from './job-types.ts';
import type { Verdict } from './train-processor.ts';

/** The `shelf train` options of a payload. */
function argsOf(p: TrainPayload): string[] {
  const a: string[] = [];
  if (p.factors !== undefined) a.push('--factors', String(p.factors));
  if (p.iterations !== undefined) a.push('--iterations', String(p.iterations));
  if (p.regularization !== undefined) a.push('--regularization', String(p.regularization));
  if (p.alpha !== undefined) a.push('--alpha', String(p.alpha));
  if (p.seed !== undefined) a.push('--seed', String(p.seed));
  if (p.force) a.push('--force');
  return a;
}

/** A processor running `shelf train --as-job` as `spec` says; its verdict. */
export function childTrainProcessor(spec: JobChildSpec): (ctx: JobContext<TrainPayload>) => Promise<Verdict> {
  return async (ctx) => {
    const { code, last, stderr } = await runChildJob(
      ['train', '--json', '--as-job', '--job-key', ctx.id, ...argsOf(ctx.data)],
      spec,
      ctx,
    );
    // Exit 1 with a verdict: the gate refused the version (a result, not a failure).
    const verdict = (last as { verdict?: Verdict } | null)?.verdict;
    if ((code === 0 || code === 1) && verdict) return verdict;
    throw new Error(`shelf train exited with ${code}: ${stderr}`);
  };
}
