/**
 * MovieLens 100K (`movielens-100k/`, see its SOURCE.md); no header lines.
 * - events ← `u.data` (or a `uN.base`/`uN.test` split): `user \t item \t rating \t unix seconds`
 *   → `rating` events with `value` = rating, eventId `ml-<user>-<item>`.
 * - items ← `u.item` (Latin-1, `|`-separated, 24 fields): title, genres as categories
 *   `Movies > Comedy` (only `unknown` → `Movies`), release date (`01-Jan-1995`, UTC) as
 *   publishedAt (the import's default time when missing), `attributes.releaseDate`
 *   (`YYYY-MM-DD`), `attributes.imdbUrl`.
 * - users ← `u.user`: `user|age|gender|occupation|zip` → attributes age (number), gender,
 *   occupation. The zip code is not imported (not used by Shelf, and with age and gender it is a
 *   quasi-identifier). createdAt = the import's default time.
 */
import type { FieldError } from '../../errors.ts';
import { fieldsLeftOut } from '../kept-fields.ts';
import { validateEvent, validateItem, validateUser } from '../validate.ts';
import type { EventLimits } from '../validate.ts';
import type { ImportKind, ImportSink, RecordMapper } from './types.ts';

export const MOVIELENS_GENRES = [
  'unknown',
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
] as const;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const ITEM_FIELDS = 5 + MOVIELENS_GENRES.length;

/** `01-Jan-1995` → UTC epoch ms; null when malformed. */
export function parseMovieLensDate(s: string): number | null {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(s.trim());
  if (!m) return null;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  const day = Number(m[1]);
  if (month < 0) return null;
  const ms = Date.UTC(Number(m[3]), month, day);
  return new Date(ms).getUTCDate() === day ? ms : null;
}

/** One line of `u.data` (or a `uN.base`/`uN.test` split), fields trimmed. */
export interface MovieLensRating {
  userId: string;
  itemId: string;
  rating: string;
  /** Unix seconds; null when not a whole number (reported in `errors`). */
  seconds: number | null;
}

/**
 * The one parser of MovieLens rating lines (`user \t item \t rating \t unix seconds`), for the
 * importer and the evaluation loader; null when the field count is wrong. Problems go to `errors`.
 */
export function parseMovieLensRating(text: string, errors: FieldError[]): MovieLensRating | null {
  const f = text.split('\t');
  if (f.length !== 4) {
    errors.push({ field: '(record)', reason: `has ${f.length} tab-separated fields, expected 4` });
    return null;
  }
  const [userId, itemId, rating, seconds] = f.map((s) => s.trim()) as [string, string, string, string];
  const whole = /^\d+$/.test(seconds);
  if (!whole)
    errors.push({ field: 'timestamp', reason: `must be epoch seconds, got ${JSON.stringify(seconds)}` });
  return { userId, itemId, rating, seconds: whole ? Number(seconds) : null };
}

/** One line of `u.item`, fields trimmed. */
export interface MovieLensMovie {
  itemId: string;
  title: string;
  /** The release date as UTC epoch ms; null when the cell is empty or malformed (then reported). */
  released: number | null;
  videoReleaseDate: string;
  imdbUrl: string;
  /** Names of the genres flagged `1`, in {@link MOVIELENS_GENRES} order (`unknown` included). */
  genres: string[];
}

/**
 * The one parser of `u.item` lines (`id|title|release|video|url|19 genre flags`), for the
 * importer and the evaluation loader; null when the field count is wrong. Problems go to `errors`.
 */
export function parseMovieLensMovie(text: string, errors: FieldError[]): MovieLensMovie | null {
  const f = text.split('|');
  if (f.length !== ITEM_FIELDS) {
    errors.push({ field: '(record)', reason: `has ${f.length} |-separated fields, expected ${ITEM_FIELDS}` });
    return null;
  }
  let released: number | null = null;
  if (f[2]!.trim() !== '') {
    released = parseMovieLensDate(f[2]!);
    if (released === null) {
      errors.push({
        field: 'publishedAt',
        reason: `must be a date like 01-Jan-1995, got ${JSON.stringify(f[2])}`,
      });
    }
  }
  const genres: string[] = [];
  for (let g = 0; g < MOVIELENS_GENRES.length; g++) {
    const flag = f[5 + g]!.trim();
    if (flag === '1') genres.push(MOVIELENS_GENRES[g]!);
    else if (flag !== '0') {
      errors.push({
        field: `genre.${MOVIELENS_GENRES[g]}`,
        reason: `must be 0 or 1, got ${JSON.stringify(flag)}`,
      });
    }
  }
  return {
    itemId: f[0]!.trim(),
    title: f[1]!.trim(),
    released,
    videoReleaseDate: f[3]!.trim(),
    imdbUrl: f[4]!.trim(),
    genres,
  };
}

