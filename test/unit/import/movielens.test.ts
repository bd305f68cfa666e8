import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importFile } from '../../../src/store/import/import-file.ts';
import { parseMovieLensDate } from '../../../src/store/import/movielens-mapper.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Item, Store } from '../../../src/store/types.ts';

const FLAGS = (on: number[]) => Array.from({ length: 19 }, (_, g) => (on.includes(g) ? '1' : '0')).join('|');
const U_ITEM = Buffer.concat([
  Buffer.from(
    `1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|${FLAGS([3, 4, 5])}\n`,
  ),
  Buffer.from('2|Mis'),
  Buffer.from([0xe9]), // Latin-1 é
  Buffer.from(`rables (1995)|01-Jan-1995|||${FLAGS([8])}\n`),
  Buffer.from(`3|Casablanca (1942)|01-Jan-1942|||${FLAGS([8, 14, 17])}\n`),
  Buffer.from(`267|unknown||||${FLAGS([0])}\n`),
  Buffer.from(`5|Broken (1995)|32-Jan-1995|||${FLAGS([2])}\n`),
  Buffer.from('6|Short line|01-Jan-1995\n'),
]);
const U_USER = '1|24|M|technician|85711\n2|53|F|other|94043\n3|old|M|writer|32067\n';
const U_DATA = '196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\tone\t878887116\n5\t6\t4\t12:00\n';

let dir: string;
let store: Store;
const MTIME = Date.UTC(2020, 5, 1);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shelf-ml-'));
  await writeFile(join(dir, 'u.item'), U_ITEM);
  await writeFile(join(dir, 'u.user'), U_USER);
  await writeFile(join(dir, 'u.data'), U_DATA);
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

describe('MovieLens import', () => {
  it('maps u.item (Latin-1) to items with genre categories and release dates', async () => {
    const s = await importFile(store, { kind: 'items', file: join(dir, 'u.item'), now: MTIME });
    expect(s).toMatchObject({ format: 'movielens', encoding: 'latin1', rows: 6, stored: 4, rejected: 2 });
    expect(s.counts).toEqual({});
    expect(s.errors).toEqual([
      { line: 5, field: 'publishedAt', reason: 'must be a date like 01-Jan-1995, got "32-Jan-1995"' },
      { line: 6, field: '(record)', reason: 'has 3 |-separated fields, expected 24' },
    ]);
    expect(await store.getItem('1')).toEqual({
      itemId: '1',
      title: 'Toy Story (1995)',
      categories: ['Movies > Animation', "Movies > Children's", 'Movies > Comedy'],
      status: 'active',
      publishedAt: Date.UTC(1995, 0, 1),
      repurchasable: false,
      attributes: {
        releaseDate: '1995-01-01',
        imdbUrl: 'http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)',
      },
    });
    expect((await store.getItem('2'))?.title).toBe('Misérables (1995)');
    expect(await store.getItem('3')).toMatchObject({
      publishedAt: Date.UTC(1942, 0, 1),
      attributes: { releaseDate: '1942-01-01' },
    });
    expect(await store.getItem('267')).toMatchObject({
      categories: ['Movies'],
      publishedAt: MTIME,
      attributes: {},
    });
  });

  // Seen in a trial: a catalogue's re-import reset what the file does not say.
  it('keeps what u.item does not say of a stored movie: stock, status, price, repurchasable, an unknown date', async () => {
    await importFile(store, { kind: 'items', file: join(dir, 'u.item'), now: MTIME });
    const [toy, unknown] = (await store.getItems(['1', '267'])) as [Item, Item];
    const shop = [
      { ...toy, stock: 0, price: 4, repurchasable: true },
      { ...unknown, status: 'delisted' as const },
    ];
    await store.upsertItems(shop);
    const again = await importFile(store, {
      kind: 'items',
      file: join(dir, 'u.item'),
      now: MTIME + 86_400_000,
    });
    expect(again).toMatchObject({ stored: 0, duplicates: 4 });
    expect(await store.getItems(['1', '267'])).toEqual(shop);
  });

  it('maps u.user to users without the zip code', async () => {
    const s = await importFile(store, { kind: 'users', file: join(dir, 'u.user'), now: MTIME });
    expect(s).toMatchObject({ stored: 2, rejected: 1 });
    expect(s.errors).toEqual([
      { line: 3, field: 'attributes.age', reason: 'must be a whole number, got "old"' },
    ]);
    expect(await store.getUser('2')).toEqual({
      userId: '2',
      attributes: { age: 53, gender: 'F', occupation: 'other' },
      createdAt: MTIME,
      consent: { personalization: true },
    });
  });

  it('maps u.data to rating events (a directory resolves to u.data) and re-imports as duplicates', async () => {
    const s = await importFile(store, { kind: 'events', file: dir });
    expect(s).toMatchObject({ file: join(dir, 'u.data'), stored: 2, rejected: 2 });
    expect(s.errors).toEqual([
      { line: 3, field: 'value', reason: 'must be a number, got "one"' },
      { line: 4, field: 'timestamp', reason: 'must be epoch seconds, got "12:00"' },
    ]);
    const recent = await store.recentEvents('196', 5);
    expect(recent).toEqual([
      {
        eventId: 'ml-196-242',
        type: 'rating',
        userId: '196',
        itemId: '242',
        value: 3,
        timestamp: 881250949000,
      },
    ]);
    expect(await importFile(store, { kind: 'events', file: dir })).toMatchObject({
      stored: 0,
      duplicates: 2,
    });
  });

  it('refuses a MovieLens file of another kind', async () => {
    await expect(importFile(store, { kind: 'users', file: join(dir, 'u.item') })).rejects.toThrow(
      /u\.item is not a MovieLens users file/,
    );
  });

  it('parses release dates', () => {
    expect(parseMovieLensDate('16-Feb-1996')).toBe(Date.UTC(1996, 1, 16));
    expect(parseMovieLensDate('30-Feb-1996')).toBeNull();
    expect(parseMovieLensDate('1996-02-16')).toBeNull();
  });
});

const realDir = resolve(process.cwd(), '../shared/data/movielens-100k');
describe.skipIf(!existsSync(join(realDir, 'u.data')))('MovieLens 100K (real files)', () => {
  it('imports every movie, user and rating', async () => {
    const items = await importFile(store, { kind: 'items', file: realDir });
    expect(items).toMatchObject({ rows: 1682, stored: 1682, rejected: 0 });
    expect((await store.getItem('1'))?.title).toBe('Toy Story (1995)');
    const users = await importFile(store, { kind: 'users', file: realDir });
    expect(users).toMatchObject({ rows: 943, stored: 943, rejected: 0 });
    const ratings = await importFile(store, { kind: 'events', file: realDir });
    expect(ratings).toMatchObject({ rows: 100_000, stored: 100_000, rejected: 0 });
    const stats = await store.stats();
    expect(stats).toMatchObject({
      items: 1682,
      users: 943,
      events: 100_000,
      eventsByType: { rating: 100_000 },
    });
  });
});
