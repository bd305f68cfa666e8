/**
 * `shelf train` and the quality gate: snapshot → newest split → fit and score on it → tune the
 * serving rules on it → refit on everything → publish a version → promote it when it passes
 * the gate.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { AlsModel } from '../models/als.ts';
import type { AlsIterationInfo } from '../models/als.ts';
import type { AlsSideSolver } from '../models/als-shard.ts';
import type { Recommender } from '../models/recommender.ts';
import type { Csr } from '../models/sparse.ts';
import { TermsMemo } from '../models/text-features.ts';
import { bytesOf } from '../models/typed-bytes.ts';
import type { AlsVersion } from '../src/registry/als-version.ts';
import { VERSION_FILES as F } from '../src/registry/version-files.ts';
import type { ModelRegistry, OfflineMetrics, VersionManifest } from '../src/registry/model-registry.ts';
import type { Engine, EngineOptions } from '../src/serving/engine.ts';
import type { Tier } from '../src/serving/types.ts';
import { versionRulesFile } from '../src/serving/version-rules.ts';
import { withoutUsers } from '../src/registry/erase-users.ts';
import { allItems } from '../src/store/all-items.ts';
import type { Item, Store } from '../src/store/types.ts';
import { GraphBuilds } from './ann-index-files.ts';
import { cutoffSetup } from './cutoff-setup.ts';
import type { VersionDraft } from './cutoff-setup.ts';
import { evaluateRecommender } from './evaluate.ts';
import { newestSplit } from './holdout.ts';
import type { Holdout } from './holdout.ts';
import { DEFAULT_WEIGHTS, interactionMatrix } from './interaction-weights.ts';
import type { WeightOptions } from './interaction-weights.ts';
import { holdoutTargets, servedScorer } from './served-evaluation.ts';
import type { ServedResult } from './served-evaluation.ts';
import { servingArtefacts } from './serving-artefacts.ts';
import type { ServingArtefactOptions } from './serving-artefacts.ts';
import { TUNED_TIERS, tuneVersionRules } from './serving-rules.ts';
import type { TunedRules } from './serving-rules.ts';
import { snapshotPrefix, takeSnapshot } from './snapshot.ts';
import type { Snapshot } from './snapshot.ts';
import { StageClock } from './stage-clock.ts';
import type { StageTiming } from './stage-clock.ts';
import { foldInAdapter } from './version-model.ts';

/** Everything needed to fit a version again: stored as the manifest's params. */
export interface Recipe {
  factors: number;
  regularization: number;
  alpha: number;
  iterations: number;
  cgSteps: number;
  weights: WeightOptions['weights'];
  halfLifeDays: number;
  /** Share of the newest events held out to score the version. */
  testFraction: number;
  /** EASE item-item lists for catalogues of at most this many items (a dense n² fit); 0: none. */
  easeMaxItems: number;
  /** EASE's L2 weight (see models/ease.ts). */
  easeLambda: number;
  /** EASE weighs each (user, item) by 0.5^(age / this many days); serving weighs seeds alike. */
  easeHalfLifeDays: number;
  /**
   * Tune the personalized and homepage tiers' serving rules on the newest split and publish
   * them with the version (training/serving-rules.ts); false: the engine's rules serve.
   */
  tuneRules: boolean;
  /** Test users asked per setting while tuning the rules: a seeded sample of at most this many (0: all). */
  rulesUsers: number;
}

export const DEFAULT_RECIPE: Recipe = {
  factors: 64,
  regularization: 0.1,
  alpha: 2,
  iterations: 15,
  cgSteps: 3,
  weights: DEFAULT_WEIGHTS.weights,
  halfLifeDays: DEFAULT_WEIGHTS.halfLifeDays,
  testFraction: 0.1,
  easeMaxItems: 5000,
  easeLambda: 200,
  easeHalfLifeDays: 30,
  tuneRules: true,
  rulesUsers: 200,
};

