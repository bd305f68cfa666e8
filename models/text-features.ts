/**
 * Item content → sparse TF-IDF vector over hashed tokens (the "hashing trick", Weinberger et
 * al. 2009), the input of the content encoder. Pure and deterministic: no I/O, no tf, no
 * randomness; the same items and options give the same bytes on every machine.
 *
 * Tokens of one item (each a string, hashed with MurmurHash3 x86-32 over its UTF-8 bytes):
 * - `w:word` and `w:word word` — lower-cased (NFKC) runs of letters and digits from the title
 *   and from the description, with bigrams inside each field (none across the two);
 * - `c:home`, `c:home > kitchen`, … — every prefix of every category path;
 * - `g:#mu`, `g:mug`, `g:ug#` — optionally, character n-grams of each word;
 * - `b:brand` — the brand, lower-cased and trimmed;
 * - `p:band` — the price's band on a log scale, ⌊log₂(price) · bandsPerDoubling⌋.
 * A token's bucket is `hash & (dims − 1)` and its sign the hash's top bit (signed hashing
 * keeps collisions unbiased). A term's weight is (1 + ln tf) · idf, with the smooth idf
 * ln((1 + N) / (1 + df)) + 1 fitted on the training items; each row is then L2-normalised.
 *
 * Only buckets seen in at least `minDf` training items become columns (sorted by bucket), since
 * a model can learn nothing about the others. Unseen buckets still count in the row's norm (at
 * the idf of df = 0), so an item described mostly by unknown words gets a shorter vector and
 * the encoder's prediction falls back towards its bias (the mean item).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Csr } from './sparse.ts';

/** What the encoder reads of an item; `Item` from src/store/types.ts fits as it is. */
export interface ItemContent {
  title: string;
  description?: string;
  /** Category paths such as `Home > Kitchen > Mugs`. */
  categories: string[];
  brand?: string;
  price?: number;
}

export interface TextFeaturesOptions {
  /** Size of the hash space; a power of two in [2^4, 2^24]. @defaultValue 2^18 */
  dims?: number;
  /** Seed of the token hash. @defaultValue 0 */
  hashSeed?: number;
  /** Add word bigrams (inside the title, inside the description). @defaultValue true */
  bigrams?: boolean;
  /** Price bands per doubling of the price (2 → bands √2 apart); 0 turns price off. @defaultValue 2 */
  priceBandsPerDoubling?: number;
  /** Buckets present in fewer training items are dropped. @defaultValue 1 */
  minDf?: number;
  /**
   * Also add the character n-grams of this length of each word, with `#` marking its ends
   * (`g:#mu`, `g:mug`, `g:ug#`): plurals and spelling variants then share features. 0 = none.
   * @defaultValue 0
   */
  charNgrams?: number;
}

/** Everything needed to featurise new items the same way; what an artefact stores. */
export interface TextFeaturesState {
  dims: number;
  hashSeed: number;
  bigrams: boolean;
  priceBandsPerDoubling: number;
  minDf: number;
  charNgrams: number;
  /** Training items the idf was fitted on. */
  documents: number;
  /** Kept buckets, strictly ascending: column c of the output is bucket `buckets[c]`. */
  buckets: Int32Array;
  /** idf of each kept bucket (parallel to `buckets`). */
  idf: Float32Array;
}

type ResolvedOptions = Required<TextFeaturesOptions>;

export class TextFeatures {
  /** Number of output columns (kept buckets). */
  readonly columns: number;
  private readonly options: ResolvedOptions;
  private readonly buckets: Int32Array;
  private readonly idf: Float32Array;
  private readonly documents: number;
  /** idf of a bucket no training item had: ln(1 + N) + 1. */
  private readonly unseenIdf: number;
  /** bucket → column, or −1; built on first use (4·dims bytes). */
  private columnOf: Int32Array | null = null;
  private readonly hasher = new TokenHasher();

  private constructor(options: ResolvedOptions, documents: number, buckets: Int32Array, idf: Float32Array) {
    this.options = options;
    this.documents = documents;
    this.buckets = buckets;
    this.idf = idf;
    this.columns = buckets.length;
    this.unseenIdf = Math.log(1 + documents) + 1;
  }

  /** Fits the idf (and the kept buckets) on the training items. */
  static fit(items: readonly ItemContent[], options: TextFeaturesOptions = {}): TextFeatures {
    return TextFeatures.fromTerms(items.length, allTerms(items, resolveOptions(options)), options);
  }

