/**
 * The "import" job: `shelf import KIND FILE --as-job` in a child process (parsing and writing a
 * large file is CPU and I/O for minutes). Idempotent as the import is: events are keyed by their
 * `eventId`, items and users upserted, so a retried import stores nothing twice. The child
 * publishes what changed on the change feed, as the command line does.
 */
import { access, constants } from 'node:fs/promises';
import { runChildJob } from './child-job.ts';
import type { JobChildSpec } from './child-job.ts';
import { PermanentJobError } from './inline-jobs.ts';
import type { ImportPayload } from './job-payloads.ts';
import type { JobContext } from './job-types.ts';

/** The import's summary (src/store/import/: rows, stored, rejected, …). */
export type ImportJobResult = Record<string, unknown>;

export function childImportProcessor(
  spec: JobChildSpec,
): (ctx: JobContext<ImportPayload>) => Promise<ImportJobResult> {
  return async (ctx) => {
    const p = ctx.data;
    // A file this worker cannot read is a bad payload, not a fault a retry mends (it was tried
    // SHELF_JOB_ATTEMPTS times, its backoffs apart). The child reads it, on this filesystem.
    await access(p.file, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
      throw new PermanentJobError(`cannot read ${p.file}: ${err.code ?? err.message}`);
    });
    const args = ['import', p.kind, p.file, '--json', '--as-job'];
    if (p.format) args.push('--format', p.format);
    if (p.encoding) args.push('--encoding', p.encoding);
    const { code, last, stderr } = await runChildJob(args, spec, ctx);
    if (code !== 0 || last === null || typeof last !== 'object')
      throw new Error(`shelf import exited with ${code}: ${stderr}`);
    return last as ImportJobResult;
  };
}
