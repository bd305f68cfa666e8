import { join } from 'node:path';
import type { FieldError } from '../../src/errors.ts';
import { InputError } from '../../src/errors.ts';
import { parseMovieLensMovie, parseMovieLensRating } from '../../src/store/import/movielens-mapper.ts';
import { openInput } from '../../src/store/import/open-input.ts';
import type { RecordChunks } from '../../src/store/import/record-splitter.ts';
import { splitRecords } from '../../src/store/import/record-splitter.ts';
import type { ImportEncoding } from '../../src/store/import/types.ts';
import type { InteractionDataset } from './interaction-dataset.ts';

/** Folder of MovieLens 100K inside the datasets folder. */
export const MOVIELENS_100K_DIR = 'movielens-100k';

/** Reads `u.data` (UTF-8/ASCII) and `u.item` (Latin-1) from `<datasetsDir>/movielens-100k/`. */
export async function loadMovieLens100k(datasetsDir: string): Promise<InteractionDataset> {
  const dir = join(datasetsDir, MOVIELENS_100K_DIR);
  const [ratings, movies] = await Promise.all([
    openInput(join(dir, 'u.data')),
    openInput(join(dir, 'u.item')),
  ]);
  try {
    return await parseMovieLens100k(ratings.stream, movies.stream);
  } finally {
    ratings.stream.destroy();
    movies.stream.destroy();
  }
}

/**
 * Builds the dataset from `u.data` (`user \t item \t rating \t unixSeconds`, UTF-8) and
 * `u.item` (`id|title|release|video|url|19 genre flags`, Latin-1), bytes or text in chunks,
 * read with the importer's line parsers. Every rating is a positive interaction (value = the
 * rating). User and item indices follow the numeric ids ascending, so "ties by item id" in the
 * split is "ties by item index". Only rated items are indexed. A line the importer would reject
 * fails the load.
 */
export async function parseMovieLens100k(
  ratingsChunks: RecordChunks,
  itemsChunks: RecordChunks,
): Promise<InteractionDataset> {
  const rawUsers: number[] = [];
  const rawItems: number[] = [];
  const rawTimes: number[] = [];
  const rawValues: number[] = [];
  const errors: FieldError[] = [];
  await eachLine(ratingsChunks, 'utf-8', 'u.data', (text) => {
    errors.length = 0;
    const r = parseMovieLensRating(text, errors);
    const [u, i, v] = r ? [Number(r.userId), Number(r.itemId), Number(r.rating)] : [NaN, NaN, NaN];
    if (r === null || r.seconds === null || ![u, i, v].every(Number.isFinite)) {
      const why = errors.map((e) => `${e.field} ${e.reason}`).join('; ');
      return `expected 4 numeric tab-separated fields${why ? ` (${why})` : ''}`;
    }
    rawUsers.push(u);
    rawItems.push(i);
    rawValues.push(v);
    rawTimes.push(r.seconds);
    return null;
  });
  const userIdsNum = [...new Set(rawUsers)].sort((a, b) => a - b);
  const itemIdsNum = [...new Set(rawItems)].sort((a, b) => a - b);
  const userIndex = new Map(userIdsNum.map((id, k) => [id, k]));
  const itemIndex = new Map(itemIdsNum.map((id, k) => [id, k]));

  const titles = new Map<number, string>();
  const genres = new Map<number, string[]>();
  await eachLine(itemsChunks, 'latin1', 'u.item', (text) => {
    errors.length = 0;
    const m = parseMovieLensMovie(text, errors);
    if (m === null || errors.length) return errors.map((e) => `${e.field} ${e.reason}`).join('; ');
    const id = Number(m.itemId);
    titles.set(id, m.title);
    genres.set(id, m.genres);
    return null;
  });

  const n = rawUsers.length;
  const users = new Int32Array(n);
  const items = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    users[k] = userIndex.get(rawUsers[k]!)!;
    items[k] = itemIndex.get(rawItems[k]!)!;
  }
  return {
    name: 'movielens-100k',
    userCount: userIdsNum.length,
    itemCount: itemIdsNum.length,
    users,
    items,
    timestamps: Float64Array.from(rawTimes),
    values: Float32Array.from(rawValues),
    userIds: userIdsNum.map(String),
    itemIds: itemIdsNum.map(String),
    itemTitles: itemIdsNum.map((id) => titles.get(id) ?? ''),
    itemCategories: itemIdsNum.map((id) => genres.get(id) ?? []),
  };
}

/** Hands each line to `read`, which returns why it is unusable or null; a bad line fails the load. */
async function eachLine(
  chunks: RecordChunks,
  encoding: ImportEncoding,
  file: string,
  read: (text: string) => string | null,
): Promise<void> {
  const fail = (line: number, reason: string) => {
    throw new InputError(`movielens ${file} line ${line}: ${reason}`);
  };
  await splitRecords(
    chunks,
    { quoted: false, encoding },
    {
      record(text, line) {
        const reason = read(text);
        if (reason !== null) fail(line, reason);
      },
      invalid: fail,
    },
  );
}
