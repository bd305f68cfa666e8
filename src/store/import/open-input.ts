/** Opens an import file as a byte stream, gunzipping it when it starts with the gzip magic bytes. */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputError } from '../../errors.ts';

export interface ImportInput {
  /** Decompressed bytes. */
  stream: Readable;
  gzip: boolean;
  /** File size on disk (compressed size for gzip). */
  size: number;
  /** Bytes read from disk so far. */
  bytesRead(): number;
  mtimeMs: number;
}

/** Read size per chunk; records never need more than one chunk plus the record cap in memory. */
const CHUNK = 256 * 1024;

export async function openInput(file: string): Promise<ImportInput> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    throw new InputError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  if (!info.isFile()) throw new InputError(`${file} is not a file`);
  const head = Buffer.alloc(2);
  const fh = await open(file, 'r');
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const raw = createReadStream(file, { highWaterMark: CHUNK });
  const stream = gzip
    ? pipeline(raw, createGunzip({ chunkSize: CHUNK }), () => {
        // Errors surface through the gunzip stream's iterator.
      })
    : raw;
  return { stream, gzip, size: info.size, bytesRead: () => raw.bytesRead, mtimeMs: Math.floor(info.mtimeMs) };
}
