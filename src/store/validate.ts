/**
 * Turns untrusted records (JSON bodies, JSONL lines, mapped CSV rows) into typed ones.
 * Every problem is reported as `{ field, reason }`; nothing is silently dropped or coerced
 * beyond what is documented here (numeric strings are accepted for numeric fields, timestamps
 * as ISO-8601 or epoch milliseconds).
 */
import type { FieldError } from '../errors.ts';
import type { AttributeValue, EventType, Item, ShelfEvent, User, UserPatch } from './types.ts';
import { RATING_MAX } from './event-weights.ts';
import { EVENT_TYPES } from './types.ts';

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/**
 * Each record's fields (DESIGN.md's data model), and where free-form data goes. A field outside
 * them is refused by name: dropped, a misspelt `recomendationId` left its click uncredited and
 * a top-level `color` went missing from the item, each with the record reported stored.
 */
const RECORDS = {
  events: {
    name: 'an event',
    fields: [
      'eventId',
      'type',
      'userId',
      'sessionId',
      'itemId',
      'quantity',
      'price',
      'value',
      'recommendationId',
      'timestamp',
      'context',
    ],
    freeForm: 'context',
  },
  items: {
    name: 'an item',
    fields: [
      'itemId',
      'title',
      'description',
      'categories',
      'brand',
      'price',
      'currency',
      'stock',
      'status',
      'publishedAt',
      'repurchasable',
      'attributes',
    ],
    freeForm: 'attributes',
  },
  users: { name: 'a user', fields: ['userId', 'createdAt', 'attributes', 'consent'], freeForm: 'attributes' },
} as const;
export type RecordKind = keyof typeof RECORDS;

/** The fields of a `kind` record, and the one free-form data goes in (its object of name → value). */
export function recordFields(kind: RecordKind): { fields: readonly string[]; freeForm: string } {
  return RECORDS[kind];
}

/** The top-level fields of `raw` that are no field of a `kind` record. */
export function unknownFields(kind: RecordKind, raw: Record<string, unknown>): string[] {
  const known: readonly string[] = RECORDS[kind].fields;
  return Object.keys(raw).filter((k) => !known.includes(k));
}

const MAX_ID = 256;
const MAX_TEXT = 10_000;
/**
 * Epoch-millisecond numbers must fall in 1990–2100: outside is a unit mistake (seconds,
 * microseconds). ISO dates carry their unit, so they may go back to 1900 (old catalogue items).
 */
const MIN_EPOCH_MS = Date.UTC(1990, 0, 1);
const MIN_ISO = Date.UTC(1900, 0, 1);
const MAX_TS = Date.UTC(2100, 0, 1);
/** How far past the clock an event may be dated by default (clients' clocks drift). */
export const DEFAULT_MAX_EVENT_SKEW_MS = 10 * 60_000;

/**
 * C0 and C1 control characters and DEL: never part of an id a storefront means to send, and
 * PostgreSQL cannot store U+0000 at all (error 22021, one bad row failing a multi-row insert).
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A UTF-16 surrogate without its pair: both stores would write U+FFFD, another id than the one sent. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const NUL_REASON = 'must not contain the NUL character (U+0000)';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Why `id` cannot be an id (user, session, item, event…), or null when it can. */
export function idProblem(id: string): string | null {
  const control = CONTROL.exec(id);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    return `must not contain control characters (U+${code} at position ${control.index})`;
  }
  if (LONE_SURROGATE.test(id)) return 'must be valid Unicode text (a lone UTF-16 surrogate)';
  return null;
}

/** Why `userId` cannot be a user id, or null: an id's problems, or an e-mail address (DESIGN.md: pseudonymous). */
export function userIdProblem(userId: string): string | null {
  if (EMAIL.test(userId)) return 'looks like an e-mail address; send a pseudonymous id';
  return idProblem(userId);
}

/** Why a JSON column cannot hold `text`, or null. */
function jsonTextProblem(text: string): string | null {
  if (text.includes('\u0000')) return NUL_REASON;
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode text (a lone UTF-16 surrogate)';
  return null;
}

/** Limits that depend on the clock, given by the caller (the API, an import). */
export interface EventLimits {
  /** The latest timestamp accepted, epoch ms: now plus the allowed clock skew. @defaultValue none */
  latest?: number;
}

type Raw = Record<string, unknown>;

/** A number as a CSV cell writes one: decimal, perhaps signed or with an exponent (not `0x10`, not `1_000`). */
export const DECIMAL = /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i;

