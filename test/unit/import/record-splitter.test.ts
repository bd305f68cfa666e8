import { describe, expect, it } from 'vitest';
import { splitCsvFields } from '../../../src/store/import/csv-fields.ts';
import {
  describeInvalidUtf8,
  RecordSplitter,
  splitRecords,
} from '../../../src/store/import/record-splitter.ts';
import type { RecordSplitterOptions } from '../../../src/store/import/record-splitter.ts';

type Out = { line: number; text?: string; invalid?: string };

function split(input: Buffer | string, options: Partial<RecordSplitterOptions> = {}, chunk = 1 << 16) {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const splitter = new RecordSplitter({ quoted: false, encoding: 'utf-8', ...options });
  const out: Out[] = [];
  const handler = {
    record: (text: string, line: number) => out.push({ line, text }),
    invalid: (line: number, reason: string) => out.push({ line, invalid: reason }),
  };
  for (let i = 0; i < bytes.length; i += chunk) {
    // A fresh buffer per chunk, as fs and zlib streams deliver them.
    splitter.push(Buffer.from(bytes.subarray(i, i + chunk)), handler);
  }
  splitter.end(handler);
  return { out, splitter };
}

describe('RecordSplitter', () => {
  it('splits lines, drops CR and blank lines, keeps physical line numbers, flushes a last line without newline', () => {
    const { out } = split('a\nb\r\n\n  \nc');
    expect(out).toEqual([
      { line: 1, text: 'a' },
      { line: 2, text: 'b' },
      { line: 5, text: 'c' },
    ]);
  });

  it('gives the same records whatever the chunk boundaries', () => {
    const input = 'id,title\n1,"a\nb"\n2,"x,""y"""\r\n3,plain\n';
    const whole = split(input, { quoted: true }).out;
    expect(whole).toEqual([
      { line: 1, text: 'id,title' },
      { line: 2, text: '1,"a\nb"' },
      { line: 4, text: '2,"x,""y"""' },
      { line: 5, text: '3,plain' },
    ]);
    for (const chunk of [1, 2, 3, 5, 7]) expect(split(input, { quoted: true }, chunk).out).toEqual(whole);
  });

  it('decodes multi-byte UTF-8 split across chunks', () => {
    const input = 'café,€\n😀,"ü\nß"\n';
    const whole = split(input, { quoted: true }).out;
    expect(whole).toEqual([
      { line: 1, text: 'café,€' },
      { line: 2, text: '😀,"ü\nß"' },
    ]);
    for (const chunk of [1, 2, 3, 5]) expect(split(input, { quoted: true }, chunk).out).toEqual(whole);
  });

  it('outside CSV mode a quote does not hold a newline', () => {
    expect(split('{"a":"x\n1\n', { quoted: false }).out.map((o) => o.line)).toEqual([1, 2]);
  });

  it('rejects an over-long record without holding it, and resumes at the next newline', () => {
    const long = 'x'.repeat(10 * 1024 * 1024);
    const { out, splitter } = split(`ok\n${long}\nnext\n`, {}, 64 * 1024);
    expect(out).toEqual([
      { line: 1, text: 'ok' },
      { line: 2, invalid: expect.stringContaining(`longer than ${1024 * 1024} bytes`) },
      { line: 3, text: 'next' },
    ]);
    expect(splitter.maxBuffered).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
  });

  it('rejects an over-long record that ends inside the chunk where it overflows', () => {
    const { out } = split(`${'y'.repeat(50)}\nfine\n`, { maxRecordBytes: 10 });
    expect(out).toEqual([
      { line: 1, invalid: expect.stringContaining('longer than 10 bytes') },
      { line: 2, text: 'fine' },
    ]);
  });

  it('in CSV mode an unterminated quote is cut at the cap and counted lines stay right', () => {
    const input = `a,"never closed\n${'z\n'.repeat(20)}b\n`;
    const { out } = split(input, { quoted: true, maxRecordBytes: 30 }, 8);
    expect(out[0]).toEqual({ line: 1, invalid: expect.stringContaining('unterminated quoted field') });
    // Everything after the overflow point up to the next newline is dropped; later lines keep their numbers.
    const b = out.find((o) => o.text === 'b');
    expect(b?.line).toBe(22);
  });

  it('rejects invalid UTF-8 naming the encoding and the Latin-1 option; latin1 decodes it', () => {
    const bytes = Buffer.concat([Buffer.from('ok\ncaf'), Buffer.from([0xe9]), Buffer.from('\nend\n')]);
    const utf8 = split(bytes).out;
    expect(utf8[1]).toEqual({
      line: 2,
      invalid: expect.stringMatching(/not valid UTF-8.*0xE9 at offset 3.*--encoding latin1/),
    });
    expect(utf8[2]).toEqual({ line: 3, text: 'end' });
    expect(split(bytes, { encoding: 'latin1' }).out[1]).toEqual({ line: 2, text: 'café' });
  });

  it('strips a UTF-8 byte order mark', () => {
    expect(split(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id\n1\n')])).out[0]).toEqual({
      line: 1,
      text: 'id',
    });
  });
});

