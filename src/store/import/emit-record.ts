/** Validates one raw record of a kind and hands it to the sink (or rejects it with its line). */
import { validateEvent, validateItem, validateUser } from '../validate.ts';
import type { ImportKind, ImportSink } from './types.ts';

/** `now` fills `publishedAt`/`createdAt` when a record has none. */
export function emitRecord(
  kind: ImportKind,
  raw: unknown,
  line: number,
  now: number,
  sink: ImportSink,
): void {
  if (kind === 'events') {
    const v = validateEvent(raw);
    if (v.ok) sink.event(v.value);
    else sink.reject(line, v.errors);
  } else if (kind === 'items') {
    const v = validateItem(raw, now);
    if (v.ok) sink.item(v.value);
    else sink.reject(line, v.errors);
  } else {
    const v = validateUser(raw, now);
    if (v.ok) sink.user(v.value);
    else sink.reject(line, v.errors);
  }
}