export interface GateOptions {
  /** A candidate may fall at most this far (absolute NDCG@20) below the current version. @defaultValue 0.005 */
  margin: number;
}

export const CODE_VERSION = '0.1.0';

/**
 * From this many events the holdout and final fits run side by side on worker threads: each
 * thread takes ~0.5 s to start, which a fit of a few seconds repays (the demo store's 424k
 * events: 2.3 s a fit in-process).
 */
const SIDE_BY_SIDE_MIN_EVENTS = 250_000;

/** A recipe's ALS fit and the matrix it was fitted on. */
interface Fit {
  model: AlsModel;
  matrix: Csr;
}

/** How a fit runs: its progress, and where its half-steps are solved. */
interface FitRun {
  onIteration?: (i: AlsIterationInfo) => void;
  sideSolver?: AlsSideSolver;
  /** On worker threads, beside another fit (the factors are the same either way). */
  offThread?: boolean;
}

/** Fits a recipe on the split's train part (`split` null: on every event). */
async function fitRecipe(
  s: Snapshot,
  split: Holdout | null,
  recipe: Recipe,
  seed: number,
  run: FitRun = {},
): Promise<Fit> {
  const weights = { weights: recipe.weights, halfLifeDays: recipe.halfLifeDays };
  const matrix = split
    ? interactionMatrix(s, weights, 0, split.cutoffIndex, split.cutoffTime)
    : interactionMatrix(s, weights);
  const model = new AlsModel({
    ...alsOptions(recipe, seed),
    onIteration: run.onIteration,
    ...(run.sideSolver ? { sideSolver: run.sideSolver } : {}),
    // Side by side, each fit gets its share of the cores.
    ...(run.offThread
      ? { offThread: true, workers: Math.max(1, Math.floor(availableParallelism() / 2)) }
      : {}),
  });
  await model.fit(matrix);
  return { model, matrix };
}

/** Fits a recipe on the split's train part and scores it on the test part. */
export async function scoreRecipe(
  s: Snapshot,
  split: Holdout,
  recipe: Recipe,
  seed: number,
  onIteration?: (i: AlsIterationInfo) => void,
): Promise<OfflineMetrics> {
  const { model, matrix } = await fitRecipe(s, split, recipe, seed, onIteration ? { onIteration } : {});
  return metricsOf(model, matrix, split);
}

export function metricsOf(
  model: Recommender,
  train: ReturnType<typeof interactionMatrix>,
  split: Holdout,
): OfflineMetrics {
  const r = evaluateRecommender(model, train, split, 20);
  return {
    'recall@20': r.recall,
    'ndcg@20': r.ndcg,
    'coverage@20': r.coverage,
    testUsers: r.users,
    split: { kind: 'newest', cutoff: new Date(split.cutoffTime).toISOString(), testFraction: null },
  };
}

function alsOptions(recipe: Recipe, seed: number) {
  return {
    factors: recipe.factors,
    regularization: recipe.regularization,
    alpha: recipe.alpha,
    iterations: recipe.iterations,
    cgSteps: recipe.cgSteps,
    seed,
  };
}

/** Every stored item by id (the catalogue the content encoder learns from). */
async function itemsById(store: Store): Promise<Map<string, Item>> {
  const out = new Map<string, Item>();
  for await (const item of allItems(store)) out.set(item.itemId, item);
  return out;
}

const recipeOf = (m: VersionManifest): Recipe => ({ ...DEFAULT_RECIPE, ...(m.params as Partial<Recipe>) });

/**
 * A version serving `fit`, made from the events of `s` (the snapshot, or its part before a
 * holdout's cutoff): the factors and id maps, and the lists, rows and encoder serving reads;
 * its ANN index still building on its thread.
 */
