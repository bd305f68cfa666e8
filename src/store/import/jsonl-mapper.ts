/**
 * JSON Lines: one JSON object per line, with the field names of Item / User / ShelfEvent. A field
 * of no such name is ignored and listed in the summary, as a CSV file's unknown column is (the
 * API refuses the record instead: its sender can fix the call).
 */
import { unknownFields } from '../validate.ts';
import type { EventLimits } from '../validate.ts';
import { emitRecord } from './emit-record.ts';
import type { ImportKind, ImportSink, RecordMapper } from './types.ts';

export class JsonlMapper implements RecordMapper {
  readonly format = 'jsonl' as const;
  readonly quoted = false;
  private readonly ignored = new Set<string>();

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
    emitRecord(this.kind, this.known(raw), line, this.now, sink, this.limits, false);
  }

  /** The fields ignored so far, in the order first met. */
  get ignoredColumns(): readonly string[] {
    return [...this.ignored];
  }

  /** `raw` without the fields no record of this kind has (noted as ignored). */
  private known(raw: unknown): unknown {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
    const unknown = unknownFields(this.kind, raw as Record<string, unknown>);
    if (!unknown.length) return raw;
    for (const f of unknown) this.ignored.add(f);
    const out: Record<string, unknown> = { ...raw };
    for (const f of unknown) delete out[f];
    return out;
  }
}
