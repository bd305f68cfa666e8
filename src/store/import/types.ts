/** Shared shapes of the importers: what a format mapper emits and what an import reports. */
import type { FieldError } from '../../errors.ts';
import type { KeptField } from '../kept-fields.ts';
import type { Item, ShelfEvent, User } from '../types.ts';

export const IMPORT_KINDS = ['items', 'events', 'users'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

export const IMPORT_FORMATS = ['jsonl', 'csv', 'online-retail', 'movielens'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export const IMPORT_ENCODINGS = ['utf-8', 'latin1'] as const;
export type ImportEncoding = (typeof IMPORT_ENCODINGS)[number];

/** One reported problem of one input row; `line` is the 1-based physical line where the row starts. */
export interface ImportError extends FieldError {
  line: number;
}

export interface ItemOptions {
  /** See `ImportSink.item`. */
  implied?: boolean;
  /** The fields the record left out: an item already stored keeps its own (kept-fields.ts). */
  leftOut?: readonly KeptField[];
  /** The record's line, should writing it refuse it (a new item without a title). */
  line?: number;
}

/**
 * Where a mapper puts what it made of a row. Values handed over are already validated
 * (`validateItem`/`validateUser`/`validateEvent`); bad rows go to `reject`.
 */
export interface ImportSink {
  /**
   * `implied`: an item an events file implies (Online Retail's StockCode and Description),
   * written only when the store held no item with its id before this import; a later row may
   * complete one this import wrote (its title). Events never reset a catalogue's stock, status
   * or other fields, on a first import or a repeated one.
   */
  item(item: Item, options?: ItemOptions): void;
  user(user: User): void;
  /** `line`: where the row starts, should the store refuse the event after all. */
  event(event: ShelfEvent, line: number): void;
  reject(line: number, errors: readonly { field: string; reason: string }[]): void;
  /** A row deliberately not imported (counted per reason, not an error). */
  skip(reason: string): void;
  /** Counts something noteworthy about a stored row (e.g. `nonProduct`). */
  flag(name: string): void;
  /** Adds to a format-specific counter shown in the summary (e.g. `returns`). */
  count(name: string, n?: number): void;
}

/** Turns the decoded records of one input format into items, users or events. */
export interface RecordMapper {
  /** The format actually used (a CSV mapper may recognise a known dataset from its header). */
  readonly format: ImportFormat;
  /** True when the file is CSV-like: a newline inside double quotes does not end a record. */
  readonly quoted: boolean;
  /**
   * Present when the first record is a header. Throws `InputError` when the header makes the
   * whole file unusable (missing required columns).
   */
  header?(text: string, line: number): void;
  record(text: string, line: number, sink: ImportSink): void;
  /** Called once after the last record. */
  finish?(sink: ImportSink): void;
  /** Header columns (CSV) or record fields (JSONL) that were not understood and are ignored. */
  readonly ignoredColumns?: readonly string[];
}

/** Written vs unchanged for upserted entities, stored vs duplicate for events. */
export interface EntityCounts {
  stored: number;
  duplicates: number;
}

/** What `importFile` reports; `--json` prints exactly this object. */
export interface ImportSummary {
  kind: ImportKind;
  format: ImportFormat;
  file: string;
  encoding: ImportEncoding;
  /** Data records read (the header and blank lines excluded). */
  rows: number;
  /**
   * Records of `kind` that are new: events inserted, or items/users inserted or changed.
   * For 1:1 formats rows = stored + duplicates + rejected + skipped.
   */
  stored: number;
  /** Events already in the store, or items/users identical to the stored row. */
  duplicates: number;
  /** Bad rows; each has at least one entry in `errors` (until the cap). */
  rejected: number;
  /** Rows deliberately not imported, by reason (documented per format). */
  skipped: number;
  skippedReasons: Record<string, number>;
  /** Rows stored with a flag, e.g. `nonProduct` for Online Retail's postage/fee lines. */
  flagged: Record<string, number>;
  /** Format-specific counters (e.g. `returns`, `anonymous`, `nonProductItems`). */
  counts: Record<string, number>;
  /** Entities written as a side effect of importing another kind (items while importing events). */
  also: Partial<Record<ImportKind, EntityCounts>>;
  errors: ImportError[];
  /** Error entries beyond the cap that were counted but not listed. */
  errorsOmitted: number;
  ignoredColumns: string[];
  seconds: number;
}

export interface ImportProgress {
  rows: number;
  stored: number;
  rejected: number;
  /** Bytes of the file read so far (compressed bytes for gzip) and its size. */
  bytesRead: number;
  bytesTotal: number;
  /**
   * How far, from the bytes read, never 100: the stream reads ahead of the rows stored (a
   * compressed file most: all its bytes were read at 94% of its rows). The summary says done.
   */
  percent: number;
}
