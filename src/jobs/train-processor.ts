/**
 * The "train" job: fit and publish a version from the store (training/publish.ts), then promote
 * it through the quality gate, showing its stage and percent as progress. Idempotent: the job's
 * id goes into the version's manifest, so a retried job (its worker died after publishing) finds
 * that version and only runs the gate again. With `promoteThroughGate`, the only way `src/`
 * outside the composition root reaches training.
 */
import type { Logger } from 'pino';
import type { AlsSideSolver } from '../../models/als-shard.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { Engine, EngineOptions } from '../serving/engine.ts';
import type { Store } from '../store/types.ts';
import { DEFAULT_RECIPE, promoteWithGate, trainVersion, versionOfJob } from '../../training/publish.ts';
import type { Recipe, ScoredSplit, TrainStage, Verdict } from '../../training/publish.ts';
import type { TrainPayload } from './job-payloads.ts';
import type { JobContext } from './job-types.ts';

export type { Verdict };

export interface TrainProcessorOptions {
  store: Store;
  registry: ModelRegistry;
  log: Logger;
  /** Overrides of the default recipe (training/publish.ts `DEFAULT_RECIPE`); the payload's win. */
  recipe?: Partial<Recipe>;
  /** @defaultValue trainVersion's seed (42) */
  seed?: number;
  /** Makes the engine a version's serving rules are tuned with (none: no tuned rules). */
  makeEngine?: (o: EngineOptions) => Engine;
  /** Solves the fits' half-steps in shards (`SHELF_ALS_SHARDS`; src/jobs/als-sharding.ts). */
  sideSolver?: AlsSideSolver;
  /** Versions left after the job (`pruneVersions`); unset or 0: every version. */
  keepVersions?: number;
}

/** What a train job reports while it runs. */
export interface TrainProgress {
  stage: TrainStage | 'gate';
  percent: number;
}

/** Where each stage starts and ends, in percent of the job; the fits advance by iteration. */
const SPAN: Record<TrainProgress['stage'], [number, number]> = {
  snapshot: [0, 5],
  'holdout fit': [5, 30],
  'final fit': [30, 55],
  publish: [55, 65],
  'holdout version': [65, 75],
  'serving rules': [75, 90],
  gate: [90, 100],
};

/** The job's percent at `stage`, `done` of its `of` steps (iterations) finished. */
export function trainPercent(stage: TrainProgress['stage'], done = 0, of = 1): number {
  const [a, b] = SPAN[stage];
  return Math.round(a + ((b - a) * Math.min(done, of)) / Math.max(1, of));
}

/**
 * Reports a train job's stages and iterations as progress that never goes back: on a big store
 * both fits run side by side, and the holdout fit's iterations come in behind the final fit's.
 */
export function progressOf(onProgress?: (p: TrainProgress) => void) {
  let shown = 0;
  return (stage: TrainProgress['stage'], done?: number, of?: number): void => {
    const percent = trainPercent(stage, done, of);
    if (percent < shown) return;
    shown = percent;
    onProgress?.({ stage, percent });
  };
}

/** The recipe part of a train payload. */
export function recipeOf(p: TrainPayload): Partial<Recipe> {
  const r: Partial<Recipe> = {};
  if (p.factors !== undefined) r.factors = p.factors;
  if (p.iterations !== undefined) r.iterations = p.iterations;
  if (p.regularization !== undefined) r.regularization = p.regularization;
  if (p.alpha !== undefined) r.alpha = p.alpha;
  return r;
}

export interface TrainJobOptions extends TrainProcessorOptions {
  payload: TrainPayload;
  /** The job's id: one version per job, however often it is tried. */
  jobKey?: string;
  onProgress?: (p: TrainProgress) => void;
}

/** Trains (unless the job published already), publishes, promotes through the gate: the verdict. */
export async function runTrainJob(o: TrainJobOptions): Promise<Verdict> {
  const show = progressOf(o.onProgress);
  const recipe = { ...o.recipe, ...recipeOf(o.payload) };
  const iterations = recipe.iterations ?? DEFAULT_RECIPE.iterations;
  let version = o.jobKey ? await versionOfJob(o.registry, o.jobKey) : null;
  // What this attempt scored the candidate on: the gate reuses it (a retried attempt has none).
  let scored: ScoredSplit | null = null;
  if (version)
    o.log.info({ version, job: o.jobKey }, 'train job: its version was published by an earlier attempt');
  else {
    const seed = o.payload.seed ?? o.seed;
    const trained = await trainVersion({
      store: o.store,
      registry: o.registry,
      log: o.log,
      recipe,
      ...(seed !== undefined ? { seed } : {}),
      ...(o.makeEngine ? { makeEngine: o.makeEngine } : {}),
      ...(o.jobKey ? { jobKey: o.jobKey } : {}),
      ...(o.sideSolver ? { sideSolver: o.sideSolver } : {}),
      onStage: (stage) => show(stage),
      onIteration: (phase, info) =>
        show(phase === 'holdout' ? 'holdout fit' : 'final fit', info.iteration, iterations),
    });
    version = trained.manifest.version;
    scored = trained.scored;
  }
  show('gate');
  const verdict =
    (await o.registry.current()) === version
      ? { promoted: true, message: `${version} is current`, candidate: null, current: null }
      : await promoteWithGate({
          registry: o.registry,
          store: o.store,
          version,
          force: o.payload.force ?? false,
          log: o.log,
          scored,
        });
  await pruneVersions({ ...o, keep: o.keepVersions ?? 0 });
  show('gate', 1, 1);
  return verdict;
}

/**
 * Removes the versions beyond the newest `keep` (0: none), but never the current one, the one a
 * rollback returns to, or one an experiment not stopped names (a draft's start, a variant's
 * serving, a shipped variant's): a schedule's train adds a version a day, each as large as the
 * catalogue's vectors and index, and none was ever removed.
 */
export async function pruneVersions(
  o: Pick<TrainProcessorOptions, 'store' | 'registry' | 'log'> & { keep: number },
): Promise<string[]> {
  if (o.keep <= 0) return [];
  const named = (await o.store.experiments())
    .filter((e) => e.state !== 'stopped')
    .flatMap((e) => e.variants.flatMap((v) => (v.config.modelVersion ? [v.config.modelVersion] : [])));
  const removed = await o.registry.prune(o.keep, named);
  if (removed.length)
    o.log.info({ removed, kept: o.keep }, 'model versions removed: older than the newest kept');
  return removed;
}

/** The train job's processor, in this process: trains, publishes, promotes through the gate. */
export function trainProcessor(
  o: TrainProcessorOptions,
): (ctx: JobContext<TrainPayload>) => Promise<Verdict> {
  return (ctx) =>
    runTrainJob({
      ...o,
      payload: ctx.data,
      jobKey: ctx.id,
      onProgress: (p) => ctx.progress(p.stage, p.percent),
    });
}

/** Promotes `version` through the quality gate (`force` skips it). */
export function promoteThroughGate(
  o: Pick<TrainProcessorOptions, 'store' | 'registry' | 'log'>,
): (version: string, force: boolean) => Promise<Verdict> {
  return (version, force) =>
    promoteWithGate({ registry: o.registry, store: o.store, version, force, log: o.log });
}
