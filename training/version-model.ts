/**
 * A published ALS version read back from the registry, and an adapter that scores it in
 * another index space (a newer snapshot's), through the id maps and fold-in.
 */
import { AlsModel } from '../models/als.ts';
import type { Recommender } from '../models/recommender.ts';
import type { ModelRegistry, VersionManifest } from '../src/registry/model-registry.ts';
import { RegistryError } from '../src/registry/model-registry.ts';

export interface LoadedVersion {
  manifest: VersionManifest;
  model: AlsModel;
  userIds: string[];
  itemIds: string[];
}

/** Raw little-endian float32 (the artefact format) → Float32Array, without trusting alignment. */
export function float32FromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new RangeError('float32 file size is not a multiple of 4');
  const out = new Float32Array(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export function float32ToBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

export async function loadVersion(registry: ModelRegistry, version: string): Promise<LoadedVersion> {
  const manifest = await registry.manifest(version);
  if (manifest.kind !== 'als')
    throw new RegistryError(`version ${version} is a ${manifest.kind} model, not als`);
  const factors = Number(manifest.params.factors);
  const userIds = JSON.parse((await registry.file(version, 'users.json')).toString('utf8')) as string[];
  const itemIds = JSON.parse((await registry.file(version, 'items.json')).toString('utf8')) as string[];
  const userFactors = float32FromBytes(await registry.file(version, 'user-factors.f32'));
  const itemFactors = float32FromBytes(await registry.file(version, 'item-factors.f32'));
  if (userFactors.length !== userIds.length * factors || itemFactors.length !== itemIds.length * factors) {
    throw new RegistryError(`version ${version}: factor files do not match the id maps`);
  }
  const model = AlsModel.fromFactors(userFactors, itemFactors, factors, {
    alpha: Number(manifest.params.alpha),
    regularization: Number(manifest.params.regularization),
  });
  return { manifest, model, userIds, itemIds };
}

/**
 * Scores a model in the index space of `itemIds` (e.g. a newer snapshot): each user is folded
 * in from the items they have there that the model knows; items the model never saw score −∞.
 */
export function foldInAdapter(
  model: AlsModel,
  modelItemIds: readonly string[],
  itemIds: readonly string[],
): Recommender {
  const own = new Map(modelItemIds.map((id, i) => [id, i]));
  const toModel = Int32Array.from(itemIds, (id) => own.get(id) ?? -1);
  const modelScores = new Float32Array(modelItemIds.length);
  return {
    name: `${model.name} (fold-in)`,
    async fit() {
      throw new Error('a published version is not refitted');
    },
    scoreInto(_userIndex, items, weights, out) {
      const kept: number[] = [];
      const keptWeights: number[] = [];
      items.forEach((i, k) => {
        if (toModel[i]! >= 0) {
          kept.push(toModel[i]!);
          keptWeights.push(weights[k]!);
        }
      });
      model.scoreInto(-1, Int32Array.from(kept), Float32Array.from(keptWeights), modelScores);
      for (let j = 0; j < out.length; j++) {
        const m = toModel[j]!;
        out[j] = m >= 0 ? modelScores[m]! : Number.NEGATIVE_INFINITY;
      }
    },
  };
}
