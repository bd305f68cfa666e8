import { describe, expect, it } from 'vitest';
import {
  parseTimestamp,
  validateEvent,
  validateItem,
  validateUser,
  validateUserPatch,
} from '../../../src/store/validate.ts';

const NOW = Date.UTC(2026, 10, 25);
const base = { eventId: 'e1', type: 'view', userId: 'u1', itemId: 'i1', timestamp: '2026-11-01T10:00:00Z' };

function errorsOf(r: { ok: true } | { ok: false; errors: { field: string; reason: string }[] }) {
  return r.ok ? [] : r.errors;
}

describe('validateEvent', () => {
  it('accepts DESIGN.md events with ISO or epoch-ms timestamps', () => {
    const r = validateEvent({ ...base, quantity: 2, price: 3.5, context: { page: 'home' } });
    expect(r).toEqual({
      ok: true,
      value: {
        eventId: 'e1',
        type: 'view',
        userId: 'u1',
        itemId: 'i1',
        timestamp: Date.UTC(2026, 10, 1, 10),
        quantity: 2,
        price: 3.5,
        context: { page: 'home' },
      },
    });
    expect(validateEvent({ ...base, timestamp: Date.UTC(2026, 0, 1) }).ok).toBe(true);
  });

  it('reads numbers from a CSV row’s text (decimal only), and refuses them as strings from JSON', () => {
    const text = { ...base, quantity: ' 2 ', price: '3.5e0' };
    expect(validateEvent(text, {}, true)).toMatchObject({ ok: true, value: { quantity: 2, price: 3.5 } });
    // From JSON (the API, JSONL) "2" is no number: read as one, it hid a client's type error.
    expect(errorsOf(validateEvent(text))).toEqual([
      { field: 'quantity', reason: 'must be a number, got " 2 "' },
      { field: 'price', reason: 'must be a number, got "3.5e0"' },
    ]);
    // Number() reads hex, binary and an empty-looking cell; a feed's cell is refused instead.
    for (const price of ['0x10', '0b11', '1_000', '12abc'])
      expect(errorsOf(validateEvent({ ...base, price }, {}, true)), price).toEqual([
        { field: 'price', reason: `must be a number, got ${JSON.stringify(price)}` },
      ]);
  });

  it.each([
    [{ ...base, eventId: undefined }, 'eventId', 'is required'],
    [{ ...base, type: 'wishlist' }, 'type', 'must be one of'],
    [{ ...base, userId: undefined }, 'userId', 'userId or sessionId'],
    [{ ...base, userId: 'ann@example.com' }, 'userId', 'e-mail'],
    [{ ...base, quantity: 'two' }, 'quantity', 'must be a number'],
    [{ ...base, type: 'purchase', quantity: 0 }, 'quantity', 'more than 0'],
    [{ ...base, quantity: -2 }, 'quantity', 'at least 0'],
    [{ ...base, price: -1 }, 'price', 'at least 0'],
    [{ ...base, timestamp: 'yesterday' }, 'timestamp', 'ISO-8601'],
    [{ ...base, timestamp: 1_700_000_000 }, 'timestamp', 'epoch seconds'],
    [{ ...base, type: 'rating' }, 'value', 'required for rating'],
    // Seen: a rating of 1e300 stopped every later fit; one of 1000 weighed as 200 purchases.
    [{ ...base, type: 'rating', value: 1e300 }, 'value', 'must be a rating from 0 to 5'],
    [{ ...base, type: 'rating', value: 6 }, 'value', 'got 6'],
    [{ ...base, type: 'rating', value: -1 }, 'value', 'from 0 to 5'],
    [{ ...base, price: Infinity }, 'price', 'got Infinity'],
    [{ ...base, context: { nested: { a: 1 } } }, 'context.nested', 'string, number or boolean'],
  ])('rejects %o on field %s', (raw, field, reason) => {
    const errs = errorsOf(validateEvent(raw));
    expect(errs).toContainEqual({ field, reason: expect.stringContaining(reason) });
  });

  // Issue #12, reproduction 6: a NUL in an id failed a whole PostgreSQL batch; ids now refuse control characters.
  it.each([
    ['itemId', 'sku\u00001', 'U+0000 at position 3'],
    ['userId', 'u\u001b[31m', 'U+001B at position 1'],
    ['sessionId', 's\u007f', 'U+007F'],
    ['eventId', 'e\u0085', 'U+0085'],
    ['recommendationId', 'r\n', 'U+000A'],
    ['itemId', 'sku\ud800', 'lone UTF-16 surrogate'],
  ])('rejects control characters and broken Unicode in %s', (field, id, reason) => {
    const errs = errorsOf(validateEvent({ ...base, [field]: id }));
    expect(errs).toEqual([{ field, reason: expect.stringContaining(reason) }]);
    expect(errs[0]!.reason).toMatch(/^must /);
  });

  it('accepts ids in any script, emoji included, and tabs-free punctuation', () => {
    for (const id of ['sku-ü-日本', 'u:42/β', 'item 😀 pair']) {
      expect(validateEvent({ ...base, itemId: id, userId: id }).ok).toBe(true);
    }
  });

  it('rejects a NUL in context keys and values (PostgreSQL jsonb refuses it)', () => {
    expect(errorsOf(validateEvent({ ...base, context: { page: 'a\u0000b' } }))).toEqual([
      { field: 'context.page', reason: expect.stringContaining('NUL') },
    ]);
    expect(errorsOf(validateEvent({ ...base, context: { 'p\u0000': 'x' } }))).toEqual([
      { field: 'context.p\\u0000', reason: expect.stringContaining('NUL') },
    ]);
  });

  // Issue #12: price 1e308 × quantity 10 is Infinity, and so would every revenue sum be. A trial
  // of session 39: two purchases at 1.7e308, each finite, overflowed the aggregation's sums.
  it('bounds a unit price at 1e12 and a quantity at 1e6, naming the field', () => {
    const purchase = (o: object) => validateEvent({ ...base, type: 'purchase', ...o });
    expect(errorsOf(purchase({ price: 1.7e308 }))).toEqual([
      { field: 'price', reason: 'must be at most 1000000000000' },
    ]);
    expect(errorsOf(purchase({ price: 5, quantity: 2e6 }))).toEqual([
      { field: 'quantity', reason: 'must be at most 1000000' },
    ]);
    expect(purchase({ price: 1e12, quantity: 1e6 }).ok).toBe(true);
    expect(errorsOf(validateItem({ itemId: 'i', title: 't', price: 1e13 }, NOW))).toEqual([
      { field: 'price', reason: 'must be at most 1000000000000' },
    ]);
  });

  // Issue #12, reproduction 5: one view dated 2099 made its item's trending score Infinity.
  it('rejects events dated past the latest time the caller accepts, and only those', () => {
    const latest = Date.UTC(2026, 10, 1, 10, 10);
    const at = (timestamp: string | number) => validateEvent({ ...base, timestamp }, { latest });
    expect(at('2026-11-01T10:10:00Z').ok).toBe(true);
    expect(at('2001-01-01').ok).toBe(true); // history is fine
    expect(errorsOf(at('2026-11-01T10:10:01Z'))).toEqual([
      {
        field: 'timestamp',
        reason: expect.stringMatching(/^is 1 s past the latest time accepted \(2026-11-01T10:10:00\.000Z\)/),
      },
    ]);
    expect(errorsOf(at('2099-12-31T00:00:00Z'))[0]!.reason).toMatch(/^is \d+ d \d+ h \d+ min past/);
    // Without a limit (a caller that has no clock), any date up to 2100 passes as before.
    expect(validateEvent({ ...base, timestamp: '2099-12-31T00:00:00Z' }).ok).toBe(true);
  });

  it('refuses a field no event has, by name, with the fields there are', () => {
    const r = validateEvent({ ...base, recomendationId: 'r1', page: 'home' });
    expect(errorsOf(r).map((e) => e.field)).toEqual(['recomendationId', 'page']);
    expect(errorsOf(r)[0]!.reason).toBe(
      'is not a field of an event (eventId, type, userId, sessionId, itemId, quantity, price, value, recommendationId, timestamp, context); free-form data goes in context',
    );
    // Every documented field is one: a full event passes.
    const full = {
      ...base,
      sessionId: 's1',
      quantity: 1,
      price: 2,
      value: 3,
      recommendationId: 'r1',
      context: {},
    };
    expect(validateEvent({ ...full, type: 'rating' }).ok).toBe(true);
  });

  it('reports every bad field at once', () => {
    expect(errorsOf(validateEvent({ type: 'nope', timestamp: 'x' })).map((e) => e.field)).toEqual([
      'eventId',
      'type',
      'userId',
      'itemId',
      'timestamp',
    ]);
    expect(errorsOf(validateEvent([1, 2]))).toEqual([{ field: '(record)', reason: 'must be a JSON object' }]);
  });
});