  /**
   * `fit(items)` and its `transform(items)` together, each item tokenized and hashed once:
   * the same features and rows as calling the two in turn.
   */
  static fitTransform(
    items: readonly ItemContent[],
    options: TextFeaturesOptions = {},
    memo?: TermsMemo,
  ): { features: TextFeatures; x: Csr } {
    const terms = allTerms(items, resolveOptions(options), new TokenHasher(), memo);
    const features = TextFeatures.fromTerms(items.length, terms, options);
    return { features, x: features.rowsOf(terms) };
  }

  private static fromTerms(n: number, terms: ItemTerms, options: TextFeaturesOptions): TextFeatures {
    const o = resolveOptions(options);
    const df = new Int32Array(o.dims);
    for (let r = 0; r < n; r++)
      for (let p = terms.indptr[r]!; p < terms.indptr[r + 1]!; p++)
        if (terms.counts[p] !== 0) df[terms.buckets[p]!]!++;
    let kept = 0;
    for (let b = 0; b < o.dims; b++) if (df[b]! >= o.minDf) kept++;
    const buckets = new Int32Array(kept);
    const idf = new Float32Array(kept);
    for (let b = 0, c = 0; b < o.dims; b++) {
      if (df[b]! < o.minDf) continue;
      buckets[c] = b;
      idf[c] = Math.log((1 + n) / (1 + df[b]!)) + 1;
      c++;
    }
    return new TextFeatures(o, n, buckets, idf);
  }

  /** Restores fitted features from {@link TextFeatures.state}; validates every field. */
  static fromState(state: TextFeaturesState): TextFeatures {
    const o = resolveOptions(state);
    if (!Number.isInteger(state.documents) || state.documents < 0)
      throw new RangeError('documents must be a non-negative integer');
    const { buckets, idf } = state;
    if (!(buckets instanceof Int32Array) || !(idf instanceof Float32Array) || buckets.length !== idf.length)
      throw new RangeError('buckets (Int32Array) and idf (Float32Array) must have the same length');
    for (let c = 0; c < buckets.length; c++) {
      const b = buckets[c]!;
      if (b < 0 || b >= o.dims || (c > 0 && b <= buckets[c - 1]!))
        throw new RangeError(`buckets must be strictly ascending in [0, ${o.dims}) (column ${c})`);
      if (!(idf[c]! > 0) || !Number.isFinite(idf[c]!))
        throw new RangeError(`idf[${c}] is not a positive number`);
    }
    return new TextFeatures(o, state.documents, buckets, idf);
  }

  state(): TextFeaturesState {
    return { ...this.options, documents: this.documents, buckets: this.buckets, idf: this.idf };
  }

  /**
   * One L2-normalised TF-IDF row per item, columns ascending (see the module comment); items
   * `memo` has seen are not tokenized again.
   */
  transform(items: readonly ItemContent[], memo?: TermsMemo): Csr {
    return this.rowsOf(allTerms(items, this.options, this.hasher, memo));
  }

  private rowsOf(terms: ItemTerms): Csr {
    const columnOf = this.lookup();
    const rows = terms.indptr.length - 1;
    const indptr = new Int32Array(rows + 1);
    // At most one entry per term: sized once, trimmed at the end.
    const indices = new Int32Array(terms.buckets.length);
    const values = new Float32Array(terms.buckets.length);
    const weights = new Float64Array(terms.buckets.length);
    let n = 0;
    for (let r = 0; r < rows; r++) {
      const start = n;
      let norm2 = 0;
      for (let p = terms.indptr[r]!; p < terms.indptr[r + 1]!; p++) {
        const count = terms.counts[p]!;
        if (count === 0) continue;
        const c = columnOf[terms.buckets[p]!]!;
        const w =
          Math.sign(count) * (1 + Math.log(Math.abs(count))) * (c >= 0 ? this.idf[c]! : this.unseenIdf);
        norm2 += w * w;
        if (c < 0) continue;
        // Insertion into the row's columns, kept ascending (a row holds tens of terms).
        let k = n++;
        while (k > start && indices[k - 1]! > c) {
          indices[k] = indices[k - 1]!;
          weights[k] = weights[k - 1]!;
          k--;
        }
        indices[k] = c;
        weights[k] = w;
      }
      const scale = norm2 > 0 ? 1 / Math.sqrt(norm2) : 0;
      for (let k = start; k < n; k++) values[k] = weights[k]! * scale;
      indptr[r + 1] = n;
    }
    return { rows, cols: this.columns, indptr, indices: indices.slice(0, n), values: values.slice(0, n) };
  }

