/**
 * Streams one file into the store: bytes (gunzipped when the file starts with the gzip magic)
 * → records (`RecordSplitter`, 1 MiB cap per record) → rows of a format (`RecordMapper`) →
 * validated items/users/events → batches, one store transaction each. Memory stays bounded by
 * the read chunk, the record cap and two batches, whatever the file size. A bad row never
 * aborts the import: it is counted and reported with its line, field and reason.
 */
import { InputError } from '../../errors.ts';
import type { Store } from '../types.ts';
import { DEFAULT_MAX_EVENT_SKEW_MS } from '../validate.ts';
import { BatchWriter } from './batch-writer.ts';
import type { BatchWriterOptions } from './batch-writer.ts';
import { createMapper } from './create-mapper.ts';
import { openInput } from './open-input.ts';
import { DEFAULT_MAX_RECORD_BYTES, RecordSplitter } from './record-splitter.ts';
import type { RecordHandler } from './record-splitter.ts';
import { resolveInput } from './resolve-format.ts';
import type { ImportEncoding, ImportFormat, ImportKind, ImportProgress, ImportSummary } from './types.ts';

export interface ImportFileOptions {
  kind: ImportKind;
  /** A file (`.gz` or not), or a MovieLens directory. */
  file: string;
  /** @defaultValue inferred from the file name (`.jsonl`, `.csv`, MovieLens names) */
  format?: ImportFormat;
  /** @defaultValue `latin1` for MovieLens, `utf-8` otherwise */
  encoding?: ImportEncoding;
  /** Records per store call; each call is one transaction. @defaultValue 5000 */
  batchSize?: number;
  /** Error entries listed in the summary. @defaultValue 1000 */
  maxErrors?: number;
  /** @defaultValue 1 MiB */
  maxRecordBytes?: number;
  /** publishedAt/createdAt for records without one. @defaultValue the file's modification time */
  now?: number;
  /**
   * Events dated later are rejected, epoch ms (history has past dates; the future beyond the
   * allowed clock skew is a mistake). @defaultValue the clock at the start plus 10 minutes
   */
  latestEventAt?: number;
  onProgress?: (progress: ImportProgress) => void;
  /** Called with each batch of items or users written (new or changed). */
  onWritten?: BatchWriterOptions['onWritten'];
  /** Credits stored events to the lists that showed their items (the CLI's attributor). */
  attributor?: BatchWriterOptions['attributor'];
  /** Told of each user whose consent the import changed (the audit log). */
  onConsent?: BatchWriterOptions['onConsent'];
  /** @defaultValue 2000 */
  progressIntervalMs?: number;
}

export async function importFile(store: Store, options: ImportFileOptions): Promise<ImportSummary> {
  const started = performance.now();
  const resolved = await resolveInput(options.kind, options.file, options.format, options.encoding);
  const input = await openInput(resolved.file);
  const mapper = createMapper({
    kind: options.kind,
    format: resolved.format,
    sniffCsv: resolved.inferred,
    // The file's mtime, not the clock: importing the same file again must change nothing.
    now: options.now ?? input.mtimeMs,
    limits: { latest: options.latestEventAt ?? Date.now() + DEFAULT_MAX_EVENT_SKEW_MS },
  });
  const splitter = new RecordSplitter({
    quoted: mapper.quoted,
    encoding: resolved.encoding,
    maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
  });
  const writer = new BatchWriter(store, {
    batchSize: options.batchSize,
    maxErrors: options.maxErrors,
    onWritten: options.onWritten,
    attributor: options.attributor,
    onConsent: options.onConsent,
  });
  let rows = 0;
  let needHeader = mapper.header !== undefined;
  const handler: RecordHandler = {
    record(text, line) {
      if (needHeader) {
        needHeader = false;
        try {
          mapper.header!(text, line);
        } catch (err) {
          if (err instanceof InputError) throw new InputError(`${resolved.file}: ${err.message}`);
          throw err;
        }
        return;
      }
      rows++;
      mapper.record(text, line, writer);
    },
    invalid(line, reason) {
      if (needHeader) throw new InputError(`${resolved.file}: the header (line ${line}) ${reason}`);
      rows++;
      writer.reject(line, [{ field: '(record)', reason }]);
    },
  };

  const progressEvery = options.progressIntervalMs ?? 2000;
  let nextProgress = performance.now() + progressEvery;
  const iterator = input.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await iterator.next();
      } catch (err) {
        throw new InputError(
          `${resolved.file}: read failed after ${rows} rows (${(err as Error).message})` +
            (input.gzip ? ' — is the gzip file complete?' : ''),
        );
      }
      if (next.done) break;
      splitter.push(next.value, handler);
      await writer.flushFull();
      if (options.onProgress && performance.now() >= nextProgress) {
        nextProgress = performance.now() + progressEvery;
        const bytesRead = input.bytesRead();
        options.onProgress({
          rows,
          stored: writer.counts[options.kind].stored,
          rejected: writer.rejected,
          bytesRead,
          bytesTotal: input.size,
          percent: Math.min(99, Math.floor((100 * bytesRead) / Math.max(1, input.size))),
        });
      }
    }
    splitter.end(handler);
    mapper.finish?.(writer);
    await writer.drain();
  } finally {
    input.stream.destroy();
    // Never leave a batch writing behind a thrown error (the caller may close the store next).
    await writer.settle();
  }

  const also: ImportSummary['also'] = {};
  for (const k of ['items', 'users', 'events'] as const) {
    const c = writer.counts[k];
    if (k !== options.kind && c.stored + c.duplicates > 0) also[k] = { ...c };
  }
  return {
    kind: options.kind,
    format: mapper.format,
    file: resolved.file,
    encoding: resolved.encoding,
    rows,
    stored: writer.counts[options.kind].stored,
    duplicates: writer.counts[options.kind].duplicates,
    rejected: writer.rejected,
    skipped: writer.skipped,
    skippedReasons: writer.skippedReasons,
    flagged: writer.flagged,
    counts: writer.extra,
    also,
    // By line: a new item refused for want of a title is found only when its batch is written.
    errors: writer.errors.toSorted((a, b) => a.line - b.line),
    errorsOmitted: writer.errorsOmitted,
    ignoredColumns: [...(mapper.ignoredColumns ?? [])],
    seconds: Math.round(performance.now() - started) / 1000,
  };
}
