/** JSON Lines: one JSON object per line, with the field names of Item / User / ShelfEvent. */
import type { EventLimits } from '../validate.ts';
import { emitRecord } from './emit-record.ts';
import type { ImportKind, ImportSink, RecordMapper } from './types.ts';

export class JsonlMapper implements RecordMapper {
  readonly format = 'jsonl' as const;
  readonly quoted = false;

  constructor(
    private readonly kind: ImportKind,
    /** Fills `publishedAt`/`createdAt` when absent. */
    private readonly now: number,
    /** The latest event time accepted (the clock plus the allowed skew). */
    private readonly limits: EventLimits = {},
  ) {}

  record(text: string, line: number, sink: ImportSink): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      sink.reject(line, [{ field: '(record)', reason: `is not valid JSON: ${(err as Error).message}` }]);
      return;
    }
    emitRecord(this.kind, raw, line, this.now, sink, this.limits);
  }
}
