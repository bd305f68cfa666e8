/**
 * An index that remembers its answers: a search asked again with the same query, k and filter
 * gets the earlier result without searching. For evaluation engines only: a rule tuning asks
 * each test user the same searches under every setting it tries (~50 times over), on a store
 * and catalogue that do not move meanwhile. Serving never repeats a search often enough to
 * pay for the key.
 *
 * A hit compares the query's bits and k exactly, and the filter by its count and two
 * independent 32-bit hashes of its words (a copy of a 1M-item filter would be 125 KB an
 * answer; a false match needs a 64-bit collision). Any change to the index (`add`, `remove`)
 * forgets everything; at `capacity` answers the oldest is forgotten. Results are shared
 * between callers: read-only, as every caller treats them.
 */
import type { AnnIndex, AnnResult } from './ann-index.ts';
import type { ItemFilter } from './item-filter.ts';
import { murmur3Finish } from '../../models/text-features.ts';

interface Remembered {
  /** A copy of the query's bits. */
  query: Uint32Array;
  k: number;
  /** The filter's count and the second hash of its words (the first is the map's key); −1 for none. */
  count: number;
  check: number;
  result: AnnResult;
}

export class MemoIndex implements AnnIndex {
  private readonly answers = new Map<number, Remembered[]>();
  private remembered = 0;
  /** Searches answered from memory (for tests and tools). */
  hits = 0;

  constructor(
    private readonly inner: AnnIndex,
    private readonly capacity: number,
  ) {
    if (!(Number.isInteger(capacity) && capacity > 0))
      throw new RangeError('capacity must be a positive integer');
  }

  get kind(): AnnIndex['kind'] {
    return this.inner.kind;
  }

  get dims(): number {
    return this.inner.dims;
  }

  get size(): number {
    return this.inner.size;
  }

  get itemSpace(): number {
    return this.inner.itemSpace;
  }

  search(query: Float32Array, k: number, filter?: ItemFilter): AnnResult {
    const bits = new Uint32Array(query.buffer, query.byteOffset, query.length);
    const count = filter ? filter.count : -1;
    const words = filter?.words;
    hashesOf(bits, words, k);
    const key = HASHES[0]!;
    const check = words ? HASHES[1]! : 0;
    const bucket = this.answers.get(key);
    const found = bucket?.find(
      (r) => r.k === k && r.count === count && r.check === check && sameWords(r.query, bits),
    );
    if (found) {
      this.hits++;
      return found.result;
    }
    const result = this.inner.search(query, k, filter);
    if (this.remembered >= this.capacity) this.forgetOldest();
    const entry = { query: bits.slice(), k, count, check, result };
    if (bucket) bucket.push(entry);
    else this.answers.set(key, [entry]);
    this.remembered++;
    return result;
  }

  has(itemIndex: number): boolean {
    return this.inner.has(itemIndex);
  }

  vector(itemIndex: number): Float32Array | null {
    return this.inner.vector(itemIndex);
  }

  add(itemIndex: number, vector: Float32Array): void {
    this.forget();
    this.inner.add(itemIndex, vector);
  }

  remove(itemIndex: number): boolean {
    this.forget();
    return this.inner.remove(itemIndex);
  }

  save(path: string): Promise<string[]> {
    return this.inner.save(path);
  }

  private forget(): void {
    this.answers.clear();
    this.remembered = 0;
  }

  /** Drops the first-remembered bucket's oldest answer (a Map iterates in insertion order). */
  private forgetOldest(): void {
    const [key, bucket] = this.answers.entries().next().value!;
    bucket.shift();
    if (bucket.length === 0) this.answers.delete(key);
    this.remembered--;
  }
}

/** The two hashes of the last `hashesOf`. */
const HASHES = new Uint32Array(2);

/**
 * MurmurHash3's block mixing over the query's bits and then the filter's words, from two seeds
 * (`seed` and a fixed one) in one pass: a 1M-item filter is 31,250 words, read once, not twice.
 * Word by word, not byte by byte: equal to MurmurHash3 of the little-endian bytes.
 */
function hashesOf(bits: Uint32Array, words: Uint32Array | undefined, seed: number): void {
  let a = seed >>> 0;
  let b = 0x9747b28c;
  for (const v of [bits, words]) {
    if (!v) continue;
    for (let i = 0; i < v.length; i++) {
      let k = Math.imul(v[i]!, 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      a ^= k;
      a = (Math.imul((a << 13) | (a >>> 19), 5) + 0xe6546b64) | 0;
      b ^= k;
      b = (Math.imul((b << 13) | (b >>> 19), 5) + 0xe6546b64) | 0;
    }
  }
  const length = 4 * (bits.length + (words?.length ?? 0));
  HASHES[0] = murmur3Finish(a, length);
  HASHES[1] = murmur3Finish(b, length);
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