async function versionDraft(
  s: Snapshot,
  fit: Fit,
  recipe: Recipe,
  seed: number,
  catalogue: ReadonlyMap<string, Item>,
  o: Pick<ServingArtefactOptions, 'clock' | 'graphs' | 'exactIndex' | 'encoder'> = {},
): Promise<PendingDraft> {
  // The encoder learns content → factors of the items the fit has seen.
  const seen = new Uint8Array(s.itemIds.length);
  for (let e = 0; e < s.length; e++) seen[s.items[e]!] = 1;
  const described = new Map<string, Item>();
  s.itemIds.forEach((id, i) => {
    const item = catalogue.get(id);
    if (seen[i] && item) described.set(id, item);
  });
  // The catalogue's other items get their content vectors now, not at every load.
  const inFit = new Set(s.itemIds);
  const unseen = [...catalogue.values()].filter((item) => !inFit.has(item.itemId));
  const { model, matrix } = fit;
  const extra = await servingArtefacts(s, matrix, model.itemFactors, model.factors, described, unseen, seed, {
    easeMaxItems: recipe.easeMaxItems,
    easeLambda: recipe.easeLambda,
    easeHalfLifeDays: recipe.easeHalfLifeDays,
    ...o,
  });
  return {
    meta: {
      kind: 'als',
      params: { ...recipe, ...extra.params },
      seed,
      data: {
        from: s.timestamps[0] ?? null,
        to: s.length ? s.timestamps[s.length - 1]! : null,
        users: s.userIds.length,
        items: s.itemIds.length,
        interactions: matrix.indices.length,
      },
      metrics: null,
      codeVersion: CODE_VERSION,
    },
    files: {
      [F.users]: Buffer.from(JSON.stringify(s.userIds)),
      [F.items]: Buffer.from(JSON.stringify(s.itemIds)),
      [F.userFactors]: bytesOf(model.userFactors),
      [F.itemFactors]: bytesOf(model.itemFactors),
      ...extra.files,
    },
    index: extra.index,
  };
}

/** A draft whose ANN index is still being built, on a thread of its own. */
interface PendingDraft extends VersionDraft {
  index: Promise<Record<string, Uint8Array>>;
}

/** The draft with its index, once built. */
async function withIndex({ meta, files, index }: PendingDraft): Promise<VersionDraft> {
  return { meta, files: { ...files, ...(await index) } };
}

export interface TrainOptions {
  store: Store;
  registry: ModelRegistry;
  recipe?: Partial<Recipe>;
  seed?: number;
  log: Logger;
  /** Called per ALS iteration of each fit, with which fit it is. */
  onIteration?: (phase: 'holdout' | 'final', info: AlsIterationInfo) => void;
  /**
   * Makes the engine the serving rules are tuned with (the composition root's `createEngine`);
   * without it the version carries no tuned rules, as with `recipe.tuneRules` false.
   */
  makeEngine?: (o: EngineOptions) => Engine;
  /**
   * The job that trains (its id): kept in the manifest's params, so a retried job finds the
   * version it published before and publishes no second one (`versionOfJob`).
   */
  jobKey?: string;
  /**
   * Called as each stage begins: snapshot, holdout fit, final fit, publish, holdout version (the
   * holdout fit served as a version, to tune the rules on), serving rules.
   */
  onStage?: (stage: TrainStage) => void;
  /** Called as each stage of the job ends, with its seconds (the stage breakdown). */
  onTiming?: (t: StageTiming) => void;
  /**
   * Solves both fits' half-steps in shards (a `ShardedAlsSolver`, training/sharded-als-solver.ts):
   * the same factors, the work spread over worker threads or BullMQ workers.
   */
  sideSolver?: AlsSideSolver;
  /**
   * From this many events the two fits run side by side on worker threads, the catalogue being
   * tokenized meanwhile. @defaultValue SIDE_BY_SIDE_MIN_EVENTS
   */
  sideBySideFrom?: number;
}

export type TrainStage =
  'snapshot' | 'holdout fit' | 'final fit' | 'publish' | 'holdout version' | 'serving rules';