class Checker {
  readonly errors: FieldError[] = [];
  /**
   * `cells`: the values are a CSV row's text, so numbers and booleans come as strings; from JSON
   * (the API, JSONL) a string where a number goes is refused, never read as one.
   */
  constructor(
    private readonly raw: Raw,
    private readonly cells = false,
  ) {}

  /** Refuses each field of the record that is no field of a `kind` record. */
  onlyFieldsOf(kind: RecordKind): void {
    const r = RECORDS[kind];
    for (const field of unknownFields(kind, this.raw)) {
      this.fail(
        field,
        `is not a field of ${r.name} (${r.fields.join(', ')}); free-form data goes in ${r.freeForm}`,
      );
    }
  }

  fail(field: string, reason: string): undefined {
    this.errors.push({ field, reason });
    return undefined;
  }

  id(field: string, required: boolean): string | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null || v === '') {
      return required ? this.fail(field, 'is required') : undefined;
    }
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    if (typeof v !== 'string') return this.fail(field, 'must be a string');
    if (v.length > MAX_ID) return this.fail(field, `must be at most ${MAX_ID} characters`);
    const problem = field === 'userId' ? userIdProblem(v) : idProblem(v);
    return problem ? this.fail(field, problem) : v;
  }

  text(field: string, required: boolean): string | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null || (v === '' && !required)) {
      return required ? this.fail(field, 'is required') : undefined;
    }
    if (typeof v !== 'string') return this.fail(field, 'must be a string');
    if (required && v.trim() === '') return this.fail(field, 'must not be empty');
    if (v.length > MAX_TEXT) return this.fail(field, `must be at most ${MAX_TEXT} characters`);
    if (v.includes('\u0000')) return this.fail(field, NUL_REASON);
    return v;
  }

  number(field: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null || (v === '' && this.cells)) return undefined;
    const n =
      typeof v === 'number' ? v : this.cells && typeof v === 'string' && DECIMAL.test(v) ? Number(v) : NaN;
    // String(v) for numbers: JSON.stringify(Infinity) is 'null' (a price of 1e400 read "got null").
    if (!Number.isFinite(n))
      return this.fail(
        field,
        `must be a number, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`,
      );
    if (opts.integer && !Number.isInteger(n)) return this.fail(field, 'must be a whole number');
    if (opts.min !== undefined && n < opts.min) return this.fail(field, `must be at least ${opts.min}`);
    if (opts.max !== undefined && n > opts.max) return this.fail(field, `must be at most ${opts.max}`);
    return n;
  }

  timestamp(field: string, required: boolean): number | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null || v === '') {
      return required ? this.fail(field, 'is required') : undefined;
    }
    const ms = parseTimestamp(v);
    if (ms === null) {
      return this.fail(field, `must be ISO-8601 or epoch milliseconds, got ${JSON.stringify(v)}`);
    }
    const numeric = typeof v === 'number' || /^\s*\d+\s*$/.test(String(v));
    if (numeric && (ms < MIN_EPOCH_MS || ms > MAX_TS)) {
      return this.fail(field, 'is outside 1990–2100 (epoch seconds instead of milliseconds?)');
    }
    if (ms < MIN_ISO || ms > MAX_TS) return this.fail(field, 'is outside 1900–2100');
    return ms;
  }

  boolean(field: string, fallback: boolean): boolean {
    const v = this.raw[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'boolean') return v;
    if (this.cells && (v === 'true' || v === 'false')) return v === 'true';
    this.fail(field, 'must be true or false');
    return fallback;
  }

  /** A consent object: `personalization` (default true), and nothing else. */
  consent(field: string): { personalization: boolean } | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (!isRecord(v)) return this.fail(field, 'must be an object');
    const inner = new Checker(v, this.cells);
    const personalization = inner.boolean('personalization', true);
    // A misspelt `personalisation: false` was read as consent given.
    for (const k of Object.keys(v)) {
      if (k !== 'personalization') inner.fail(k, 'is not a consent (personalization is)');
    }
    for (const e of inner.errors) this.fail(`${field}.${e.field}`, e.reason);
    return inner.errors.length ? undefined : { personalization };
  }

  attributes(field: string): Record<string, AttributeValue> | undefined {
    const v = this.raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) return this.fail(field, 'must be an object');
    const out: Record<string, AttributeValue> = {};
    for (const [k, x] of Object.entries(v as Raw)) {
      // Keys and values go into a JSON column: PostgreSQL's jsonb refuses U+0000 and lone surrogates.
      const bad = jsonTextProblem(k) ?? (typeof x === 'string' ? jsonTextProblem(x) : null);
      if (bad) return this.fail(`${field}.${JSON.stringify(k).slice(1, -1)}`, bad);
      if (typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x))) {
        out[k] = x;
      } else {
        return this.fail(`${field}.${k}`, 'must be a string, number or boolean');
      }
    }
    return out;
  }
}

