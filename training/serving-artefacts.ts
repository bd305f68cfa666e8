/**
 * What serving needs beyond the factors, built at publish time from the same snapshot:
 * item-to-item neighbours, bought-together complements (baskets = a user's purchases on one
 * day), each user's training row for fold-in, the content encoder for cold-start items, and
 * the HNSW graph for catalogues too large for exact search (on a thread of its own).
 */
import { basketsFromPairs, boughtTogether } from '../models/bought-together.ts';
import { ContentEncoder } from '../models/content-encoder.ts';
import type { ContentEncoderOptions } from '../models/content-encoder.ts';
import { EaseModel, easeLists } from '../models/ease.ts';
import { itemNeighbours } from '../models/item-neighbours.ts';
import type { NeighbourLists } from '../models/item-neighbours.ts';
import type { Csr } from '../models/sparse.ts';
import { stackRows } from '../models/matrix.ts';
import { bytesOf } from '../models/typed-bytes.ts';
import { annIndexKind } from '../src/index/build-ann-index.ts';
import { VERSION_FILES as F } from '../src/registry/version-files.ts';
import type { Item } from '../src/store/types.ts';
import { EVENT_TYPES } from '../src/store/types.ts';
import { annIndexFilesOnThread } from './ann-index-files.ts';
import type { GraphBuilds } from './ann-index-files.ts';
import type { Snapshot } from './snapshot.ts';
import { StageClock } from './stage-clock.ts';

const PURCHASE = EVENT_TYPES.indexOf('purchase');
const DAY_MS = 86_400_000;

export interface ServingArtefactOptions {
  /** Neighbours and complements kept per item. @defaultValue 50 */
  k?: number;
  /** EASE lists for catalogues of at most this many items; 0: none. @defaultValue 0 */
  easeMaxItems?: number;
  /** @defaultValue 200 */
  easeLambda?: number;
  /** EASE's inputs weigh each (user, item) by 0.5^(age of its newest event / this). @defaultValue 30 */
  easeHalfLifeDays?: number;
  /** EASE weights kept per item. @defaultValue 500 */
  easeK?: number;
  /** Times each artefact (neighbours, complements, encoder, ease, hnsw). @defaultValue none */
  clock?: StageClock;
  /** Where the ANN index is built (on a thread; the job ends it if it fails). @defaultValue its own thread */
  graphs?: GraphBuilds;
  /**
   * No graph, whatever the catalogue's size: the version is searched exactly (`hnsw: 0`), as a
   * holdout draft that is only evaluated is (its searches remembered, memo-index.ts).
   * @defaultValue false
   */
  exactIndex?: boolean;
  /**
   * The content encoder's options beyond its seed: the catalogue's `terms`, shared by a job's
   * versions (each item tokenized once, its content vectors too), the ridge's `tolerance`, and
   * `offThread` (the caller goes on with other work while the ridge solves).
   */
  encoder?: Pick<ContentEncoderOptions, 'terms' | 'tolerance' | 'offThread'>;
}

export function listFiles(
  prefix: 'neighbours' | 'complements',
  lists: NeighbourLists,
): Record<string, Uint8Array> {
  const idx = prefix === 'neighbours' ? F.neighboursIndices : F.complementsIndices;
  const scores = prefix === 'neighbours' ? F.neighboursScores : F.complementsScores;
  return { [idx]: bytesOf(lists.indices), [scores]: bytesOf(lists.scores) };
}

/** Baskets of purchases: one per user and UTC day. */
export function purchaseBaskets(s: Snapshot): Csr {
  const basketOf = new Map<string, number>();
  const b: number[] = [];
  const i: number[] = [];
  for (let e = 0; e < s.length; e++) {
    if (s.types[e] !== PURCHASE) continue;
    const key = `${s.users[e]}:${Math.floor(s.timestamps[e]! / DAY_MS)}`;
    let basket = basketOf.get(key);
    if (basket === undefined) basketOf.set(key, (basket = basketOf.size));
    b.push(basket);
    i.push(s.items[e]!);
  }
  return basketsFromPairs(Int32Array.from(b), Int32Array.from(i), s.itemIds.length, basketOf.size);
}

export interface ServingArtefacts {
  files: Record<string, Uint8Array>;
  params: Record<string, number>;
  /**
   * The ANN index's files (none for an exact index), built on a worker thread: the caller goes
   * on beside it and awaits it when it needs them.
   */
  index: Promise<Record<string, Uint8Array>>;
}

/** Content vectors encoded per call (bounds the feature rows held at once). */
const ENCODE_CHUNK = 10_000;

/**
 * The artefacts. `catalogue` holds the items the encoder learns from (the fit's, described);
 * `unseen` the catalogue's items the fit never saw, in the order a load numbers them (itemId):
 * their content vectors go into the index after the model's items and into the version, so
 * that loading it encodes and inserts none of them.
 */
