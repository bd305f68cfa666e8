import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../src/errors.ts';
import type { InteractionDataset } from './interaction-dataset.ts';
import { MOVIELENS_GENRES } from '../../src/store/import/movielens-mapper.ts';

/** Folder of MovieLens 100K inside the datasets folder. */
export const MOVIELENS_100K_DIR = 'movielens-100k';

/** Genre flags of `u.item`, in file order (same as `u.genre`). */
/** The genre flags' order in `u.item` (shared with the store importer). */
export { MOVIELENS_GENRES };

/** Reads `u.data` (UTF-8/ASCII) and `u.item` (Latin-1) from `<datasetsDir>/movielens-100k/`. */
export async function loadMovieLens100k(datasetsDir: string): Promise<InteractionDataset> {
  const dir = join(datasetsDir, MOVIELENS_100K_DIR);
  const [ratings, movies] = await Promise.all([
    readText(join(dir, 'u.data'), 'utf8'),
    readText(join(dir, 'u.item'), 'latin1'),
  ]);
  return parseMovieLens100k(ratings, movies);
}

/**
 * Builds the dataset from the text of `u.data` (`user \t item \t rating \t unixSeconds`) and
 * `u.item` (`id|title|release|video|url|19 genre flags`). Every rating is a positive
 * interaction (value = the rating). User and item indices follow the numeric ids ascending,
 * so "ties by item id" in the split is "ties by item index". Only rated items are indexed.
 */
export function parseMovieLens100k(ratingsText: string, itemsText: string): InteractionDataset {
  const rawUsers: number[] = [];
  const rawItems: number[] = [];
  const rawTimes: number[] = [];
  const rawValues: number[] = [];
  let lineNo = 0;
  for (const line of ratingsText.split('\n')) {
    lineNo++;
    if (line.trim() === '') continue;
    const parts = line.split('\t');
    const [u, i, r, t] = parts.map(Number) as [number, number, number, number];
    if (parts.length !== 4 || ![u, i, r, t].every(Number.isFinite)) {
      throw new InputError(`movielens u.data line ${lineNo}: expected 4 numeric tab-separated fields`);
    }
    rawUsers.push(u);
    rawItems.push(i);
    rawValues.push(r);
    rawTimes.push(t);
  }
  const userIdsNum = [...new Set(rawUsers)].sort((a, b) => a - b);
  const itemIdsNum = [...new Set(rawItems)].sort((a, b) => a - b);
  const userIndex = new Map(userIdsNum.map((id, k) => [id, k]));
  const itemIndex = new Map(itemIdsNum.map((id, k) => [id, k]));

  const titles = new Map<number, string>();
  const genres = new Map<number, string[]>();
  for (const line of itemsText.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.replace(/\r$/, '').split('|');
    const id = Number(f[0]);
    if (!Number.isFinite(id)) continue;
    titles.set(id, f[1] ?? '');
    const flags = f.slice(f.length - MOVIELENS_GENRES.length);
    genres.set(
      id,
      MOVIELENS_GENRES.filter((_, g) => flags[g] === '1'),
    );
  }

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

async function readText(path: string, encoding: BufferEncoding): Promise<string> {
  const parts: string[] = [];
  const stream = createReadStream(path, { encoding });
  for await (const chunk of stream as AsyncIterable<string>) parts.push(chunk);
  return parts.join('');
}