describe('splitRecords with splitCsvFields (the one CSV reader of imports and evaluation loaders)', () => {
  const SAMPLE =
    'InvoiceNo,StockCode,Description\r\n' +
    '536365,85123A,"WHITE HANGING HEART, T-LIGHT"\r\n' +
    '536366,22633,"HAND WARMER ""UNION JACK"""\n' +
    '536367,84879,"TWO\nLINES"\r\n' +
    '536368,,\n' +
    '\n' +
    '536369,22752,"SET 7 BABUSHKA"';
  const EXPECTED = [
    { line: 1, fields: ['InvoiceNo', 'StockCode', 'Description'] },
    { line: 2, fields: ['536365', '85123A', 'WHITE HANGING HEART, T-LIGHT'] },
    { line: 3, fields: ['536366', '22633', 'HAND WARMER "UNION JACK"'] },
    { line: 4, fields: ['536367', '84879', 'TWO\nLINES'] },
    { line: 6, fields: ['536368', '', ''] },
    { line: 8, fields: ['536369', '22752', 'SET 7 BABUSHKA'] },
  ];

  async function read(chunks: (string | Uint8Array)[]) {
    const out: { line: number; fields: string[] | null }[] = [];
    await splitRecords(
      chunks,
      { quoted: true, encoding: 'utf-8' },
      {
        record: (text, line) => out.push({ line, fields: splitCsvFields(text) }),
        invalid: (line, reason) => {
          throw new Error(`line ${line} ${reason}`);
        },
      },
    );
    return out;
  }

  it('reads quoted commas, doubled quotes, line breaks in quotes, CRLF/LF, skips blank lines, keeps line numbers', async () => {
    expect(await read([SAMPLE])).toEqual(EXPECTED);
  });

  it('gives the same records whichever way the text is cut into chunks (text or bytes)', async () => {
    for (let cut = 0; cut <= SAMPLE.length; cut++) {
      expect(await read([SAMPLE.slice(0, cut), SAMPLE.slice(cut)]), `cut at ${cut}`).toEqual(EXPECTED);
    }
    expect(await read([...SAMPLE])).toEqual(EXPECTED);
    const bytes = Buffer.from(SAMPLE);
    expect(await read([...bytes].map((b) => Uint8Array.of(b)))).toEqual(EXPECTED);
  });

  it('keeps a quoted empty field and a trailing empty field', async () => {
    expect((await read(['a,"",c\nx,y,\n'])).map((r) => r.fields)).toEqual([
      ['a', '', 'c'],
      ['x', 'y', ''],
    ]);
  });

  it('reports a quoted field left open at the end of the input', async () => {
    expect((await read(['a,"open\n'])).map((r) => r.fields)).toEqual([null]);
  });

  it('encodes text chunks in the chosen encoding', async () => {
    const out: string[] = [];
    await splitRecords(
      ['café\n'],
      { quoted: false, encoding: 'latin1' },
      {
        record: (text) => out.push(text),
        invalid: () => {},
      },
    );
    expect(out).toEqual(['café']);
  });
});

describe('describeInvalidUtf8', () => {
  it.each([
    [[0x61, 0xc0, 0x80], 1, '0xC0'], // overlong
    [[0x61, 0x62, 0xed, 0xa0, 0x80], 2, '0xED'], // surrogate
    [[0xe2, 0x82], 0, '0xE2'], // truncated
    [[0xc3, 0xa9, 0xff], 2, '0xFF'],
  ])('finds the first bad byte of %j', (bytes, offset, hex) => {
    expect(describeInvalidUtf8(Uint8Array.from(bytes))).toContain(`byte ${hex} at offset ${offset}`);
  });
});
