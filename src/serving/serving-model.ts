/**
 * One model version made ready to serve: the ALS model, its lists, the content encoder and the
 * ANN index over the model's items. Immutable once served: catalogue changes and real-time
 * counters live beside it (see served.ts), so a hot swap only replaces a reference.
 */
import type { AlsModel } from '../../models/als.ts';
import { ContentEncoder } from '../../models/content-encoder.ts';
import type { NeighbourLists } from '../../models/item-neighbours.ts';
import { stackRows } from '../../models/matrix.ts';
import type { Csr } from '../../models/sparse.ts';
import { float32From, int32From } from '../../models/typed-bytes.ts';
import type { AnnIndex } from '../index/ann-index.ts';
import { buildAnnIndex, loadAnnIndex } from '../index/build-ann-index.ts';
import { loadAlsVersion } from '../registry/als-version.ts';
import type { ModelRegistry, VersionManifest } from '../registry/model-registry.ts';
import { VERSION_FILES as F } from '../registry/version-files.ts';
import { EVENT_WEIGHTS, eventWeightsFrom } from '../store/event-weights.ts';
import type { EventWeights } from '../store/event-weights.ts';
import { parseVersionRules } from './version-rules.ts';
import type { VersionRules } from './version-rules.ts';

export interface ServingModel {
  readonly version: string | null;
  readonly manifest: VersionManifest | null;
  readonly als: AlsModel | null;
  /** The model's item ids: item index `i` of every array below is `itemIds[i]`. */
  readonly itemIds: readonly string[];
  /**
   * Catalogue items the fit never saw, in the index through their content vectors as items
   * `itemIds.length + k` (published with the version, so a load does not encode them).
   */
  readonly contentItemIds: readonly string[];
  readonly userIndex: ReadonlyMap<string, number>;
  readonly userRows: Csr | null;
  readonly neighbours: NeighbourLists | null;
  readonly complements: NeighbourLists | null;
  /** EASE's item-item lists (small catalogues): a user's items' rows summed score every item. */
  readonly ease: NeighbourLists | null;
  /** EASE weighs a user's item by 0.5^(age / this), as it was fitted. */
  readonly easeHalfLifeMs: number;
  readonly encoder: ContentEncoder | null;
  /**
   * The model's item vectors and the content vectors of `contentItemIds`; at load, before it is
   * served, extended with those of catalogue items newer than the version (catalog-vectors.ts);
   * never written after.
   */
  readonly index: AnnIndex | null;
  /** Per model item, the training users who interacted with it: the last fallback source. */
  readonly popularity: Float32Array;
  /** The event weights the version was trained with (its manifest's), for fold-in. */
  readonly eventWeights: EventWeights;
  /** The tiers' rules tuned for this version (null: none, the engine's config serves). */
  readonly rules: VersionRules | null;
}

/** Versions that do not say were fitted with 30 days. */
const EASE_HALF_LIFE_MS = 30 * 86_400_000;
const positive = (v: unknown): number => (typeof v === 'number' && v > 0 ? v : 0);

/** No version yet: a model-less catalogue that serves trending only. */
export const NO_MODEL: ServingModel = Object.freeze({
  version: null,
  manifest: null,
  als: null,
  itemIds: [],
  contentItemIds: [],
  userIndex: new Map<string, number>(),
  userRows: null,
  neighbours: null,
  complements: null,
  ease: null,
  easeHalfLifeMs: EASE_HALF_LIFE_MS,
  encoder: null,
  index: null,
  popularity: new Float32Array(0),
  eventWeights: EVENT_WEIGHTS,
  rules: null,
});

function lists(rowsBytes: Buffer, scoreBytes: Buffer, rows: number, what: string): NeighbourLists {
  const indices = int32From(rowsBytes, what);
  const scores = float32From(scoreBytes, what);
  const k = rows ? indices.length / rows : 0;
  if (!Number.isInteger(k) || scores.length !== indices.length)
    throw new RangeError(`${what}: sizes do not match`);
  return { rows, k, indices, scores };
}

