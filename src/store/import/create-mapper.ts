/** The record mapper of a format; a CSV whose format was only inferred is checked for a known dataset header. */
import type { EventLimits } from '../validate.ts';
import { CsvMapper } from './csv-mapper.ts';
import { splitCsvFields } from './csv-fields.ts';
import { JsonlMapper } from './jsonl-mapper.ts';
import { MovieLensMapper } from './movielens-mapper.ts';
import { isOnlineRetailHeader, OnlineRetailMapper } from './online-retail-mapper.ts';
import type { ImportFormat, ImportKind, ImportSink, RecordMapper } from './types.ts';

export interface MapperOptions {
  kind: ImportKind;
  format: ImportFormat;
  /** When the format was inferred from a `.csv` name, an Online Retail header switches to that mapping. */
  sniffCsv?: boolean;
  /** Default `publishedAt`/`createdAt` for records without one. */
  now: number;
  /** Events dated after `latest` are rejected (the clock plus the allowed skew). */
  limits?: EventLimits;
}

export function createMapper(o: MapperOptions): RecordMapper {
  switch (o.format) {
    case 'jsonl':
      return new JsonlMapper(o.kind, o.now, o.limits);
    case 'movielens':
      return new MovieLensMapper(o.kind, o.now, o.limits);
    case 'online-retail':
      return new OnlineRetailMapper(o.kind, o.limits);
    case 'csv':
      return o.sniffCsv
        ? new SniffingCsvMapper(o.kind, o.now, o.limits)
        : new CsvMapper(o.kind, o.now, o.limits);
  }
}

/** Decides between the field-named CSV mapping and a known dataset once it sees the header. */
class SniffingCsvMapper implements RecordMapper {
  readonly quoted = true;
  private inner: RecordMapper;

  constructor(
    private readonly kind: ImportKind,
    now: number,
    private readonly limits: EventLimits = {},
  ) {
    this.inner = new CsvMapper(kind, now, limits);
  }

  get format(): ImportFormat {
    return this.inner.format;
  }

  get ignoredColumns(): readonly string[] {
    return this.inner.ignoredColumns ?? [];
  }

  header(text: string, line: number): void {
    if (isOnlineRetailHeader(splitCsvFields(text) ?? []))
      this.inner = new OnlineRetailMapper(this.kind, this.limits);
    this.inner.header!(text, line);
  }

  record(text: string, line: number, sink: ImportSink): void {
    this.inner.record(text, line, sink);
  }

  finish(sink: ImportSink): void {
    this.inner.finish?.(sink);
  }
}
