import { describe, expect, it } from 'vitest';
import { CsvReader, parseCsv } from '../../../training/datasets/csv-reader.ts';

const SAMPLE =
  'InvoiceNo,StockCode,Description\r\n' +
  '536365,85123A,"WHITE HANGING HEART, T-LIGHT"\r\n' +
  '536366,22633,"HAND WARMER ""UNION JACK"""\n' +
  '536367,84879,"TWO\nLINES"\r' +
  '536368,,\n' +
  '\n' +
  '536369,22752,"SET 7 BABUSHKA"';

const EXPECTED = [
  ['InvoiceNo', 'StockCode', 'Description'],
  ['536365', '85123A', 'WHITE HANGING HEART, T-LIGHT'],
  ['536366', '22633', 'HAND WARMER "UNION JACK"'],
  ['536367', '84879', 'TWO\nLINES'],
  ['536368', '', ''],
  ['536369', '22752', 'SET 7 BABUSHKA'],
];

describe('CsvReader', () => {
  it('reads quoted commas, doubled quotes, line breaks in quotes, CRLF/CR/LF and skips blank lines', () => {
    expect(parseCsv(SAMPLE)).toEqual(EXPECTED);
  });

  it('gives the same records whichever way the text is cut into chunks', () => {
    for (let cut = 0; cut <= SAMPLE.length; cut++) {
      const records: string[][] = [];
      const reader = new CsvReader((r) => records.push(r));
      reader.push(SAMPLE.slice(0, cut));
      reader.push(SAMPLE.slice(cut));
      reader.end();
      expect(records, `cut at ${cut}`).toEqual(EXPECTED);
    }
    // One character at a time.
    const records: string[][] = [];
    const reader = new CsvReader((r) => records.push(r));
    for (const ch of SAMPLE) reader.push(ch);
    reader.end();
    expect(records).toEqual(EXPECTED);
  });

  it('keeps a quoted empty field and a trailing empty field', () => {
    expect(parseCsv('a,"",c\nx,y,\n')).toEqual([
      ['a', '', 'c'],
      ['x', 'y', ''],
    ]);
  });

  it('throws when the input ends inside a quoted field', () => {
    expect(() => parseCsv('a,"open\n')).toThrow(SyntaxError);
  });
});