export interface TrainResult {
  manifest: VersionManifest;
  /** Seconds per stage: snapshot, split, fit, evaluate, rules (and its draft), final fit, publish/…. */
  stages: StageTiming[];
  /** What the version was scored on and how (null: the split had no test users); the gate reuses it. */
  scored: ScoredSplit | null;
}

/**
 * A recipe and seed fitted on the train part of a snapshot's newest split and scored on its
 * test part: the gate reuses the score for any version with that recipe and seed on that split
 * instead of fitting and scoring the same model again (the fit is deterministic in its seed).
 */
export interface ScoredSplit {
  version: string;
  s: Snapshot;
  split: Holdout;
  recipe: Recipe;
  seed: number;
  metrics: OfflineMetrics;
}

/** The recipe fields the holdout fit and its score depend on, as a comparable key. */
function fitKey(r: Recipe, seed: number): string {
  return JSON.stringify([
    r.factors,
    r.regularization,
    r.alpha,
    r.iterations,
    r.cgSteps,
    r.weights,
    r.halfLifeDays,
    r.testFraction,
    seed,
  ]);
}

/** Trains and publishes a version (not yet current). */
export async function trainVersion(o: TrainOptions): Promise<TrainResult> {
  // A job that fails ends the graph builds it started, at their next yield, not at their end.
  const graphs = new GraphBuilds();
  try {
    return await trainAndPublish(o, graphs);
  } finally {
    await graphs.end(new Error('the train job ended before its ANN index was built'));
  }
}

