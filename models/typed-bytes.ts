/**
 * Typed arrays ↔ the raw little-endian bytes of artefact files. Copies on the way in, so the
 * arrays are aligned and independent of the buffer they were read from.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndian(): void {
  // Every platform Node supports in practice is little-endian; refuse rather than misread.
  if (!LITTLE_ENDIAN) throw new Error('artefact files are little-endian; this platform is not');
}

export function bytesOf(values: Float32Array | Int32Array): Uint8Array {
  assertLittleEndian();
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export function float32From(bytes: Uint8Array, what = 'float32 file'): Float32Array {
  assertLittleEndian();
  if (bytes.byteLength % 4 !== 0)
    throw new RangeError(`${what}: ${bytes.byteLength} bytes is not a multiple of 4`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export function int32From(bytes: Uint8Array, what = 'int32 file'): Int32Array {
  assertLittleEndian();
  if (bytes.byteLength % 4 !== 0)
    throw new RangeError(`${what}: ${bytes.byteLength} bytes is not a multiple of 4`);
  return new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