describe('validateItem', () => {
  it('rejects a NUL in text and attributes, and control characters in the id', () => {
    const errs = (raw: Record<string, unknown>) => {
      const r = validateItem({ itemId: 'm', title: 'Mug', ...raw }, NOW);
      return r.ok ? [] : r.errors.map((e) => e.field);
    };
    expect(errs({ title: 'Mu\u0000g' })).toEqual(['title']);
    expect(errs({ attributes: { colour: 're\u0000d' } })).toEqual(['attributes.colour']);
    expect(errs({ itemId: 'm\u0000' })).toEqual(['itemId']);
    expect(errs({ description: 'two\nlines\tand a tab' })).toEqual([]);
  });

  it('accepts ISO dates back to 1900 (old catalogue items) but not epoch seconds', () => {
    expect(validateItem({ itemId: 'm', title: 'Metropolis', publishedAt: '1927-01-10' }, NOW)).toMatchObject({
      ok: true,
      value: { publishedAt: Date.UTC(1927, 0, 10) },
    });
  });

  it('fills defaults and normalises category paths', () => {
    const r = validateItem({ itemId: 'i1', title: 'Mug', categories: ['Home>Kitchen >  Mugs'] }, NOW);
    expect(r).toEqual({
      ok: true,
      value: {
        itemId: 'i1',
        title: 'Mug',
        categories: ['Home > Kitchen > Mugs'],
        status: 'active',
        publishedAt: NOW,
        repurchasable: false,
        attributes: {},
      },
    });
  });

  it.each([
    [{ itemId: 'i', title: '  ' }, 'title'],
    [{ itemId: 'i', title: 't', stock: 1.5 }, 'stock'],
    // Seen on PostgreSQL: one item of 2^31 in stock failed its whole batch (an integer column).
    [{ itemId: 'i', title: 't', stock: 2_147_483_648 }, 'stock'],
    [{ itemId: 'i', title: 't', status: 'gone' }, 'status'],
    [{ itemId: 'i', title: 't', currency: 'euro' }, 'currency'],
    [{ itemId: 'i', title: 't', categories: [''] }, 'categories'],
    [{ itemId: 'i', title: 't', repurchasable: 'yes' }, 'repurchasable'],
    [{ itemId: 'i', title: 't', publishedAt: 946_684_800 }, 'publishedAt'],
    [{ itemId: 'i', title: 't', publishedAt: '1850-01-01' }, 'publishedAt'],
    [{ itemId: 'i', title: 't', color: 'red' }, 'color'],
  ])('rejects %o on %s', (raw, field) => {
    const r = validateItem(raw, NOW);
    expect(r.ok ? [] : r.errors.map((e) => e.field)).toContain(field);
  });
});

