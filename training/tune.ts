/**
 * `shelf tune`: seeded random search over the ALS recipe on a validation split carved from the
 * train part of the newest split (the test part is never seen while tuning), within a trial
 * and time budget; the best recipe is then scored once on the test part.
 */
import type { OfflineMetrics } from '../src/registry/model-registry.ts';
import { createRng } from '../models/random.ts';
import { newestSplit } from './holdout.ts';
import { DEFAULT_RECIPE, scoreRecipe } from './publish.ts';
import type { Recipe } from './publish.ts';
import { snapshotPrefix } from './snapshot.ts';
import type { Snapshot } from './snapshot.ts';

/** Candidate values per hyper-parameter; each trial draws one of each. */
export interface SearchSpace {
  factors: number[];
  regularization: number[];
  alpha: number[];
  iterations: number[];
  halfLifeDays: number[];
}

export const DEFAULT_SPACE: SearchSpace = {
  factors: [16, 32, 64, 128],
  regularization: [0.01, 0.1, 1, 10],
  alpha: [0.5, 1, 2, 5, 10, 20],
  iterations: [8, 15],
  halfLifeDays: [0, 30, 90, 365],
};

export interface Trial {
  recipe: Recipe;
  validation: OfflineMetrics;
  seconds: number;
}

export interface TuneOptions {
  base?: Partial<Recipe>;
  space?: SearchSpace;
  /** @defaultValue 20 */
  trials?: number;
  /** Stop starting new trials after this many seconds. @defaultValue 300 */
  timeBudgetSeconds?: number;
  seed?: number;
  onTrial?: (trial: Trial, index: number) => void;
}

export interface TuneResult {
  trials: Trial[];
  best: Trial;
  /** The best recipe fitted on the whole train part and scored on the test part. */
  test: OfflineMetrics;
}

export async function tune(s: Snapshot, o: TuneOptions = {}): Promise<TuneResult> {
  const base: Recipe = { ...DEFAULT_RECIPE, ...o.base };
  const space = o.space ?? DEFAULT_SPACE;
  const seed = o.seed ?? 42;
  const rng = createRng(seed);
  const weightsOf = (r: Recipe) => ({ weights: r.weights, halfLifeDays: r.halfLifeDays });
  const test = newestSplit(s, weightsOf(base), base.testFraction);
  const trainPart = snapshotPrefix(s, test.cutoffIndex);
  const budgetMs = (o.timeBudgetSeconds ?? 300) * 1000;
  const started = performance.now();
  const trials: Trial[] = [];
  const seen = new Set<string>();
  const maxTrials = o.trials ?? 20;
  // The first trial is the base recipe, so tuning never reports something worse than it.
  let recipe: Recipe = base;
  for (let t = 0; t < maxTrials * 5 && trials.length < maxTrials; t++) {
    if (performance.now() - started > budgetMs) break;
    const key = JSON.stringify([
      recipe.factors,
      recipe.regularization,
      recipe.alpha,
      recipe.iterations,
      recipe.halfLifeDays,
    ]);
    if (!seen.has(key)) {
      seen.add(key);
      const validation = newestSplit(trainPart, weightsOf(recipe), base.testFraction);
      if (validation.testUsers.length === 0)
        throw new Error('the validation split has no test users: too little data');
      const t0 = performance.now();
      const metrics = await scoreRecipe(trainPart, validation, recipe, seed);
      const trial = { recipe, validation: metrics, seconds: (performance.now() - t0) / 1000 };
      trials.push(trial);
      o.onTrial?.(trial, trials.length - 1);
    }
    const pick = <T>(xs: T[]) => xs[rng.int(xs.length)]!;
    recipe = {
      ...base,
      factors: pick(space.factors),
      regularization: pick(space.regularization),
      alpha: pick(space.alpha),
      iterations: pick(space.iterations),
      halfLifeDays: pick(space.halfLifeDays),
    };
  }
  const best = trials.reduce((a, b) => (b.validation['ndcg@20'] > a.validation['ndcg@20'] ? b : a));
  const testSplit = newestSplit(s, weightsOf(best.recipe), base.testFraction);
  return { trials, best, test: await scoreRecipe(s, testSplit, best.recipe, seed) };
}
