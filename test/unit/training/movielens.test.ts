import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMovieLens100k, parseMovieLens100k } from '../../../training/datasets/movielens.ts';

const flags = (on: number[]) => Array.from({ length: 19 }, (_, g) => (on.includes(g) ? '1' : '0')).join('|');
const U_DATA = ['10\t2\t5\t881250949', '3\t1\t3\t891717742', '10\t1\t1\t878887116', ''].join('\n');
const U_ITEM = [
  `1|Toy Story (1995)|01-Jan-1995||http://x|${flags([3, 4, 5])}`,
  `2|Misérables, Les (1995)|01-Jan-1995||http://y|${flags([8])}`,
  `3|Never Rated (1995)|01-Jan-1995||http://z|${flags([0])}`,
].join('\n');

describe('parseMovieLens100k', () => {
  it('indexes users and items by numeric id and keeps every rating as an interaction', async () => {
    const ds = await parseMovieLens100k([U_DATA], [U_ITEM]);
    expect(ds.userIds).toEqual(['3', '10']);
    expect(ds.itemIds).toEqual(['1', '2']);
    expect(Array.from(ds.users)).toEqual([1, 0, 1]);
    expect(Array.from(ds.items)).toEqual([1, 0, 0]);
    expect(Array.from(ds.values)).toEqual([5, 3, 1]);
    expect(Array.from(ds.timestamps)).toEqual([881250949, 891717742, 878887116]);
    expect(ds.itemTitles).toEqual(['Toy Story (1995)', 'Misérables, Les (1995)']);
    expect(ds.itemCategories).toEqual([['Animation', "Children's", 'Comedy'], ['Drama']]);
  });

  it('rejects a malformed ratings line', async () => {
    await expect(parseMovieLens100k(['1\t2\t3\n'], [U_ITEM])).rejects.toThrow(/u.data line 1/);
    await expect(parseMovieLens100k(['\n1\t2\tx\t5\n'], [U_ITEM])).rejects.toThrow(/u.data line 2/);
  });

  it('reads u.item as Latin-1 from disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shelf-ml-'));
    try {
      mkdirSync(join(dir, 'movielens-100k'));
      writeFileSync(join(dir, 'movielens-100k', 'u.data'), U_DATA);
      writeFileSync(join(dir, 'movielens-100k', 'u.item'), Buffer.from(U_ITEM, 'latin1'));
      const ds = await loadMovieLens100k(dir);
      expect(ds.itemTitles[1]).toBe('Misérables, Les (1995)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
