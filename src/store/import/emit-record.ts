/** Validates one raw record of a kind and hands it to the sink (or rejects it with its line). */
import { fieldsLeftOut } from '../kept-fields.ts';
import { validateEvent, validateItem, validateUser } from '../validate.ts';
import type { EventLimits } from '../validate.ts';
import type { ImportKind, ImportSink } from './types.ts';

/**
 * `now` fills `publishedAt`/`createdAt` when a record has none; `limits` bound events' timestamps;
 * `cells`: a CSV row (its numbers are text), else a JSON record (typed).
 */
export function emitRecord(
  kind: ImportKind,
  raw: unknown,
  line: number,
  now: number,
  sink: ImportSink,
  limits: EventLimits,
  cells: boolean,
): void {
  if (kind === 'events') {
    const v = validateEvent(raw, limits, cells);
    if (v.ok) sink.event(v.value, line);
    else sink.reject(line, v.errors);
  } else if (kind === 'items') {
    const v = validateItem(raw, now, cells);
    if (v.ok) sink.item(v.value, { leftOut: fieldsLeftOut(raw), line });
    else sink.reject(line, v.errors);
  } else {
    const v = validateUser(raw, now, cells);
    if (v.ok) sink.user(v.value);
    else sink.reject(line, v.errors);
  }
}