/** Epoch ms from a number (ms) or a string (ISO-8601, zoneless = UTC, or digits); null when unparseable. */
export function parseTimestamp(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.round(v) : null;
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  // ISO-8601 only: a date, optionally a time; `Date.parse` alone accepts too much.
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) return null;
  // `Date.parse` rolls an impossible day over (2026-02-30 reads as March 2): refused instead.
  const [y, mo, d] = [s.slice(0, 4), s.slice(5, 7), s.slice(8, 10)].map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return null;
  // A date-time without a zone is read as UTC, never as the machine's local time.
  const iso = s.replace(' ', 'T');
  const ms = Date.parse(/T[^Z+-]*$/.test(iso) ? `${iso}Z` : iso);
  return Number.isNaN(ms) ? null : ms;
}

function isRecord(raw: unknown): raw is Raw {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw);
}

function notAnObject(): Validated<never> {
  return { ok: false, errors: [{ field: '(record)', reason: 'must be a JSON object' }] };
}

function result<T>(c: Checker, value: T): Validated<T> {
  return c.errors.length ? { ok: false, errors: c.errors } : { ok: true, value };
}

/**
 * The most stock an item may have: PostgreSQL's `integer` column. One item of 2^31 failed the
 * whole batch it came in with a database error (500, and the good items lost with it).
 */
export const MAX_STOCK = 2_147_483_647;
/**
 * The largest unit price and the most units an event or item may carry. Each was only required
 * to be finite, their product too: two purchases at 1.7e308 passed, their sum overflowed, and
 * the feedback aggregation failed on it at every run after, for the whole shop; one at 1e300 made
 * its variant's revenue variance Infinity. Bounded, a purchase adds at most 1e18 and sums stay
 * finite; no storefront sells a unit for more than 10¹² of any currency, or 10⁶ units at once.
 */
export const MAX_PRICE = 1e12;
export const MAX_QUANTITY = 1e6;

/**
 * `limits.latest` rejects events dated further in the future than the caller allows. `cells`: a
 * CSV row's text (numbers as strings); else JSON, typed.
 */
export function validateEvent(raw: unknown, limits: EventLimits = {}, cells = false): Validated<ShelfEvent> {
  if (!isRecord(raw)) return notAnObject();
  const c = new Checker(raw, cells);
  c.onlyFieldsOf('events');
  const eventId = c.id('eventId', true);
  let type: EventType | undefined;
  if (raw.type === undefined || raw.type === null || raw.type === '') c.fail('type', 'is required');
  else if (!EVENT_TYPES.includes(raw.type as EventType)) {
    c.fail('type', `must be one of ${EVENT_TYPES.join(', ')}; got ${JSON.stringify(raw.type)}`);
  } else type = raw.type as EventType;
  const userId = c.id('userId', false);
  const sessionId = c.id('sessionId', false);
  if (
    userId === undefined &&
    sessionId === undefined &&
    !c.errors.some((e) => /^(user|session)Id$/.test(e.field))
  ) {
    c.fail('userId', 'userId or sessionId is required');
  }
  const itemId = c.id('itemId', true);
  const quantity = c.number('quantity', { min: 0, max: MAX_QUANTITY });
  // A purchase of no unit counted as a purchase (and a conversion) with no revenue.
  if (quantity === 0) c.fail('quantity', 'must be more than 0');
  const price = c.number('price', { min: 0, max: MAX_PRICE });
  const value = c.number('value');
  if (type === 'rating' && value === undefined && !c.errors.some((e) => e.field === 'value')) {
    c.fail('value', 'is required for rating events');
  }
  // Training weighs a rating by value / RATING_MAX: one rating of 1e300 stopped every later
  // fit (a weight that is not finite), one of 1000 weighed as 200 purchases in the model
  // everyone is served.
  if (type === 'rating' && value !== undefined && (value < 0 || value > RATING_MAX)) {
    c.fail('value', `must be a rating from 0 to ${RATING_MAX} (rescale other scales), got ${value}`);
  }
  const recommendationId = c.id('recommendationId', false);
  const timestamp = c.timestamp('timestamp', true);
  if (timestamp !== undefined && limits.latest !== undefined && timestamp > limits.latest) {
    // One event dated 2099 would make its item's trending score dwarf every other one.
    c.fail(
      'timestamp',
      `is ${formatAhead(timestamp - limits.latest)} past the latest time accepted (${new Date(limits.latest).toISOString()}): dated in the future`,
    );
  }
  const context = c.attributes('context');
  const event: ShelfEvent = {
    eventId: eventId!,
    type: type!,
    itemId: itemId!,
    timestamp: timestamp!,
  };
  if (userId !== undefined) event.userId = userId;
  if (sessionId !== undefined) event.sessionId = sessionId;
  if (quantity !== undefined) event.quantity = quantity;
  if (price !== undefined) event.price = price;
  if (value !== undefined) event.value = value;
  if (recommendationId !== undefined) event.recommendationId = recommendationId;
  if (context !== undefined) event.context = context;
  return result(c, event);
}