export async function servingArtefacts(
  s: Snapshot,
  interactions: Csr,
  itemFactors: Float32Array,
  factors: number,
  catalogue: Map<string, Item>,
  unseen: readonly Item[],
  seed: number,
  options: ServingArtefactOptions = {},
): Promise<ServingArtefacts> {
  const k = options.k ?? 50;
  const clock = options.clock ?? new StageClock();
  const files: Record<string, Uint8Array> = {
    [F.userItemsIndptr]: bytesOf(interactions.indptr),
    [F.userItemsIndices]: bytesOf(interactions.indices),
    [F.userItemsValues]: bytesOf(interactions.values),
  };
  // The index's rows first: its graph builds on its thread while the lists are made.
  // The encoder learns item content → factors on the items the store describes.
  const known = s.itemIds.flatMap((id, i) => (catalogue.has(id) ? [i] : []));
  let encoderItems = 0;
  let content: Float32Array | null = null;
  if (known.length > 0) {
    const targets = new Float32Array(known.length * factors);
    known.forEach((i, r) => targets.set(itemFactors.subarray(i * factors, (i + 1) * factors), r * factors));
    const encoder = await clock.time('encoder', () =>
      ContentEncoder.fit(
        known.map((i) => catalogue.get(s.itemIds[i]!)!),
        targets,
        factors,
        { seed, ...options.encoder },
      ),
    );
    const artefact = encoder.toArtefact();
    Object.assign(files, artefact.files, {
      [F.contentEncoder]: Buffer.from(JSON.stringify(artefact.manifest)),
    });
    encoderItems = known.length;
    if (unseen.length) {
      const vectors = (content = new Float32Array(unseen.length * factors));
      await clock.time('content vectors', () => {
        for (let r = 0; r < unseen.length; r += ENCODE_CHUNK) {
          const chunk = unseen.slice(r, r + ENCODE_CHUNK);
          encoder.encodeInto(
            chunk,
            vectors.subarray(r * factors, (r + chunk.length) * factors),
            options.encoder?.terms,
          );
        }
      });
      Object.assign(files, {
        [F.contentItems]: Buffer.from(JSON.stringify(unseen.map((i) => i.itemId))),
        [F.contentVectors]: bytesOf(vectors),
      });
    }
  }
  const indexed = stackRows(itemFactors, content, factors);
  const kind = options.exactIndex ? 'exact' : annIndexKind(indexed);
  const t0 = performance.now();
  const task = { vectors: indexed, seed };
  const index =
    kind === 'hnsw'
      ? (options.graphs?.build(task) ?? annIndexFilesOnThread(task)).then((built) => {
          clock.record('hnsw', (performance.now() - t0) / 1000);
          return built;
        })
      : Promise.resolve({});
  // Handled here too: a caller that fails before awaiting it must not crash the process.
  index.catch(() => {});
  const neighbours = await clock.time('neighbours', () => itemNeighbours(interactions, { k, seed }));
  const complements = await clock.time('complements', () =>
    boughtTogether(purchaseBaskets(s), { k, seed, minScore: 1 }),
  );
  const ease = await clock.time('ease', () => easeFiles(s, interactions, options));
  Object.assign(
    files,
    listFiles('neighbours', neighbours),
    listFiles('complements', complements),
    ease.files,
  );
  return {
    files,
    index,
    params: {
      neighboursK: neighbours.k,
      complementsK: complements.k,
      encoderItems,
      contentItems: content ? unseen.length : 0,
      hnsw: kind === 'hnsw' ? 1 : 0,
      easeK: ease.k,
    },
  };
}

/**
 * EASE's item-item lists over who interacted with what, each pair weighed by the recency of its
 * newest event (the weighting that won on validation for online-retail, see benchmarks/quality),
 * when the catalogue is small enough for its dense fit: serving sums them over a user's history
 * with the same weights.
 */
async function easeFiles(
  s: Snapshot,
  interactions: Csr,
  o: ServingArtefactOptions,
): Promise<{ files: Record<string, Uint8Array>; k: number }> {
  if (interactions.cols === 0 || interactions.cols > (o.easeMaxItems ?? 0)) return { files: {}, k: 0 };
  const n = interactions.cols;
  const newest = new Map<number, number>();
  let end = -Infinity;
  for (let e = 0; e < s.length; e++) {
    const key = s.users[e]! * n + s.items[e]!;
    const ts = s.timestamps[e]!;
    if (ts > (newest.get(key) ?? -Infinity)) newest.set(key, ts);
    if (ts > end) end = ts;
  }
  const halfLife = (o.easeHalfLifeDays ?? 30) * 86_400_000;
  const values = new Float32Array(interactions.indices.length);
  for (let u = 0; u < interactions.rows; u++) {
    for (let p = interactions.indptr[u]!; p < interactions.indptr[u + 1]!; p++) {
      const at = newest.get(u * n + interactions.indices[p]!) ?? end;
      values[p] = Math.pow(0.5, (end - at) / halfLife);
    }
  }
  const model = new EaseModel({ lambda: o.easeLambda ?? 200 });
  await model.fit({ ...interactions, values });
  const lists = easeLists(model, o.easeK ?? 500);
  return {
    files: { [F.easeIndices]: bytesOf(lists.indices), [F.easeScores]: bytesOf(lists.scores) },
    k: lists.k,
  };
}
