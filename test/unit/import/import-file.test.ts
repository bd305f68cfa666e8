import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import { formatSummary } from '../../../src/store/import/format-summary.ts';
import { importFile } from '../../../src/store/import/import-file.ts';
import type { ImportFileOptions } from '../../../src/store/import/import-file.ts';
import { parseEncoding } from '../../../src/store/import/resolve-format.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, ShelfEvent, Store } from '../../../src/store/types.ts';

const T0 = Date.UTC(2026, 0, 1);
let dir: string;
let store: Store;
let seq = 0;

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, `${seq++}-${name}`);
  await writeFile(path, content);
  return path;
}

const run = (kind: ImportFileOptions['kind'], path: string, o: Partial<ImportFileOptions> = {}) =>
  importFile(store, { kind, file: path, ...o });

async function allEvents(): Promise<ShelfEvent[]> {
  const out: ShelfEvent[] = [];
  for await (const e of store.streamEvents()) out.push(e);
  return out;
}

function eventLine(i: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    eventId: `e${i}`,
    type: 'view',
    userId: `u${i % 7}`,
    itemId: `i${i % 5}`,
    timestamp: T0 + i,
    ...over,
  });
}

const CSV_HEADER = 'eventId,type,userId,sessionId,itemId,quantity,price,timestamp,context.page';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shelf-import-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  store = await openSqliteStore(':memory:');
});
afterEach(async () => {
  await store.close();
});

