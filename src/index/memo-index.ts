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
import { murmur3 } from '../../models/text-features.ts';

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
    const key = hashOf(bits, words, k);
    const check = words ? hashOf(bits, words, 0x9747b28c) : 0;
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

/** MurmurHash3 of the query's bits from `seed`, then of the filter's words from that. */
function hashOf(bits: Uint32Array, words: Uint32Array | undefined, seed: number): number {
  const h = murmur3(bytesOf(bits), bits.byteLength, seed);
  return words ? murmur3(bytesOf(words), words.byteLength, h) : h;
}

const bytesOf = (v: Uint32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
