import { describe, expect, it } from 'vitest';
import { parseTimestamp, validateEvent, validateItem, validateUser } from '../../../src/store/validate.ts';

const NOW = Date.UTC(2026, 10, 25);
const base = { eventId: 'e1', type: 'view', userId: 'u1', itemId: 'i1', timestamp: '2026-11-01T10:00:00Z' };

function errorsOf(r: ReturnType<typeof validateEvent>) {
  return r.ok ? [] : r.errors;
}

describe('validateEvent', () => {
  it('accepts DESIGN.md events with ISO or epoch-ms timestamps', () => {
    const r = validateEvent({ ...base, quantity: '2', price: 3.5, context: { page: 'home' } });
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

  it.each([
    [{ ...base, eventId: undefined }, 'eventId', 'is required'],
    [{ ...base, type: 'wishlist' }, 'type', 'must be one of'],
    [{ ...base, userId: undefined }, 'userId', 'userId or sessionId'],
    [{ ...base, userId: 'ann@example.com' }, 'userId', 'e-mail'],
    [{ ...base, quantity: 'two' }, 'quantity', 'must be a number'],
    [{ ...base, price: -1 }, 'price', 'at least 0'],
    [{ ...base, timestamp: 'yesterday' }, 'timestamp', 'ISO-8601'],
    [{ ...base, timestamp: 1_700_000_000 }, 'timestamp', 'epoch seconds'],
    [{ ...base, type: 'rating' }, 'value', 'required for rating'],
    [{ ...base, context: { nested: { a: 1 } } }, 'context.nested', 'string, number or boolean'],
  ])('rejects %o on field %s', (raw, field, reason) => {
    const errs = errorsOf(validateEvent(raw));
    expect(errs).toContainEqual({ field, reason: expect.stringContaining(reason) });
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
    [{ itemId: 'i', title: '' }, 'title'],
    [{ itemId: 'i', title: 't', stock: 1.5 }, 'stock'],
    [{ itemId: 'i', title: 't', status: 'gone' }, 'status'],
    [{ itemId: 'i', title: 't', currency: 'euro' }, 'currency'],
    [{ itemId: 'i', title: 't', categories: [''] }, 'categories'],
    [{ itemId: 'i', title: 't', repurchasable: 'yes' }, 'repurchasable'],
    [{ itemId: 'i', title: 't', publishedAt: 946_684_800 }, 'publishedAt'],
    [{ itemId: 'i', title: 't', publishedAt: '1850-01-01' }, 'publishedAt'],
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
    expect(validateUser({ userId: 'u', consent: { personalization: 'false' } }, NOW)).toMatchObject({
      ok: true,
      value: { consent: { personalization: false } },
    });
    const bad = validateUser({ userId: 'u', consent: { personalization: 'maybe' } }, NOW);
    expect(bad.ok ? [] : bad.errors.map((e) => e.field)).toContain('consent.personalization');
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
});