async function trainAndPublish(o: TrainOptions, graphs: GraphBuilds): Promise<TrainResult> {
  const recipe: Recipe = { ...DEFAULT_RECIPE, ...o.recipe };
  const seed = o.seed ?? 42;
  o.onStage?.('snapshot');
  const clock = new StageClock(o.onTiming);
  const s = await clock.time('snapshot', () => takeSnapshot(o.store));
  if (s.length === 0 || s.itemIds.length === 0) throw new Error('the store has no user events to train on');
  o.log.info({ events: s.length, users: s.userIds.length, items: s.itemIds.length }, 'snapshot taken');
  const split = await clock.time('split', () =>
    newestSplit(s, { weights: recipe.weights, halfLifeDays: recipe.halfLifeDays }, recipe.testFraction),
  );
  const catalogue = await clock.time('catalogue', () => itemsById(o.store));
  const t0 = performance.now();
  o.onStage?.('holdout fit');
  const fit = (part: Holdout | null, phase: 'holdout' | 'final', offThread: boolean) =>
    clock.time(part ? 'fit' : 'final-fit', () =>
      fitRecipe(s, part, recipe, seed, {
        onIteration: (i) => o.onIteration?.(phase, i),
        ...(o.sideSolver ? { sideSolver: o.sideSolver } : {}),
        offThread,
      }),
    );
  const scoring = split.testUsers.length > 0;
  // Two fits big enough to repay starting their threads run side by side, half the cores each.
  const sideBySide = scoring && !o.sideSolver && s.length >= (o.sideBySideFrom ?? SIDE_BY_SIDE_MIN_EVENTS);
  let holdout: Fit | null = null;
  let final: Fit;
  // Both versions' encoders read the same catalogue: each item is tokenized once.
  const terms = new TermsMemo();
  if (sideBySide) {
    // This thread tokenizes the catalogue meanwhile.
    [holdout, final] = await Promise.all([
      fit(split, 'holdout', true),
      fit(null, 'final', true),
      terms.collect(catalogue.values()),
    ]);
    o.onStage?.('final fit');
  } else {
    holdout = scoring ? await fit(split, 'holdout', false) : null;
    o.onStage?.('final fit');
    final = await fit(null, 'final', false);
  }
  // The final version first: its graph (tens of seconds at 100k items, on a thread of its own)
  // then builds beside the scoring and the tuning, which need the holdout fit only.
  o.onStage?.('publish');
  const publishClock = clock.child('publish');
  // Its encoder solves on worker threads while this thread scores the holdout fit.
  const publishing = clock.time('publish', () =>
    versionDraft(s, final, recipe, seed, catalogue, {
      clock: publishClock,
      graphs,
      encoder: { terms, offThread: true },
    }),
  );
  // Settled at once: should scoring fail, the draft's failure is not an unhandled rejection.
  publishing.catch(() => {});
  const metrics = holdout
    ? await clock.time('evaluate', () => metricsOf(holdout.model, holdout.matrix, split))
    : null;
  const pending = await publishing;
  if (metrics) metrics.split.testFraction = recipe.testFraction;
  o.log.info({ ...metrics, split: undefined }, 'scored on the newest split');
  const makeEngine = o.makeEngine;
  const skipped = !recipe.tuneRules
    ? 'turned off (tuneRules false)'
    : !makeEngine
      ? 'no engine to tune them with'
      : !holdout
        ? 'the newest split has no test users'
        : null;
  let rules: TunedRules | { skipped: string } = { skipped: skipped ?? 'not tuned' };
  const t1 = performance.now();
  if (!skipped && holdout && makeEngine) {
    // The holdout fit served as a version of its own, to tune the rules on (no model is fitted
    // twice). It has no graph: it is searched exactly, each of its searches once however many
    // settings are tried (memo-index.ts), which costs far less than a graph. Its encoder only
    // places the items the holdout fit never saw: solved to 1e-2, under half the iterations
    // (its vectors ~2% from the 1e-3 solution; the demo store's tuned rules do not move). The
    // encoder solves on worker threads while this thread writes the store the tuning serves
    // from (cutoff-setup.ts), which awaits the draft only at its end.
    o.onStage?.('holdout version');
    const rulesClock = clock.child('rules');
    const holdoutVersion = rulesClock.time('draft', async () =>
      withIndex(
        await versionDraft(snapshotPrefix(s, split.cutoffIndex), holdout, recipe, seed, catalogue, {
          clock: rulesClock.child('draft'),
          exactIndex: true,
          encoder: { terms, tolerance: 1e-2, offThread: true },
        }),
      ),
    );
    holdoutVersion.catch(() => {}); // awaited by the tuning, which may fail before it does
    o.onStage?.('serving rules');
    rules = await rulesClock.time('tune', () =>
      tuneVersionRules({
        store: o.store,
        catalogue,
        s,
        split,
        holdoutVersion,
        makeEngine,
        maxUsers: recipe.rulesUsers,
        seed,
        log: o.log,
        clock: rulesClock.child('tune'),
      }),
    );
  }
  const tuneSeconds = (performance.now() - t1) / 1000;
  if ('skipped' in rules) o.log.info({ reason: rules.skipped }, 'serving rules not tuned');
  else clock.record('rules', tuneSeconds);
  const draft = await publishClock.time('index wait', () => withIndex(pending));
  const trainSeconds = (performance.now() - t0) / 1000 - tuneSeconds;
  const files =
    'skipped' in rules ? draft.files : { ...draft.files, [F.servingRules]: versionRulesFile(rules.rules) };
  const manifest = await clock.time('write', () =>
    // Under the registry's lock, as an erasure's rewrite is: a user erased since the snapshot
    // is left out here, or their erasure (waiting for the lock) finds this version stored.
    o.registry.exclusive(async () => {
      const erased = withoutUsers(files, new Set(await o.store.erasedUsers()));
      return o.registry.create(
        {
          ...draft.meta,
          params: {
            ...draft.meta.params,
            trainSeconds,
            ...(o.jobKey ? { jobKey: o.jobKey } : {}),
            servingRules: 'skipped' in rules ? rules : rules.report,
          },
          metrics,
        },
        { ...files, ...erased },
      );
    }),
  );
  o.log.info(
    { version: manifest.version, ndcgAt20: metrics?.['ndcg@20'], trainSeconds, tuneSeconds },
    'version published',
  );
  return {
    manifest,
    stages: clock.stages,
    scored: metrics ? { version: manifest.version, s, split, recipe, seed, metrics } : null,
  };
}