  private lookup(): Int32Array {
    if (this.columnOf) return this.columnOf;
    const columnOf = new Int32Array(this.options.dims).fill(-1);
    for (let c = 0; c < this.buckets.length; c++) columnOf[this.buckets[c]!] = c;
    this.columnOf = columnOf;
    return columnOf;
  }
}

function resolveOptions(options: TextFeaturesOptions): ResolvedOptions {
  const o: ResolvedOptions = {
    dims: options.dims ?? 1 << 18,
    hashSeed: options.hashSeed ?? 0,
    bigrams: options.bigrams ?? true,
    priceBandsPerDoubling: options.priceBandsPerDoubling ?? 2,
    minDf: options.minDf ?? 1,
    charNgrams: options.charNgrams ?? 0,
  };
  if (!Number.isInteger(o.dims) || o.dims < 16 || o.dims > 1 << 24 || (o.dims & (o.dims - 1)) !== 0)
    throw new RangeError(`dims must be a power of two in [2^4, 2^24], got ${o.dims}`);
  if (!Number.isInteger(o.hashSeed) || o.hashSeed < 0 || o.hashSeed > 0xffffffff)
    throw new RangeError('hashSeed must be a 32-bit unsigned integer');
  if (typeof o.bigrams !== 'boolean') throw new RangeError('bigrams must be a boolean');
  if (!(o.priceBandsPerDoubling >= 0) || !Number.isFinite(o.priceBandsPerDoubling))
    throw new RangeError('priceBandsPerDoubling must be >= 0');
  if (!Number.isInteger(o.minDf) || o.minDf < 1) throw new RangeError('minDf must be a positive integer');
  if (!Number.isInteger(o.charNgrams) || o.charNgrams < 0 || o.charNgrams > 8)
    throw new RangeError('charNgrams must be an integer in [0, 8]');
  return o;
}

/** Every item's (bucket, signed count) pairs in first-seen order: item r's at [indptr[r], indptr[r + 1]). */
interface ItemTerms {
  indptr: Int32Array;
  buckets: Int32Array;
  counts: Int32Array;
}

/**
 * Each item's (bucket, signed count) pairs, remembered by item object: a train job featurises
 * its catalogue for two encoders (the holdout draft's and the final version's) and their items'
 * content vectors, and each item is tokenized and hashed once. Holds for the options it was
 * made with (all but `minDf`, which only the fit reads); others are refused.
 */
export class TermsMemo {
  private readonly options: ResolvedOptions;
  private readonly pairs = new Map<ItemContent, Int32Array>();
  private readonly hasher = new TokenHasher();
  private readonly scratch = new Map<number, number>();

  constructor(options: TextFeaturesOptions = {}) {
    this.options = resolveOptions(options);
  }

  /** The item's pairs (bucket, count interleaved), collected on first sight. */
  pairsOf(item: ItemContent, o: ResolvedOptions): Int32Array {
    const m = this.options;
    if (
      o.dims !== m.dims ||
      o.hashSeed !== m.hashSeed ||
      o.bigrams !== m.bigrams ||
      o.priceBandsPerDoubling !== m.priceBandsPerDoubling ||
      o.charNgrams !== m.charNgrams
    )
      throw new RangeError('the terms memo was made with other text feature options');
    let pairs = this.pairs.get(item);
    if (!pairs) this.pairs.set(item, (pairs = packTerms(item, o, this.hasher, this.scratch)));
    return pairs;
  }

  /**
   * Collects the items' pairs ahead of their use, letting the event loop run between chunks of
   * `chunk` items: worker threads this thread serves (a fit's) go on meanwhile.
   */
  async collect(items: Iterable<ItemContent>, chunk = 1000): Promise<void> {
    let n = 0;
    for (const item of items) {
      this.pairsOf(item, this.options);
      if (++n % chunk === 0) await yieldToEventLoop();
    }
  }
}

function allTerms(
  items: readonly ItemContent[],
  o: ResolvedOptions,
  hasher = new TokenHasher(),
  memo?: TermsMemo,
): ItemTerms {
  const scratch = new Map<number, number>();
  const each = items.map((item) => (memo ? memo.pairsOf(item, o) : packTerms(item, o, hasher, scratch)));
  const indptr = new Int32Array(items.length + 1);
  for (let r = 0; r < items.length; r++) indptr[r + 1] = indptr[r]! + each[r]!.length / 2;
  const buckets = new Int32Array(indptr[items.length]!);
  const counts = new Int32Array(buckets.length);
  each.forEach((pairs, r) => {
    for (let k = 0, p = indptr[r]!; k < pairs.length; k += 2, p++) {
      buckets[p] = pairs[k]!;
      counts[p] = pairs[k + 1]!;
    }
  });
  return { indptr, buckets, counts };
}