describe('importFile: events', () => {
  it('stores N-3 of N rows when 3 are bad and reports exactly those 3', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) lines.push(eventLine(i));
    lines[9] = eventLine(9, { itemId: undefined });
    lines[19] = eventLine(19, { quantity: 'two' });
    lines[29] = 'not json at all';
    const s = await run('events', await file('events.jsonl', lines.join('\n') + '\n'), { batchSize: 7 });
    expect(s).toMatchObject({
      format: 'jsonl',
      rows: 40,
      stored: 37,
      duplicates: 0,
      rejected: 3,
      errorsOmitted: 0,
    });
    expect(s.errors).toEqual([
      { line: 10, field: 'itemId', reason: 'is required' },
      { line: 20, field: 'quantity', reason: 'must be a number, got "two"' },
      { line: 30, field: '(record)', reason: expect.stringContaining('is not valid JSON') },
    ]);
    expect((await store.stats()).events).toBe(37);
  });

  it("ignores a field no event has and lists it, as a CSV file's unknown column is", async () => {
    const lines = [
      eventLine(0, { page: 'home' }),
      eventLine(1, { source: 'app', page: 'pdp' }),
      eventLine(2),
    ];
    const s = await run('events', await file('extra.jsonl', lines.join('\n')));
    expect(s).toMatchObject({ rows: 3, stored: 3, rejected: 0, ignoredColumns: ['page', 'source'] });
    expect(formatSummary(s)).toContain('ignored      field(s) page, source');
    expect((await allEvents()).map((e) => Object.keys(e).sort())).toEqual(
      Array(3).fill(['eventId', 'itemId', 'timestamp', 'type', 'userId']),
    );
  });

  // Issue #12: history has past dates; an event dated past the clock (plus the skew) is a mistake.
  it('rejects events dated past the latest time accepted by line, keeping history', async () => {
    const latest = T0 + 1000;
    const lines = [eventLine(0), eventLine(1, { timestamp: '2099-12-31T00:00:00Z' }), eventLine(2)];
    lines.push(eventLine(3, { timestamp: latest + 1 }), eventLine(4, { timestamp: '1999-01-01' }));
    const s = await run('events', await file('future.jsonl', lines.join('\n')), { latestEventAt: latest });
    expect(s).toMatchObject({ stored: 3, rejected: 2 });
    expect(s.errors).toEqual([
      { line: 2, field: 'timestamp', reason: expect.stringContaining('past the latest time accepted') },
      { line: 4, field: 'timestamp', reason: expect.stringMatching(/^is 1 s past/) },
    ]);
    // By default the clock plus ten minutes: 2099 is refused, these 2026 rows are history.
    const d = await run('events', await file('default.jsonl', lines.slice(0, 3).join('\n')));
    expect(d.errors.map((e) => e.line)).toEqual([2]);
  });

  it('reports an event the store refuses as a bad row, by its line', async () => {
    const refusing: Store = Object.create(store) as Store;
    refusing.insertEvents = async (events) => {
      const bad = events.findIndex((e) => e.eventId === 'e5');
      const r = await store.insertEvents(events.filter((_, i) => i !== bad));
      const statuses = [...r.statuses];
      if (bad >= 0) statuses.splice(bad, 0, 'invalid');
      const invalid =
        bad >= 0 ? [{ index: bad, field: '(event)', reason: 'refused by the database: test' }] : [];
      return { ...r, statuses, invalid };
    };
    const lines = Array.from({ length: 9 }, (_, i) => eventLine(i));
    const s = await importFile(refusing, {
      kind: 'events',
      file: await file('r.jsonl', lines.join('\n')),
      batchSize: 4,
    });
    expect(s).toMatchObject({ rows: 9, stored: 8, duplicates: 0, rejected: 1 });
    expect(s.errors).toEqual([{ line: 6, field: '(event)', reason: 'refused by the database: test' }]);
  });

  it('reports missing field, bad number, unknown event type and bad timestamp by line and field (CSV)', async () => {
    const csv = [
      CSV_HEADER,
      `a1,view,u1,,i1,,,${T0},home`,
      `a2,view,,,i1,,,${T0},`, // no user nor session
      `a3,purchase,u1,,i1,1,cheap,${T0},`,
      `a4,viewed,u1,,i1,,,${T0},`,
      'a5,view,u1,,i1,,,yesterday,',
      'a6,click,,s9,i2,,,2026-01-01T10:00:00Z,cart',
    ].join('\n');
    const s = await run('events', await file('events.csv', csv));
    expect(s).toMatchObject({ format: 'csv', rows: 6, stored: 2, rejected: 4 });
    expect(s.errors).toEqual([
      { line: 3, field: 'userId', reason: 'userId or sessionId is required' },
      { line: 4, field: 'price', reason: 'must be a number, got "cheap"' },
      { line: 5, field: 'type', reason: expect.stringContaining('must be one of view, click') },
      {
        line: 6,
        field: 'timestamp',
        reason: expect.stringContaining('must be ISO-8601 or epoch milliseconds'),
      },
    ]);
    const events = await allEvents();
    expect(events.find((e) => e.eventId === 'a1')).toEqual({
      eventId: 'a1',
      type: 'view',
      userId: 'u1',
      itemId: 'i1',
      timestamp: T0,
      context: { page: 'home' },
    });
    expect(events.find((e) => e.eventId === 'a6')).toMatchObject({
      sessionId: 's9',
      timestamp: Date.UTC(2026, 0, 1, 10),
    });
  });

  it('stores nothing new when the same file is imported twice', async () => {
    const path = await file('twice.jsonl', Array.from({ length: 25 }, (_, i) => eventLine(i)).join('\n'));
    expect(await run('events', path, { batchSize: 10 })).toMatchObject({ stored: 25, duplicates: 0 });
    expect(await run('events', path, { batchSize: 10 })).toMatchObject({
      stored: 0,
      duplicates: 25,
      rejected: 0,
    });
    expect((await store.stats()).events).toBe(25);
  });

  it('rejects a line with invalid UTF-8 naming the encoding; --encoding latin1 reads it', async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${CSV_HEADER}\nb1,view,u1,,i1,,,${T0},home\nb2,view,u1,,i1,,,${T0},caf`),
      Buffer.from([0xe9]),
      Buffer.from(`\nb3,view,u1,,i1,,,${T0},\n`),
    ]);
    const path = await file('latin.csv', bytes);
    const s = await run('events', path);
    expect(s).toMatchObject({ stored: 2, rejected: 1, encoding: 'utf-8' });
    expect(s.errors).toEqual([
      { line: 3, field: '(record)', reason: expect.stringMatching(/not valid UTF-8.*--encoding latin1/) },
    ]);
    const again = await run('events', path, { encoding: parseEncoding('latin1') });
    expect(again).toMatchObject({ stored: 1, duplicates: 2, rejected: 0, encoding: 'latin1' });
    expect((await allEvents()).find((e) => e.eventId === 'b2')?.context).toEqual({ page: 'café' });
  });

  it('refuses an unknown encoding with an error naming the option', () => {
    expect(() => parseEncoding('utf-16')).toThrow(InputError);
    expect(() => parseEncoding('utf-16')).toThrow(/--encoding must be one of utf-8, latin1; got "utf-16"/);
  });

  it('rejects a 10 MB line and imports the lines around it', async () => {
    const big = eventLine(1, { context: { blob: 'x'.repeat(10 * 1024 * 1024) } });
    const content = [eventLine(0), big, eventLine(2), eventLine(3)].join('\n') + '\n';
    const s = await run('events', await file('big.jsonl', content));
    expect(s).toMatchObject({ rows: 4, stored: 3, rejected: 1 });
    expect(s.errors).toEqual([{ line: 2, field: '(record)', reason: `is longer than ${1024 * 1024} bytes` }]);
    expect((await allEvents()).map((e) => e.eventId).sort()).toEqual(['e0', 'e2', 'e3']);
  });

  it('reads gzip input, by magic bytes whatever the name', async () => {
    const content = Array.from({ length: 30 }, (_, i) => eventLine(i)).join('\n');
    const gz = gzipSync(content);
    expect(await run('events', await file('events.jsonl.gz', gz))).toMatchObject({ rows: 30, stored: 30 });
    expect(await run('events', await file('events.jsonl', gz))).toMatchObject({ rows: 30, duplicates: 30 });
  });

  it('never says 100% before it is done, though a compressed file is read well ahead of its rows', async () => {
    const content = Array.from({ length: 20_000 }, (_, i) => eventLine(i)).join('\n');
    const seen: { percent: number; read: number; total: number; rows: number }[] = [];
    const summary = await run('events', await file('ahead.jsonl.gz', gzipSync(content)), {
      batchSize: 500,
      progressIntervalMs: 0,
      onProgress: (p) =>
        seen.push({ percent: p.percent, read: p.bytesRead, total: p.bytesTotal, rows: p.rows }),
    });
    expect(summary.stored).toBe(20_000);
    expect(seen.length).toBeGreaterThan(1);
    for (const p of seen) expect(p.percent).toBeLessThanOrEqual(99);
    // The whole file was read while rows were still to come: by bytes alone, 100% early.
    expect(seen.some((p) => p.read === p.total && p.rows < 20_000)).toBe(true);
  });

  it('fails with an InputError on a truncated gzip file, keeping the batches already written', async () => {
    const content = Array.from({ length: 5000 }, (_, i) => eventLine(i)).join('\n');
    const gz = gzipSync(content);
    const path = await file('cut.jsonl.gz', gz.subarray(0, gz.length - 200));
    await expect(run('events', path, { batchSize: 100 })).rejects.toThrow(/gzip file complete/);
    const n = (await store.stats()).events;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(5000);
    expect(n % 100).toBe(0);
  });

  it('caps the listed errors and counts the rest', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => eventLine(i, { type: 'nope' }));
    const s = await run('events', await file('many-bad.jsonl', lines.join('\n')), { maxErrors: 5 });
    expect(s.rejected).toBe(12);
    expect(s.errors).toHaveLength(5);
    expect(s.errorsOmitted).toBe(7);
  });

  it('rejects a CSV row with the wrong number of fields and an unterminated quote', async () => {
    const csv = `${CSV_HEADER}\nc1,view,u1,,i1,,,${T0}\nc2,view,u1,,i1,,,${T0},"open\nc3,view,u1,,i1,,,${T0},`;
    const s = await run('events', await file('fields.csv', csv));
    expect(s.errors).toEqual([
      { line: 2, field: '(record)', reason: 'has 8 fields but the header has 9' },
      { line: 3, field: '(record)', reason: 'has an unterminated quoted field' },
    ]);
  });

  it('refuses a file whose format cannot be told from its name, and a missing file', async () => {
    await expect(run('events', await file('events.txt', 'x'))).rejects.toThrow(/pass --format/);
    await expect(run('events', join(dir, 'missing.csv'))).rejects.toThrow(InputError);
  });
});

