import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeCustomerId, parseUtcDateTime } from '../../../src/store/import/online-retail-mapper.ts';
import { loadOnlineRetail, parseOnlineRetail } from '../../../training/datasets/online-retail.ts';

const HEADER = 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n';
const ROWS = [
  // kept: user 17850, item 85123A
  '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER ,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom',
  // no customer: dropped, but its description is the first non-empty one for 22633
  '536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,United Kingdom',
  // cancellation: dropped
  'C536379,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-1,2010-12-01 09:41:00,27.5,17850.0,United Kingdom',
  // quantity 0: dropped
  '536367,84879,ASSORTED BIRD ORNAMENT,0,2010-12-01 08:34:00,1.69,13047.0,United Kingdom',
  // non-product codes: dropped
  '536370,POST,POSTAGE,3,2010-12-01 08:45:00,18,12583.0,France',
  '536370,M,Manual,1,2010-12-01 08:45:00,18,12583.0,France',
  '536370,8512,FOUR DIGITS,1,2010-12-01 08:45:00,18,12583.0,France',
  // kept: quoted description with a comma, five digits + letter suffix
  '536371,22633B,"HAND WARMER, RED",12,2010-12-02 10:00:00,2.1,13047.0,United Kingdom',
  // kept: empty description here, item 22633 (text from the dropped row above)
  '536372,22633,,2,2011-11-09 00:00:00,1.85,12583.0,France',
  // kept: second line of user 17850 for the same item
  '536373,85123A,ANOTHER NAME,1,2011-11-10 12:00:00,2.55,17850.0,United Kingdom',
].join('\n');

describe('parseOnlineRetail', () => {
  it('applies the protocol filters and maps ids, timestamps, quantities and item text', async () => {
    const ds = await parseOnlineRetail([HEADER + ROWS + '\n']);
    expect(ds.userIds).toEqual(['17850', '13047', '12583']);
    expect(ds.itemIds).toEqual(['85123A', '22633B', '22633']);
    expect(Array.from(ds.users)).toEqual([0, 1, 2, 0]);
    expect(Array.from(ds.items)).toEqual([0, 1, 2, 0]);
    expect(Array.from(ds.values)).toEqual([6, 12, 2, 1]);
    expect(ds.timestamps[0]).toBe(Date.UTC(2010, 11, 1, 8, 26) / 1000);
    expect(ds.timestamps[2]).toBe(Date.UTC(2011, 10, 9) / 1000);
    expect(ds.itemTitles).toEqual([
      'WHITE HANGING HEART T-LIGHT HOLDER',
      'HAND WARMER, RED',
      'HAND WARMER UNION JACK',
    ]);
    expect(ds.userCount).toBe(3);
    expect(ds.itemCount).toBe(3);
  });

  it('does not depend on how the stream is chunked', async () => {
    const text = HEADER + ROWS;
    const whole = await parseOnlineRetail([text]);
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += 7) chunks.push(text.slice(i, i + 7));
    const pieces = await parseOnlineRetail(chunks);
    expect(Array.from(pieces.items)).toEqual(Array.from(whole.items));
    expect(pieces.itemTitles).toEqual(whole.itemTitles);
  });

  it('finds columns by header name and rejects a file without them', async () => {
    const reordered =
      'CustomerID,UnitPrice,InvoiceDate,Quantity,StockCode,InvoiceNo,Description\n12346.0,1.04,2011-01-18 10:01:00,5,23166,541431,MUG\n';
    const ds = await parseOnlineRetail([reordered]);
    expect(ds.userIds).toEqual(['12346']);
    expect(ds.itemIds).toEqual(['23166']);
    await expect(parseOnlineRetail(['a,b\n1,2\n'])).rejects.toThrow(/missing column\(s\) InvoiceNo/);
  });

  it('normalizes customer ids and parses dates as UTC', () => {
    expect(normalizeCustomerId('17850.0')).toBe('17850');
    expect(normalizeCustomerId('17850')).toBe('17850');
    expect(normalizeCustomerId('A17')).toBe('A17');
    expect(parseUtcDateTime('2011-11-09 00:00:00')).toBe(1320796800_000);
    expect(parseUtcDateTime('09/11/2011')).toBeNull();
  });

  it('fails on a row the importer would reject, naming its line and field', async () => {
    await expect(
      parseOnlineRetail([HEADER + '536365,85123A,X,6,2010-13-01 08:26:00,2.55,17850.0,United Kingdom\n']),
    ).rejects.toThrow(/line 2: InvoiceDate must be/);
  });

  it('reads the gzipped file from disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shelf-or-'));
    try {
      mkdirSync(join(dir, 'online-retail-uci'));
      writeFileSync(join(dir, 'online-retail-uci', 'online_retail.csv.gz'), gzipSync(HEADER + ROWS));
      const ds = await loadOnlineRetail(dir);
      expect(ds.itemIds).toEqual(['85123A', '22633B', '22633']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
