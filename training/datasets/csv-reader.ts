/**
 * Incremental RFC 4180 CSV reader: feed text in chunks of any size (a chunk may end inside a
 * quoted field or between `\r` and `\n`), get one `string[]` per record. Quoted fields may hold
 * commas, doubled quotes (`""` → `"`) and line breaks. Records end at `\n`, `\r\n` or `\r`;
 * blank lines are skipped.
 */
export class CsvReader {
  private field = '';
  private fields: string[] = [];
  private inQuotes = false;
  /** The previous chunk ended on a quote inside a quoted field: `"` + next char decides. */
  private pendingQuote = false;
  /** The previous chunk ended on `\r`: a leading `\n` in the next chunk belongs to it. */
  private pendingCr = false;
  /** A field was started on the current record (so an empty last field still counts). */
  private started = false;

  constructor(private readonly onRecord: (fields: string[]) => void) {}

  push(chunk: string): void {
    const n = chunk.length;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (n > 0 && chunk.charCodeAt(0) === LF) i = 1;
    }
    while (i < n) {
      if (this.inQuotes) {
        if (this.pendingQuote) {
          this.pendingQuote = false;
          if (chunk.charCodeAt(i) === QUOTE) {
            this.field += '"';
            i++;
            continue;
          }
          this.inQuotes = false;
          continue;
        }
        const q = chunk.indexOf('"', i);
        if (q < 0) {
          this.field += chunk.slice(i);
          return;
        }
        this.field += chunk.slice(i, q);
        if (q + 1 >= n) {
          this.pendingQuote = true;
          return;
        }
        if (chunk.charCodeAt(q + 1) === QUOTE) {
          this.field += '"';
          i = q + 2;
        } else {
          this.inQuotes = false;
          i = q + 1;
        }
        continue;
      }
      const c = chunk.charCodeAt(i);
      if (c === COMMA) {
        this.fields.push(this.field);
        this.field = '';
        this.started = true;
        i++;
      } else if (c === LF || c === CR) {
        this.endRecord();
        i++;
        if (c === CR) {
          if (i >= n) this.pendingCr = true;
          else if (chunk.charCodeAt(i) === LF) i++;
        }
      } else if (c === QUOTE && this.field === '') {
        this.inQuotes = true;
        this.started = true;
        i++;
      } else {
        // Unquoted run up to the next delimiter.
        let j = i + 1;
        while (j < n) {
          const d = chunk.charCodeAt(j);
          if (d === COMMA || d === LF || d === CR) break;
          j++;
        }
        this.field += chunk.slice(i, j);
        this.started = true;
        i = j;
      }
    }
  }

  /** Flushes the last record when the input does not end with a line break. */
  end(): void {
    if (this.pendingQuote) {
      this.pendingQuote = false;
      this.inQuotes = false;
    }
    if (this.inQuotes) throw new SyntaxError('CSV input ends inside a quoted field');
    this.endRecord();
  }

  private endRecord(): void {
    if (!this.started && this.field === '' && this.fields.length === 0) return;
    this.fields.push(this.field);
    const record = this.fields;
    this.fields = [];
    this.field = '';
    this.started = false;
    this.onRecord(record);
  }
}

/** Parses a whole CSV text into records (see {@link CsvReader}). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  const reader = new CsvReader((r) => records.push(r));
  reader.push(text);
  reader.end();
  return records;
}

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;