/** `now` fills `publishedAt` when absent. */
export function validateItem(raw: unknown, now: number, cells = false): Validated<Item> {
  if (!isRecord(raw)) return notAnObject();
  const c = new Checker(raw, cells);
  c.onlyFieldsOf('items');
  const itemId = c.id('itemId', true);
  // Absent, a stored item keeps its title (kept-fields.ts); a new one is refused there.
  const title = c.text('title', false);
  if (title !== undefined && title.trim() === '') c.fail('title', 'must not be empty');
  const description = c.text('description', false);
  let categories: string[] = [];
  const cats = raw.categories;
  if (typeof cats === 'string') categories = cats === '' ? [] : [cats];
  else if (Array.isArray(cats)) {
    if (cats.every((x) => typeof x === 'string' && x.trim() !== '')) categories = cats as string[];
    else c.fail('categories', 'must be a list of non-empty strings');
  } else if (cats !== undefined && cats !== null) c.fail('categories', 'must be a list of category paths');
  const brand = c.text('brand', false);
  const price = c.number('price', { min: 0, max: MAX_PRICE });
  const currency = c.text('currency', false);
  if (currency !== undefined && !/^[A-Z]{3}$/.test(currency)) c.fail('currency', 'must be an ISO 4217 code');
  const stock = c.number('stock', { min: 0, max: MAX_STOCK, integer: true });
  let status: Item['status'] = 'active';
  if (raw.status !== undefined && raw.status !== null) {
    if (raw.status === 'active' || raw.status === 'delisted') status = raw.status;
    else c.fail('status', 'must be active or delisted');
  }
  const publishedAt = c.timestamp('publishedAt', false) ?? now;
  const repurchasable = c.boolean('repurchasable', false);
  const attributes = c.attributes('attributes') ?? {};
  const item: Item = {
    itemId: itemId!,
    title: title ?? '',
    categories: categories.map((p) => normaliseCategory(p)),
    status,
    publishedAt,
    repurchasable,
    attributes,
  };
  if (description !== undefined) item.description = description;
  if (brand !== undefined) item.brand = brand;
  if (price !== undefined) item.price = price;
  if (currency !== undefined) item.currency = currency;
  if (stock !== undefined) item.stock = stock;
  return result(c, item);
}

export function validateUser(raw: unknown, now: number, cells = false): Validated<User> {
  if (!isRecord(raw)) return notAnObject();
  const c = new Checker(raw, cells);
  c.onlyFieldsOf('users');
  const userId = c.id('userId', true);
  const createdAt = c.timestamp('createdAt', false) ?? now;
  const attributes = c.attributes('attributes') ?? {};
  const personalization = c.consent('consent')?.personalization ?? true;
  return result(c, { userId: userId!, attributes, createdAt, consent: { personalization } });
}

/** A profile change: consent and attributes, each optional. */
export function validateUserPatch(raw: unknown): Validated<UserPatch> {
  if (!isRecord(raw)) return notAnObject();
  const c = new Checker(raw);
  const patch: UserPatch = {};
  const attributes = c.attributes('attributes');
  if (attributes) patch.attributes = attributes;
  const consent = c.consent('consent');
  if (consent) patch.consent = consent;
  return result(c, patch);
}

/** `90061000` → `1 d 1 h 1 min`; under a minute in seconds. */
function formatAhead(ms: number): string {
  if (ms < 60_000) return `${Math.ceil(ms / 1000)} s`;
  const parts: string[] = [];
  const d = Math.floor(ms / 86_400_000);
  const h = Math.floor((ms % 86_400_000) / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  if (d) parts.push(`${d} d`);
  if (h) parts.push(`${h} h`);
  if (m) parts.push(`${m} min`);
  return parts.join(' ');
}

/** `Home>Kitchen >  Mugs` → `Home > Kitchen > Mugs`. */
export function normaliseCategory(path: string): string {
  return path
    .split('>')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(' > ');
}