/** Non-zero entries per column (users per item); zeros without the rows. */
function columnCounts(rows: Csr | null, cols: number): Float32Array {
  const out = new Float32Array(cols);
  if (rows) for (const i of rows.indices) out[i]!++;
  return out;
}

/** Loads `version` from the registry (null: `NO_MODEL`), without the vectors of `erased` users. */
export async function loadServingModel(
  registry: ModelRegistry,
  version: string | null,
  erased: ReadonlySet<string> = new Set(),
): Promise<ServingModel> {
  if (version === null) return NO_MODEL;
  const { manifest, model, userIds, itemIds } = await loadAlsVersion(registry, version);
  const file = (name: string) => registry.file(version, name);
  const has = (name: string) => name in manifest.files;
  const userRows: Csr | null = has(F.userItemsIndptr)
    ? {
        rows: userIds.length,
        cols: itemIds.length,
        indptr: int32From(await file(F.userItemsIndptr)),
        indices: int32From(await file(F.userItemsIndices)),
        values: float32From(await file(F.userItemsValues)),
      }
    : null;
  const neighbours = has(F.neighboursIndices)
    ? lists(await file(F.neighboursIndices), await file(F.neighboursScores), itemIds.length, 'neighbours')
    : null;
  const complements = has(F.complementsIndices)
    ? lists(await file(F.complementsIndices), await file(F.complementsScores), itemIds.length, 'complements')
    : null;
  const ease = has(F.easeIndices)
    ? lists(await file(F.easeIndices), await file(F.easeScores), itemIds.length, 'ease')
    : null;
  let encoder: ContentEncoder | null = null;
  if (has(F.contentEncoder)) {
    const encoderManifest = JSON.parse((await file(F.contentEncoder)).toString('utf8')) as {
      files: Record<string, unknown>;
    };
    const files: Record<string, Uint8Array> = {};
    for (const name of Object.keys(encoderManifest.files)) files[name] = await file(name);
    encoder = ContentEncoder.fromArtefact(encoderManifest, files);
  }
  const contentItemIds = has(F.contentItems)
    ? (JSON.parse((await file(F.contentItems)).toString('utf8')) as string[])
    : [];
  const vectors = stackRows(
    model.itemFactors,
    contentItemIds.length ? float32From(await file(F.contentVectors), F.contentVectors) : null,
    model.factors,
  );
  if (vectors.rows !== itemIds.length + contentItemIds.length)
    throw new RangeError(`version ${version}: ${F.contentVectors} does not match ${F.contentItems}`);
  // Without a saved graph: exact when the version says it has none (`hnsw: 0`, e.g. a holdout
  // draft), else by size (versions from before the parameter).
  const index = has(F.annIndex)
    ? await loadAnnIndex(await registry.path(version, F.annIndex), { vectors })
    : await buildAnnIndex(vectors, manifest.params['hnsw'] === 0 ? { kind: 'exact' } : {});
  return {
    version,
    manifest,
    als: model,
    itemIds,
    contentItemIds,
    userIndex: new Map(userIds.flatMap((id, u) => (erased.has(id) ? [] : [[id, u] as const]))),
    userRows,
    neighbours,
    complements,
    ease,
    easeHalfLifeMs: positive(manifest.params['easeHalfLifeDays']) * 86_400_000 || EASE_HALF_LIFE_MS,
    encoder,
    index,
    popularity: columnCounts(userRows, itemIds.length),
    // Versions published before the table was recorded were trained with today's defaults.
    eventWeights: eventWeightsFrom(manifest.params['weights']) ?? EVENT_WEIGHTS,
    rules: has(F.servingRules)
      ? parseVersionRules(
          (await file(F.servingRules)).toString('utf8'),
          `version ${version}: ${F.servingRules}`,
        )
      : null,
  };
}