describe('validateUser', () => {
  it('defaults consent to true and rejects a non-boolean consent', () => {
    expect(validateUser({ userId: 'u' }, NOW)).toMatchObject({
      ok: true,
      value: { consent: { personalization: true } },
    });
    expect(validateUser({ userId: 'u', consent: { personalization: 'false' } }, NOW, true)).toMatchObject({
      ok: true,
      value: { consent: { personalization: false } },
    });
    // From JSON a boolean is a boolean: "false" is refused, never read as consent given or not.
    expect(errorsOf(validateUser({ userId: 'u', consent: { personalization: 'false' } }, NOW))).toEqual([
      { field: 'consent.personalization', reason: 'must be true or false' },
    ]);
    const bad = validateUser({ userId: 'u', consent: { personalization: 'maybe' } }, NOW);
    expect(bad.ok ? [] : bad.errors.map((e) => e.field)).toContain('consent.personalization');
  });

  it('refuses a consent it does not know (a refusal misspelt is no consent given)', () => {
    const r = validateUser({ userId: 'u', consent: { personalisation: false } }, NOW);
    expect(r).toEqual({
      ok: false,
      errors: [{ field: 'consent.personalisation', reason: 'is not a consent (personalization is)' }],
    });
    const patch = validateUserPatch({ consent: { personalization: false, marketing: true } });
    expect(patch.ok ? [] : patch.errors.map((e) => e.field)).toEqual(['consent.marketing']);
    expect(validateUserPatch({ consent: { personalization: false } })).toEqual({
      ok: true,
      value: { consent: { personalization: false } },
    });
    const extra = validateUser({ userId: 'u', email: 'a@b.c', segment: 'vip' }, NOW);
    expect(extra.ok ? [] : extra.errors.map((e) => e.field)).toEqual(['email', 'segment']);
  });
});

describe('parseTimestamp', () => {
  it('reads ISO dates, zoneless date-times as UTC, zones, and digits as epoch ms', () => {
    expect(parseTimestamp('2011-11-09')).toBe(Date.UTC(2011, 10, 9));
    expect(parseTimestamp('2011-11-09 08:26:00')).toBe(Date.UTC(2011, 10, 9, 8, 26));
    expect(parseTimestamp('2011-11-09T08:26:00.5Z')).toBe(Date.UTC(2011, 10, 9, 8, 26, 0, 500));
    expect(parseTimestamp('2011-11-09T08:26:00+01:00')).toBe(Date.UTC(2011, 10, 9, 7, 26));
    expect(parseTimestamp('1320800000000')).toBe(1320800000000);
    expect(parseTimestamp('Nov 9 2011')).toBeNull();
  });

  // Seen through POST /v1/events: 2026-02-30T10:00:00Z was stored as 2026-03-02 10:00.
  it('refuses a day the calendar does not have, and keeps leap days', () => {
    for (const s of ['2026-02-30T10:00:00Z', '2026-02-29', '2026-04-31 00:00:00', '2026-00-10', '2026-01-00'])
      expect(parseTimestamp(s), s).toBeNull();
    expect(parseTimestamp('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(
      validateEvent({
        eventId: 'e',
        type: 'view',
        userId: 'u',
        itemId: 'i',
        timestamp: '2026-02-30T10:00:00Z',
      }),
    ).toMatchObject({ ok: false, errors: [{ field: 'timestamp' }] });
  });
});