/** The version a train job `jobKey` published (newest first), or null. */
export async function versionOfJob(registry: ModelRegistry, jobKey: string): Promise<string | null> {
  for (const v of (await registry.versions()).reverse()) {
    if ((await registry.manifest(v)).params.jobKey === jobKey) return v;
  }
  return null;
}

export interface PromoteOptions {
  registry: ModelRegistry;
  store: Store;
  version: string;
  force?: boolean;
  gate?: Partial<GateOptions>;
  log: Logger;
  /**
   * The candidate's own score from `trainVersion` (same process): the gate compares on its
   * snapshot and split, and reuses its score for every version fitted with the same recipe
   * and seed, instead of taking a new snapshot and refitting. Ignored for another version.
   */
  scored?: ScoredSplit | null;
  /** Called as each stage of the gate ends (`gate/snapshot`, `gate/candidate`, `gate/current`). */
  onStage?: (t: StageTiming) => void;
}

export interface Verdict {
  promoted: boolean;
  message: string;
  candidate: number | null;
  current: number | null;
}

/**
 * The quality gate. The candidate and the current version are scored on the same newest split
 * of today's store: each version's recipe is fitted on the split's train part (a version fitted
 * on data that includes the test window would otherwise score itself on what it has seen).
 */
export async function promoteWithGate(o: PromoteOptions): Promise<Verdict> {
  const margin = o.gate?.margin ?? 0.005;
  const candidate = await o.registry.manifest(o.version);
  const currentVersion = await o.registry.current();
  if (currentVersion === o.version) {
    return { promoted: false, message: `${o.version} is already current`, candidate: null, current: null };
  }
  if (!currentVersion || o.force) {
    await o.registry.promote(o.version, o.force ? 'forced' : 'first version');
    const why = o.force ? ' (gate skipped: --force)' : ' (no current version to compare with)';
    return { promoted: true, message: `${o.version} is now current${why}`, candidate: null, current: null };
  }
  const current = await o.registry.manifest(currentVersion);
  const clock = new StageClock(o.onStage, 'gate/');
  const scored = o.scored && o.scored.version === o.version ? o.scored : null;
  const { s, split } =
    scored ??
    (await clock.time('snapshot', async () => {
      const snap = await takeSnapshot(o.store);
      const r = recipeOf(candidate);
      return {
        s: snap,
        split: newestSplit(snap, { weights: r.weights, halfLifeDays: r.halfLifeDays }, r.testFraction),
      };
    }));
  if (split.testUsers.length === 0) {
    return {
      promoted: false,
      message: `cannot compare ${o.version} with ${currentVersion}: the newest split has no test users (force it: --force, or ?force=true)`,
      candidate: null,
      current: null,
    };
  }
  // A score already taken on this split with the same recipe and seed is the score a refit gives.
  const reuse = (r: Recipe, seed: number): OfflineMetrics | null =>
    scored && fitKey(r, seed) === fitKey(scored.recipe, scored.seed) ? scored.metrics : null;
  const c = await clock.time(
    'candidate',
    () =>
      reuse(recipeOf(candidate), candidate.seed) ??
      scoreRecipe(s, split, recipeOf(candidate), candidate.seed),
  );
  const k = await clock.time(
    'current',
    () => reuse(recipeOf(current), current.seed) ?? scoreRecipe(s, split, recipeOf(current), current.seed),
  );
  const cand = c['ndcg@20'];
  const cur = k['ndcg@20'];
  o.log.info({ candidate: o.version, ndcgAt20: cand, current: currentVersion, currentNdcgAt20: cur }, 'gate');
  const scores = `NDCG@20 ${cand.toFixed(4)} vs ${cur.toFixed(4)} for ${currentVersion} on ${split.testUsers.length} test users`;
  if (cand < cur - margin) {
    return {
      promoted: false,
      message:
        `refused: ${o.version} scores ${scores}, more than the margin ${margin} below the current version; ` +
        `${currentVersion} stays current (force it: --force, or ?force=true)`,
      candidate: cand,
      current: cur,
    };
  }
  await o.registry.promote(o.version, `gate passed: ${scores}`);
  return { promoted: true, message: `${o.version} is now current: ${scores}`, candidate: cand, current: cur };
}

