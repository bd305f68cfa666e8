/** A published ALS version read back from the registry: the model and its id maps. */
import { AlsModel } from '../../models/als.ts';
import { float32From } from '../../models/typed-bytes.ts';
import type { ModelRegistry, VersionManifest } from './model-registry.ts';
import { RegistryError } from '../errors.ts';
import { VERSION_FILES as F } from './version-files.ts';

export interface AlsVersion {
  manifest: VersionManifest;
  model: AlsModel;
  userIds: string[];
  itemIds: string[];
}

export async function loadAlsVersion(registry: ModelRegistry, version: string): Promise<AlsVersion> {
  const manifest = await registry.manifest(version);
  if (manifest.kind !== 'als')
    throw new RegistryError(`version ${version} is a ${manifest.kind} model, not als`);
  const factors = Number(manifest.params.factors);
  const json = async (name: string) =>
    JSON.parse((await registry.file(version, name)).toString('utf8')) as string[];
  const userIds = await json(F.users);
  const itemIds = await json(F.items);
  const userFactors = float32From(await registry.file(version, F.userFactors), F.userFactors);
  const itemFactors = float32From(await registry.file(version, F.itemFactors), F.itemFactors);
  if (userFactors.length !== userIds.length * factors || itemFactors.length !== itemIds.length * factors) {
    throw new RegistryError(`version ${version}: factor files do not match the id maps`);
  }
  const model = AlsModel.fromFactors(userFactors, itemFactors, factors, {
    alpha: Number(manifest.params.alpha),
    regularization: Number(manifest.params.regularization),
  });
  return { manifest, model, userIds, itemIds };
}
