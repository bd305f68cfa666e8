/**
 * Cuts a byte stream into records (lines), with constant memory: a record longer than the cap
 * is reported and skipped up to the next newline without ever being held whole. In CSV mode a
 * newline inside double quotes does not end a record. Line numbers are physical lines, so a
 * CSV record with quoted newlines reports the line it starts on and the next record's number
 * stays right.
 */
import { isUtf8 } from 'node:buffer';
import type { ImportEncoding } from './types.ts';

export interface RecordSplitterOptions {
  /** CSV: a newline inside double quotes belongs to the field. */
  quoted: boolean;
  encoding: ImportEncoding;
  /** Longest record accepted, in bytes (newline excluded). @defaultValue 1 MiB */
  maxRecordBytes?: number;
}

export interface RecordHandler {
  /** A decoded, non-blank record (trailing `\r` removed). */
  record(text: string, line: number): void;
  /** A record that cannot be decoded or is too long; `reason` is a sentence fragment. */
  invalid(line: number, reason: string): void;
}

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

const NL = 10;
const CR = 13;
const QUOTE = 34;

export class RecordSplitter {
  private readonly quoted: boolean;
  private readonly utf8: boolean;
  private readonly max: number;
  private carry: Buffer[] = [];
  private carryLen = 0;
  private inQuote = false;
  /** Discarding the rest of an over-long record, up to the next newline. */
  private skipping = false;
  /** Physical line the current record starts on (1-based). */
  private line = 1;
  /** Quoted newlines seen inside the current record. */
  private innerLines = 0;
  private first = true;
  /** Position of the next double quote in the current chunk (-1: none). */
  private quoteAt = -1;
  /** Largest number of bytes ever held back between chunks (for tests of the memory bound). */
  maxBuffered = 0;

  constructor(options: RecordSplitterOptions) {
    this.quoted = options.quoted;
    this.utf8 = options.encoding === 'utf-8';
    this.max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  push(chunk: Buffer, out: RecordHandler): void {
    const n = chunk.length;
    // When the whole chunk is valid UTF-8, so is every record inside it (records are cut at
    // ASCII newlines): one check per chunk instead of one per record.
    const checked = !this.utf8 || isUtf8(chunk);
    this.quoteAt = this.quoted ? chunk.indexOf(QUOTE) : -1;
    let pos = 0;
    while (pos < n) {
      if (this.skipping) {
        const nl = chunk.indexOf(NL, pos);
        if (nl < 0) return;
        this.skipping = false;
        this.nextRecord();
        pos = nl + 1;
        continue;
      }
      const end = this.quoted ? this.findQuotedEnd(chunk, pos) : chunk.indexOf(NL, pos);
      const segEnd = end < 0 ? n : end;
      if (this.carryLen + (segEnd - pos) > this.max) {
        out.invalid(
          this.line,
          `is longer than ${this.max} bytes` +
            (this.quoted ? ' (an unterminated quoted field?); skipped to the next newline' : ''),
        );
        this.carry = [];
        this.carryLen = 0;
        this.inQuote = false;
        if (end < 0) {
          this.skipping = true;
          return;
        }
        this.nextRecord();
        pos = end + 1;
        continue;
      }
      if (end < 0) {
        // Chunks are fresh buffers from fs/zlib streams, so a view is safe to keep.
        this.carry.push(chunk.subarray(pos));
        this.carryLen += n - pos;
        if (this.carryLen > this.maxBuffered) this.maxBuffered = this.carryLen;
        return;
      }
      if (this.carryLen) {
        const whole = Buffer.concat([...this.carry, chunk.subarray(pos, end)]);
        this.carry = [];
        this.carryLen = 0;
        this.emit(whole, 0, whole.length, false, out);
      } else this.emit(chunk, pos, end, checked, out);
      this.nextRecord();
      pos = end + 1;
    }
  }

  /** Flushes a last record that has no newline after it. */
  end(out: RecordHandler): void {
    if (!this.skipping && this.carryLen) {
      const whole = Buffer.concat(this.carry);
      this.emit(whole, 0, whole.length, false, out);
    }
    this.carry = [];
    this.carryLen = 0;
    this.skipping = false;
  }

  private nextRecord(): void {
    this.line += this.innerLines + 1;
    this.innerLines = 0;
  }

  /** Index of the newline ending the record (outside quotes), or -1; tracks quote state across chunks. */
  private findQuotedEnd(chunk: Buffer, from: number): number {
    let q = this.inQuote;
    const n = chunk.length;
    if (!q) {
      // Fast path: most records have no quote before their newline (the next quote's position
      // is kept, so a chunk is scanned for quotes once, not once per record).
      if (this.quoteAt >= 0 && this.quoteAt < from) this.quoteAt = chunk.indexOf(QUOTE, from);
      const nl = chunk.indexOf(NL, from);
      if (this.quoteAt < 0 || (nl >= 0 && nl < this.quoteAt)) return nl;
    }
    for (let i = from; i < n; i++) {
      const b = chunk[i]!;
      if (b === QUOTE) q = !q;
      else if (b === NL) {
        if (!q) {
          this.inQuote = false;
          return i;
        }
        this.innerLines++;
      }
    }
    this.inQuote = q;
    return -1;
  }

  /** Decodes `buf[start, end)`; `checked`: already known to be valid in the chosen encoding. */
  private emit(buf: Buffer, start: number, end: number, checked: boolean, out: RecordHandler): void {
    const line = this.line;
    if (this.first) {
      this.first = false;
      if (
        this.utf8 &&
        end - start >= 3 &&
        buf[start] === 0xef &&
        buf[start + 1] === 0xbb &&
        buf[start + 2] === 0xbf
      ) {
        start += 3;
      }
    }
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) return;
    let text: string;
    if (this.utf8) {
      if (!checked) {
        const bytes = buf.subarray(start, end);
        if (!isUtf8(bytes)) {
          out.invalid(line, describeInvalidUtf8(bytes));
          return;
        }
      }
      text = buf.toString('utf8', start, end);
    } else text = buf.toString('latin1', start, end);
    const c = text.charCodeAt(0);
    if ((c === 32 || c === 9) && text.trim() === '') return;
    out.record(text, line);
  }
}

/** Names the first byte that breaks UTF-8 and suggests the Latin-1 option. */
export function describeInvalidUtf8(bytes: Uint8Array): string {
  const at = firstInvalidUtf8(bytes);
  const b = bytes[at] ?? 0;
  return (
    `is not valid UTF-8 (byte 0x${b.toString(16).toUpperCase().padStart(2, '0')} at offset ${at}); ` +
    'if the file is Latin-1, import it with --encoding latin1'
  );
}

function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let need: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) [need, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [need, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return 0;
}

/** Byte chunks of any size; a string chunk is encoded in the splitter's encoding first. */
export type RecordChunks = Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>;

/**
 * Splits a whole input into records (the evaluation loaders' path; `importFile` drives a
 * splitter itself to report progress and flush batches between chunks).
 */
export async function splitRecords(
  chunks: RecordChunks,
  options: RecordSplitterOptions,
  out: RecordHandler,
): Promise<void> {
  const splitter = new RecordSplitter(options);
  const textEncoding = options.encoding === 'latin1' ? 'latin1' : 'utf8';
  for await (const chunk of chunks) {
    splitter.push(
      typeof chunk === 'string'
        ? Buffer.from(chunk, textEncoding)
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      out,
    );
  }
  splitter.end(out);
}
