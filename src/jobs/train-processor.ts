/**
 * The "train" job: fit and publish a version from the store (training/publish.ts), then promote
 * it through the quality gate. With `promoteThroughGate`, the only way `src/` outside the
 * composition root reaches training.
 */
import type { Logger } from 'pino';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { Engine, EngineOptions } from '../serving/engine.ts';
import type { Store } from '../store/types.ts';
import { promoteWithGate, trainVersion } from '../../training/publish.ts';
import type { Recipe, Verdict } from '../../training/publish.ts';

export type { Verdict };

export interface TrainProcessorOptions {
  store: Store;
  registry: ModelRegistry;
  log: Logger;
  /** Overrides of the default recipe (training/publish.ts `DEFAULT_RECIPE`). */
  recipe?: Partial<Recipe>;
  /** @defaultValue trainVersion's seed (42) */
  seed?: number;
  /** Makes the engine a version's serving rules are tuned with (none: no tuned rules). */
  makeEngine?: (o: EngineOptions) => Engine;
}

/** The train job's processor: trains, publishes, and promotes through the gate; its verdict. */
export function trainProcessor(o: TrainProcessorOptions): () => Promise<Verdict> {
  return async () => {
    const { manifest, scored } = await trainVersion({
      store: o.store,
      registry: o.registry,
      log: o.log,
      ...(o.recipe ? { recipe: o.recipe } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.makeEngine ? { makeEngine: o.makeEngine } : {}),
    });
    return promoteWithGate({
      registry: o.registry,
      store: o.store,
      version: manifest.version,
      log: o.log,
      scored,
    });
  };
}

/** Promotes `version` through the quality gate (`force` skips it). */
export function promoteThroughGate(
  o: Pick<TrainProcessorOptions, 'store' | 'registry' | 'log'>,
): (version: string, force: boolean) => Promise<Verdict> {
  return (version, force) =>
    promoteWithGate({ registry: o.registry, store: o.store, version, force, log: o.log });
}