/** The item's (bucket, signed count) pairs, interleaved, in first-seen order. */
function packTerms(
  item: ItemContent,
  o: ResolvedOptions,
  hasher: TokenHasher,
  scratch: Map<number, number>,
): Int32Array {
  collectTerms(item, o, hasher, scratch);
  const pairs = new Int32Array(scratch.size * 2);
  let k = 0;
  for (const [bucket, count] of scratch) {
    pairs[k++] = bucket;
    pairs[k++] = count;
  }
  return pairs;
}

/**
 * Fills `out` (cleared first) with bucket → signed count of the item's tokens. A bucket whose
 * signed counts cancel keeps an entry of 0, which callers skip.
 */
function collectTerms(
  item: ItemContent,
  o: ResolvedOptions,
  hasher: TokenHasher,
  out: Map<number, number>,
): void {
  out.clear();
  const mask = o.dims - 1;
  const add = (token: string) => {
    const h = hasher.hash(token, o.hashSeed);
    const bucket = h & mask;
    out.set(bucket, (out.get(bucket) ?? 0) + (h >>> 31 ? -1 : 1));
  };
  for (const token of itemTokens(item, o)) add(token);
}

/**
 * The item's tokens before hashing, in a fixed order (see the module comment). Exported for
 * tests and for explaining a prediction.
 */
export function itemTokens(
  item: ItemContent,
  options: Pick<TextFeaturesOptions, 'bigrams' | 'priceBandsPerDoubling' | 'charNgrams'> = {},
): string[] {
  const bigrams = options.bigrams ?? true;
  const grams = options.charNgrams ?? 0;
  const bands = options.priceBandsPerDoubling ?? 2;
  const out: string[] = [];
  for (const text of [item.title, item.description]) {
    if (!text) continue;
    const words = tokenize(text);
    for (let i = 0; i < words.length; i++) {
      out.push(`w:${words[i]!}`);
      if (bigrams && i > 0) out.push(`w:${words[i - 1]!} ${words[i]!}`);
      if (grams > 0) {
        const chars = Array.from(`#${words[i]!}#`);
        for (let c = 0; c + grams <= chars.length; c++) out.push(`g:${chars.slice(c, c + grams).join('')}`);
      }
    }
  }
  for (const path of item.categories) {
    let prefix = '';
    for (const part of path.split('>')) {
      const name = normalizeName(part);
      if (!name) continue;
      prefix = prefix ? `${prefix} > ${name}` : name;
      out.push(`c:${prefix}`);
    }
  }
  const brand = item.brand ? normalizeName(item.brand) : '';
  if (brand) out.push(`b:${brand}`);
  const band = priceBand(item.price, bands);
  if (band !== null) out.push(`p:${band}`);
  return out;
}

/** Lower-cased (NFKC) runs of letters and digits. */
export function tokenize(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(WORD) ?? [];
}

const WORD = /[\p{L}\p{N}]+/gu;

function normalizeName(name: string): string {
  return name.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ');
}

/** ⌊log₂(price) · bandsPerDoubling⌋, or null when there is no usable price. */
export function priceBand(price: number | undefined, bandsPerDoubling: number): number | null {
  if (price === undefined || !(price > 0) || !Number.isFinite(price) || bandsPerDoubling <= 0) return null;
  return Math.floor(Math.log2(price) * bandsPerDoubling);
}

/** UTF-8 encodes into a reused buffer and hashes it. */
class TokenHasher {
  private buffer = new Uint8Array(256);
  private readonly encoder = new TextEncoder();

  hash(token: string, seed: number): number {
    if (token.length * 3 > this.buffer.length) this.buffer = new Uint8Array(token.length * 3);
    const { written } = this.encoder.encodeInto(token, this.buffer);
    return murmur3(this.buffer, written, seed);
  }
}

/** UTF-8 bytes of a token → its 32-bit MurmurHash3 (unsigned). */
export function hashToken(token: string, seed = 0): number {
  const bytes = new TextEncoder().encode(token);
  return murmur3(bytes, bytes.length, seed);
}

/** MurmurHash3 x86 32-bit of `bytes[0 .. length)`, unsigned (Austin Appleby's reference). */
export function murmur3(bytes: Uint8Array, length: number, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = bytes[blocks]!;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  return murmur3Finish(h, length);
}

/** MurmurHash3's finalisation of the running hash `h` of `length` bytes. */
export function murmur3Finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