export interface VersionScore {
  metrics: OfflineMetrics;
  /** True when the version was trained on events of the test window (its score is optimistic). */
  sawTestWindow: boolean;
}

/**
 * Scores a published version as it is (its factors, users folded in from their train events)
 * on a split of a snapshot; items it never saw cannot be recommended by it.
 */
export function scoreVersion(loaded: AlsVersion, s: Snapshot, split: Holdout): VersionScore {
  const recipe = { ...DEFAULT_RECIPE, ...(loaded.manifest.params as Partial<Recipe>) };
  const train = interactionMatrix(
    s,
    { weights: recipe.weights, halfLifeDays: recipe.halfLifeDays },
    0,
    split.cutoffIndex,
    split.cutoffTime,
  );
  const adapter = foldInAdapter(loaded.model, loaded.itemIds, s.itemIds);
  return {
    metrics: metricsOf(adapter, train, split),
    sawTestWindow: (loaded.manifest.data.to ?? Number.NEGATIVE_INFINITY) >= split.cutoffTime,
  };
}

export interface ServedVersionOptions {
  store: Store;
  registry: ModelRegistry;
  version: string;
  s: Snapshot;
  split: Holdout;
  makeEngine: (o: EngineOptions) => Engine;
  log: Logger;
}

export interface ServedVersionScore {
  /** The tuned tiers as served, over every test user of the split. */
  tiers: Partial<Record<Tier, ServedResult>>;
  /** True when the version had seen the test window, so its recipe was refitted on the train part. */
  refitted: boolean;
  /** True when the version carries tuned rules (else the engine's defaults served). */
  tunedRules: boolean;
}

/**
 * Scores the tiers as served with a version's rules (`shelf evaluate --served`): the whole
 * pipeline answers each test user of `split` on the store as it stood at the cutoff, the
 * engine's clock at the cutoff. A version that saw the test window would be judged on what it
 * has learnt, so its recipe and seed are refitted on the train part (as the gate does) and
 * served with its rules; one that did not is served as it is.
 */
export async function scoreServedVersion(o: ServedVersionOptions): Promise<ServedVersionScore> {
  const manifest = await o.registry.manifest(o.version);
  const tunedRules = F.servingRules in manifest.files;
  const refitted = (manifest.data.to ?? Number.NEGATIVE_INFINITY) >= o.split.cutoffTime;
  let version: VersionDraft | { registry: ModelRegistry; version: string };
  if (refitted) {
    const recipe = recipeOf(manifest);
    const fit = await fitRecipe(o.s, o.split, recipe, manifest.seed);
    const draft = await withIndex(
      await versionDraft(
        snapshotPrefix(o.s, o.split.cutoffIndex),
        fit,
        recipe,
        manifest.seed,
        await itemsById(o.store),
      ),
    );
    if (tunedRules) draft.files[F.servingRules] = await o.registry.file(o.version, F.servingRules);
    version = draft;
  } else version = { registry: o.registry, version: o.version };
  const targets = holdoutTargets(o.s, o.split);
  const setup = await cutoffSetup({
    store: o.store,
    catalogue: await itemsById(o.store),
    s: o.s,
    split: o.split,
    users: Array.from(targets.testUsers, (u) => o.s.userIds[u]!),
    version,
  });
  try {
    const score = servedScorer(setup, targets, o.makeEngine, o.log);
    const tiers: ServedVersionScore['tiers'] = {};
    for (const tier of TUNED_TIERS) tiers[tier] = await score(tier);
    return { tiers, refitted, tunedRules };
  } finally {
    await setup.close();
  }
}
