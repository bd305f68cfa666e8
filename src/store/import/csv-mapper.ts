/**
 * CSV with a header row whose columns are named as the fields of Item / User / ShelfEvent.
 * - Empty cells are absent fields.
 * - `categories`: several category paths separated by `|`, e.g. `Home > Kitchen|Gifts > Mugs`.
 * - `attributes.NAME` / `context.NAME` columns become entries of `attributes` / `context`
 *   (string values); a column named `attributes` / `context` holds a JSON object instead.
 * - `repurchasable`, `consent.personalization`: `true` or `false`.
 * - Unknown columns are ignored and listed in the summary (`ignoredColumns`).
 */
import { InputError } from '../../errors.ts';
import { splitCsvFields } from './csv-fields.ts';
import { recordFields } from '../validate.ts';
import type { EventLimits } from '../validate.ts';
import { emitRecord } from './emit-record.ts';
import type { ImportKind, ImportSink, RecordMapper } from './types.ts';

const BOOLEANS: Record<ImportKind, readonly string[]> = {
  events: [],
  items: ['repurchasable'],
  users: ['consent.personalization'],
};
/** A record's fields that a column holds as text (the others are read as typed below). */
function textFields(kind: ImportKind): readonly string[] {
  const { fields, freeForm } = recordFields(kind);
  const typed = new Set([...BOOLEANS[kind], 'categories', 'consent', freeForm]);
  return fields.filter((f) => !typed.has(f));
}

type Column =
  | { type: 'plain' | 'bool' | 'list'; name: string }
  | { type: 'json'; name: string }
  | { type: 'entry'; map: string; key: string }
  | { type: 'ignored' };

type Raw = Record<string, unknown>;

export class CsvMapper implements RecordMapper {
  readonly format = 'csv' as const;
  readonly quoted = true;
  readonly ignoredColumns: string[] = [];
  private columns: Column[] = [];

  constructor(
    private readonly kind: ImportKind,
    /** Fills `publishedAt`/`createdAt` when absent. */
    private readonly now: number,
    /** The latest event time accepted (the clock plus the allowed skew). */
    private readonly limits: EventLimits = {},
    private readonly delimiter = ',',
  ) {}

  header(text: string, line: number): void {
    const names = splitCsvFields(text, this.delimiter);
    if (!names) throw new InputError(`line ${line}: the CSV header has an unterminated quoted field`);
    const seen = new Set<string>();
    const map = recordFields(this.kind).freeForm;
    const textual = textFields(this.kind);
    this.columns = names.map((raw) => {
      const name = raw.trim();
      if (seen.has(name))
        throw new InputError(`line ${line}: the CSV header names column ${JSON.stringify(name)} twice`);
      seen.add(name);
      if (textual.includes(name)) return { type: 'plain', name };
      if (BOOLEANS[this.kind].includes(name)) return { type: 'bool', name };
      if (this.kind === 'items' && name === 'categories') return { type: 'list', name };
      if (name === map) return { type: 'json', name };
      if (name.startsWith(`${map}.`) && name.length > map.length + 1) {
        return { type: 'entry', map, key: name.slice(map.length + 1) };
      }
      this.ignoredColumns.push(name);
      return { type: 'ignored' };
    });
    if (this.ignoredColumns.length === this.columns.length) {
      throw new InputError(
        `line ${line}: no CSV column is a field of ${this.kind} (expected e.g. ${textual.slice(0, 4).join(', ')})`,
      );
    }
  }

  record(text: string, line: number, sink: ImportSink): void {
    const cells = splitCsvFields(text, this.delimiter);
    if (!cells) {
      sink.reject(line, [{ field: '(record)', reason: 'has an unterminated quoted field' }]);
      return;
    }
    if (cells.length !== this.columns.length) {
      sink.reject(line, [
        { field: '(record)', reason: `has ${cells.length} fields but the header has ${this.columns.length}` },
      ]);
      return;
    }
    const raw: Raw = {};
    for (let i = 0; i < cells.length; i++) {
      const value = cells[i]!;
      const col = this.columns[i]!;
      if (value === '' || col.type === 'ignored') continue;
      switch (col.type) {
        case 'plain':
          raw[col.name] = value;
          break;
        case 'bool':
          setPath(raw, col.name, value === 'true' ? true : value === 'false' ? false : value);
          break;
        case 'list':
          raw[col.name] = value
            .split('|')
            .map((s) => s.trim())
            .filter(Boolean);
          break;
        case 'json': {
          let parsed: unknown;
          try {
            parsed = JSON.parse(value);
          } catch {
            sink.reject(line, [{ field: col.name, reason: 'must be a JSON object' }]);
            return;
          }
          const earlier = raw[col.name];
          raw[col.name] = isObject(parsed) && isObject(earlier) ? { ...parsed, ...earlier } : parsed;
          break;
        }
        case 'entry': {
          const target = raw[col.map];
          if (isObject(target)) target[col.key] = value;
          else if (target === undefined) raw[col.map] = { [col.key]: value };
          break;
        }
      }
    }
    emitRecord(this.kind, raw, line, this.now, sink, this.limits, true);
  }
}

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(raw: Raw, path: string, value: unknown): void {
  const dot = path.indexOf('.');
  if (dot < 0) {
    raw[path] = value;
    return;
  }
  const head = path.slice(0, dot);
  const inner = isObject(raw[head]) ? (raw[head] as Raw) : (raw[head] = {});
  inner[path.slice(dot + 1)] = value;
}