describe('importFile: items and users', () => {
  const ITEMS = [
    'itemId,title,categories,price,currency,stock,status,publishedAt,repurchasable,attributes.color,supplier',
    `m1,"Mug, ""large""\nsecond line",Home > Kitchen > Mugs|Gifts>Mugs,12.5,EUR,3,active,${T0},true,red,acme`,
    `m2,Plate,Home > Kitchen,4,EUR,0,delisted,,false,,acme`,
    `m3,,Home,1,EUR,,,,,,acme`,
    `m4,Bowl,Home,-2,EUR,,,,,,acme`,
  ].join('\n');

  it('imports CSV items with quoted newlines, category lists and attribute columns', async () => {
    const path = await file('items.csv', ITEMS);
    const s = await run('items', path, { now: T0 + 1 });
    expect(s).toMatchObject({ rows: 4, stored: 2, duplicates: 0, rejected: 2, ignoredColumns: ['supplier'] });
    // The row after a record spanning two lines reports its own physical line.
    expect(s.errors).toEqual([
      { line: 5, field: 'title', reason: 'is required for a new item' },
      { line: 6, field: 'price', reason: 'must be at least 0' },
    ]);
    expect(await store.getItem('m1')).toEqual({
      itemId: 'm1',
      title: 'Mug, "large"\nsecond line',
      categories: ['Home > Kitchen > Mugs', 'Gifts > Mugs'],
      price: 12.5,
      currency: 'EUR',
      stock: 3,
      status: 'active',
      publishedAt: T0,
      repurchasable: true,
      attributes: { color: 'red' },
    });
    expect(await store.getItem('m2')).toMatchObject({ status: 'delisted', stock: 0, publishedAt: T0 + 1 });
  });

  it('re-importing items and users writes nothing and reports duplicates; a changed row is stored', async () => {
    const path = await file('items.csv', ITEMS);
    await run('items', path);
    expect(await run('items', path)).toMatchObject({ stored: 0, duplicates: 2 });
    const published = (await store.getItem('m2'))!.publishedAt;
    const changed = await file('items.csv', ITEMS.replace('Plate', 'Dinner plate'));
    // A later file (another `now`): m2 gives no publishedAt and keeps the stored one, not the
    // file's time, which would make every item of a re-sent catalogue a new arrival.
    expect(await run('items', changed, { now: published + 86_400_000 })).toMatchObject({
      stored: 1,
      duplicates: 1,
    });
    expect(await store.getItem('m2')).toMatchObject({ title: 'Dinner plate', publishedAt: published });
    // A price-only feed changes the price; the rest is the catalogue's (seen in a trial: the
    // sold-out, delisted plate was back in every tier, its categories gone).
    const before = (await store.getItems(['m1', 'm2'])) as [Item, Item];
    const feed = await file('prices.csv', 'itemId,title,price\nm1,Mug,13\nm2,Dinner plate,4.5\n');
    expect(await run('items', feed)).toMatchObject({ stored: 2, duplicates: 0 });
    expect(await store.getItems(['m1', 'm2'])).toEqual([
      { ...before[0], title: 'Mug', price: 13 },
      { ...before[1], price: 4.5 },
    ]);
    expect(before[1]).toMatchObject({ status: 'delisted', stock: 0, categories: ['Home > Kitchen'] });
    expect(before[0]).toMatchObject({ stock: 3, repurchasable: true, attributes: { color: 'red' } });
    // A file naming an item twice applies its rows in order, whatever the batch size: the stock
    // of the first row stays, the price of the second is taken (one batch put the stored stock
    // back); the repeated row is counted.
    const twice = await file('twice.csv', 'itemId,title,stock,price\nm1,Mug,0,\nm1,Mug,,14\n');
    for (const batchSize of [5000, 1]) {
      await store.upsertItems([before[0]]);
      const summary = await run('items', twice, { batchSize });
      expect(await store.getItem('m1'), `batch ${batchSize}`).toMatchObject({ stock: 0, price: 14 });
      if (batchSize > 1)
        expect(summary).toMatchObject({ rows: 2, stored: 1, counts: { repeatedItemRows: 1 } });
    }
    // A price-only feed needs no titles: a stored item keeps its own, a new one is refused by line.
    const prices = await file('only-prices.csv', 'itemId,price\nm1,15\nm9,2\n');
    expect(await run('items', prices)).toMatchObject({
      rows: 2,
      stored: 1,
      rejected: 1,
      errors: [{ line: 3, field: 'title', reason: 'is required for a new item' }],
    });
    expect(await store.getItem('m1')).toMatchObject({ title: 'Mug', price: 15, stock: 0 });
    expect(await store.getItem('m9')).toBeNull();

    const users = await file(
      'users.jsonl',
      [
        JSON.stringify({
          userId: 'u1',
          attributes: { tier: 'gold', since: 2020 },
          consent: { personalization: false },
        }),
        JSON.stringify({ userId: 'u2', createdAt: T0 }),
      ].join('\n'),
    );
    expect(await run('users', users)).toMatchObject({ stored: 2, duplicates: 0 });
    expect(await run('users', users)).toMatchObject({ stored: 0, duplicates: 2 });
    expect(await store.getUser('u1')).toMatchObject({
      consent: { personalization: false },
      attributes: { tier: 'gold', since: 2020 },
    });
  });

  it('imports CSV users with consent and attributes, and a JSON attributes column', async () => {
    const csv = [
      'userId,createdAt,consent.personalization,attributes,attributes.segment',
      `v1,${T0},false,"{""age"":31}",new`,
      'v2,,true,,',
      'v3,,maybe,,',
      'someone@example.com,,,,',
    ].join('\n');
    const s = await run('users', await file('users.csv', csv), { now: T0 + 5 });
    expect(s).toMatchObject({ stored: 2, rejected: 2 });
    expect(s.errors.map((e) => [e.line, e.field])).toEqual([
      [4, 'consent.personalization'],
      [5, 'userId'],
    ]);
    expect(await store.getUser('v1')).toEqual({
      userId: 'v1',
      attributes: { age: 31, segment: 'new' },
      createdAt: T0,
      consent: { personalization: false },
    });
    expect(await store.getUser('v2')).toMatchObject({
      createdAt: T0 + 5,
      consent: { personalization: true },
    });
  });

  it('refuses a CSV header with no known column', async () => {
    await expect(run('items', await file('bad-header.csv', 'foo,bar\n1,2\n'))).rejects.toThrow(
      /no CSV column/,
    );
  });
});