export class MovieLensMapper implements RecordMapper {
  readonly format = 'movielens' as const;
  readonly quoted = false;

  constructor(
    private readonly kind: ImportKind,
    /** publishedAt / createdAt when the file has none. */
    private readonly now: number,
    /** The latest event time accepted (the clock plus the allowed skew). */
    private readonly limits: EventLimits = {},
  ) {}

  record(text: string, line: number, sink: ImportSink): void {
    if (this.kind === 'events') this.rating(text, line, sink);
    else if (this.kind === 'items') this.movie(text, line, sink);
    else this.user(text, line, sink);
  }

  private rating(text: string, line: number, sink: ImportSink): void {
    const errors: FieldError[] = [];
    const r = parseMovieLensRating(text, errors);
    if (r === null) {
      sink.reject(line, errors);
      return;
    }
    const v = validateEvent(
      {
        eventId: `ml-${r.userId}-${r.itemId}`,
        type: 'rating',
        userId: r.userId,
        itemId: r.itemId,
        value: r.rating,
        timestamp: r.seconds === null ? undefined : r.seconds * 1000,
      },
      this.limits,
      true,
    );
    if (v.ok) sink.event(v.value, line);
    else sink.reject(line, [...errors, ...v.errors.filter((e) => !errors.length || e.field !== 'timestamp')]);
  }

  private movie(text: string, line: number, sink: ImportSink): void {
    const errors: FieldError[] = [];
    const m = parseMovieLensMovie(text, errors);
    if (m === null) {
      sink.reject(line, errors);
      return;
    }
    const categories = m.genres.filter((g) => g !== 'unknown').map((g) => `Movies > ${g}`);
    if (categories.length === 0) categories.push('Movies');
    const attributes: Record<string, string> = {};
    if (m.released !== null) attributes.releaseDate = new Date(m.released).toISOString().slice(0, 10);
    if (m.videoReleaseDate) attributes.videoReleaseDate = m.videoReleaseDate;
    if (m.imdbUrl) attributes.imdbUrl = m.imdbUrl;
    const raw = {
      itemId: m.itemId,
      title: m.title,
      categories,
      // As an ISO date: validation reads epoch-ms numbers before 1990 as a unit mistake. Without
      // one, the import's default time, and a stored movie keeps its own.
      ...(m.released !== null ? { publishedAt: new Date(m.released).toISOString() } : {}),
      attributes,
    };
    const v = validateItem(raw, this.now);
    // Stock, price, status and the rest are the catalogue's: a stored movie keeps them.
    if (v.ok && !errors.length) sink.item(v.value, { leftOut: fieldsLeftOut(raw) });
    else sink.reject(line, [...errors, ...(v.ok ? [] : v.errors)]);
  }

  private user(text: string, line: number, sink: ImportSink): void {
    const f = text.split('|');
    if (f.length !== 5) {
      sink.reject(line, [{ field: '(record)', reason: `has ${f.length} |-separated fields, expected 5` }]);
      return;
    }
    const [id, age, gender, occupation] = f.map((s) => s.trim()) as [string, string, string, string];
    const errors: { field: string; reason: string }[] = [];
    if (!/^\d{1,3}$/.test(age)) {
      errors.push({ field: 'attributes.age', reason: `must be a whole number, got ${JSON.stringify(age)}` });
    }
    const attributes: Record<string, string | number> = errors.length ? {} : { age: Number(age) };
    if (gender) attributes.gender = gender;
    if (occupation) attributes.occupation = occupation;
    const v = validateUser({ userId: id, attributes, createdAt: this.now }, this.now);
    if (v.ok && !errors.length) sink.user(v.value);
    else sink.reject(line, [...errors, ...(v.ok ? [] : v.errors)]);
  }
}
