/** Picks the format, encoding and actual file of an import from what the user gave. */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError } from '../../errors.ts';
import type { ImportEncoding, ImportFormat, ImportKind } from './types.ts';
import { IMPORT_ENCODINGS, IMPORT_FORMATS } from './types.ts';

const MOVIELENS_FILES: Record<ImportKind, string> = { events: 'u.data', items: 'u.item', users: 'u.user' };
const MOVIELENS_NAME = /^(u\.(data|item|user)|u[1-5ab]\.(base|test))$/;

/** `utf-8`/`utf8` or `latin1`/`latin-1`/`iso-8859-1`; anything else throws naming the option. */
export function parseEncoding(value: string, option = '--encoding'): ImportEncoding {
  const v = value.trim().toLowerCase();
  if (v === 'utf-8' || v === 'utf8') return 'utf-8';
  if (v === 'latin1' || v === 'latin-1' || v === 'iso-8859-1') return 'latin1';
  throw new InputError(
    `${option} must be one of ${IMPORT_ENCODINGS.join(', ')}; got ${JSON.stringify(value)}`,
  );
}

export function parseFormat(value: string, option = '--format'): ImportFormat {
  if ((IMPORT_FORMATS as readonly string[]).includes(value)) return value as ImportFormat;
  throw new InputError(`${option} must be one of ${IMPORT_FORMATS.join(', ')}; got ${JSON.stringify(value)}`);
}

/** The format a file name implies: `.jsonl`/`.ndjson`, `.csv` (each optionally `.gz`), MovieLens names. */
export function inferFormat(file: string): ImportFormat {
  const name = basename(file).toLowerCase().replace(/\.gz$/, '');
  if (MOVIELENS_NAME.test(name)) return 'movielens';
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  if (name.endsWith('.csv')) return 'csv';
  throw new InputError(
    `cannot tell the format of ${file} from its name; pass --format ${IMPORT_FORMATS.join('|')}`,
  );
}

export interface ResolvedInput {
  file: string;
  format: ImportFormat;
  /** True when the format came from the file name, so a CSV header may still reveal a known dataset. */
  inferred: boolean;
  encoding: ImportEncoding;
}

/**
 * A MovieLens directory resolves to its `u.data`/`u.item`/`u.user`; a MovieLens file of the
 * wrong kind (`shelf import users u.item`) is refused. MovieLens defaults to Latin-1
 * (`u.item` is Latin-1; the other files are ASCII), everything else to UTF-8.
 */
export async function resolveInput(
  kind: ImportKind,
  file: string,
  format?: ImportFormat,
  encoding?: ImportEncoding,
): Promise<ResolvedInput> {
  const isDir = await stat(file).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (isDir) {
    if (format !== undefined && format !== 'movielens') throw new InputError(`${file} is a directory`);
    file = join(file, MOVIELENS_FILES[kind]);
    format = 'movielens';
  }
  const inferred = format === undefined;
  format ??= inferFormat(file);
  if (format === 'movielens') {
    const name = basename(file);
    const expected = MOVIELENS_FILES[kind];
    if (/^u\.(data|item|user)$/.test(name) && name !== expected) {
      throw new InputError(`${name} is not a MovieLens ${kind} file (that is ${expected})`);
    }
  }
  return { file, format, inferred, encoding: encoding ?? (format === 'movielens' ? 'latin1' : 'utf-8') };
}
