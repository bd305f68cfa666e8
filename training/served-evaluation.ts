/**
 * Scores what a shopper receives, not only the model: the serving pipeline (visitor,
 * candidates, filters, blend, rules, answer) answers each test user of a split, on a store
 * holding only what was known before the split's cutoff and a version fitted on it, with the
 * engine's clock at the cutoff (so trending, new arrivals and recency mean what they meant
 * then). One implementation for the quality benchmark's served rows (an EVALUATION.md split,
 * served-setup.ts), `shelf train`'s rule tuning and `shelf evaluate --served` (the newest
 * split of the store, cutoff-setup.ts).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createRng } from '../models/random.ts';
import { meanEstimate } from '../src/experiments/statistics.ts';
import { MemoryRealtime } from '../src/realtime/memory-realtime.ts';
import { DEFAULT_ROTATION } from '../src/realtime/rotation.ts';
import type { RealtimeState } from '../src/realtime/types.ts';
import type { ModelRegistry } from '../src/registry/model-registry.ts';
import type { Engine, EngineOptions } from '../src/serving/engine.ts';
import type { BlendWeights, RecommendRequest, ServingConfig, Tier, TierRules } from '../src/serving/types.ts';
import { TIERS, tierConfig } from '../src/serving/types.ts';
import type { Store } from '../src/store/types.ts';
import type { InteractionDataset } from './datasets/interaction-dataset.ts';
import { meanRankingMetrics } from './evaluate.ts';
import type { EvalTargets } from './evaluate.ts';
import type { Holdout } from './holdout.ts';
import type { Snapshot } from './snapshot.ts';
import type { EvalSplit } from './split.ts';

/** A store and a version as they stood at a split's cutoff. */
export interface ServedSetup {
  store: Store;
  registry: ModelRegistry;
  version: string;
  /** The split's cutoff, epoch ms: the engine's clock. */
  now: number;
  close(): Promise<void>;
  /**
   * Counts trending's window into the engine's real-time state before the engine starts, which
   * then reads no window from `store` (cutoffSetup's: from its snapshot, so that the store
   * need not hold the window). None: the engine reads it from `store`.
   */
  seedTrending?(realtime: RealtimeState): Promise<void>;
}

/** Whom a served evaluation asks, and what counts as a hit. */
export interface ServedTargets extends EvalTargets {
  /** Row → user id (`testUsers` holds rows). */
  userIds: readonly string[];
  /** Column → item id (the truth holds columns); coverage@20 counts over these items. */
  itemIds: readonly string[];
}

/** Served figures of one tier over the test users, with K = `k`. */
export interface ServedResult {
  users: number;
  'ndcg@20': number;
  'recall@20': number;
  /** Distinct items of the target columns in all lists / target columns. */
  'coverage@20': number;
  meanLength: number;
  /** Lists shorter than asked. */
  shortShare: number;
  /** Each test user's NDCG@20, in the targets' order (to compare two settings user by user). */
  ndcgByUser?: Float64Array;
}

/** The test users of a dataset split, in its train space. */
export function splitTargets(data: InteractionDataset, split: EvalSplit): ServedTargets {
  return {
    testUsers: split.testUsers,
    truthIndptr: split.truthIndptr,
    truthItems: split.truthItems,
    userIds: Array.from(split.userOf, (u) => data.userIds[u]!),
    itemIds: Array.from(split.itemOf, (i) => data.itemIds[i]!),
  };
}

/** The test users of a snapshot's holdout, in the snapshot's index space. */
export function holdoutTargets(s: Snapshot, split: Holdout): ServedTargets {
  return { ...pickTargets(split), userIds: s.userIds, itemIds: s.itemIds };
}

/** At most `max` of the test users (all when 0 or fewer than that), a seeded sample in row order. */
export function sampleTargets(t: ServedTargets, max: number, seed: number): ServedTargets {
  const n = t.testUsers.length;
  if (max <= 0 || n <= max) return t;
  // Partial Fisher–Yates over positions, then back in order.
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const rng = createRng(seed);
  for (let i = 0; i < max; i++) {
    const j = i + rng.int(n - i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const kept = order.subarray(0, max).sort();
  const truthIndptr = new Int32Array(max + 1);
  const items: number[] = [];
  kept.forEach((p, q) => {
    for (let k = t.truthIndptr[p]!; k < t.truthIndptr[p + 1]!; k++) items.push(t.truthItems[k]!);
    truthIndptr[q + 1] = items.length;
  });
  return {
    testUsers: Int32Array.from(kept, (p) => t.testUsers[p]!),
    truthIndptr,
    truthItems: Int32Array.from(items),
    userIds: t.userIds,
    itemIds: t.itemIds,
  };
}

const pickTargets = (t: EvalTargets): EvalTargets => ({
  testUsers: t.testUsers,
  truthIndptr: t.truthIndptr,
  truthItems: t.truthItems,
});

/**
 * ANN answers an evaluation engine remembers per user it is asked about: a few per tier. Every
 * answer a tuning asks again must still be held, or the memo (first in, first out) forgets
 * each one just before it is asked again.
 */
const SEARCH_MEMO_PER_USER = 4 * TIERS.length;

/** An engine over the setup's store and version, its clock at the cutoff, the list cache off. */
async function servedEngine(
  setup: ServedSetup,
  users: number,
  makeEngine: (o: EngineOptions) => Engine,
  log: Logger,
): Promise<Engine> {
  // Rotation off: every configuration tried asks each test user again, which is not a visitor
  // coming back to lists they were shown (rotation would demote what earlier trials showed).
  const realtime = new MemoryRealtime({ rotation: { ...DEFAULT_ROTATION, shows: 0 } });
  await setup.seedTrending?.(realtime);
  const engine = makeEngine({
    store: setup.store,
    realtime,
    registry: setup.registry,
    // Its swaps are not the server's: 'model swapped in' named a draft that is never published.
    log: log.child(
      { engine: 'evaluation' },
      { level: log.levelVal > log.levels.values.warn! ? log.level : 'warn' },
    ),
    now: () => setup.now,
    answerCache: { ttlMs: 0, entries: 0 },
    // Every setting tried asks each test user the same searches again.
    searchMemo: Math.max(1000, users * SEARCH_MEMO_PER_USER),
  });
  await engine.swap(setup.version);
  return engine;
}

const columns = new WeakMap<ServedTargets, Map<string, number>>();

/** Item id → target column, made once per targets: a tuning asks the same ones about 80 times. */
function columnsOf(targets: ServedTargets): Map<string, number> {
  let columnOf = columns.get(targets);
  if (!columnOf) {
    columnOf = new Map();
    for (const [col, id] of targets.itemIds.entries()) columnOf.set(id, col);
    columns.set(targets, columnOf);
  }
  return columnOf;
}

/** Asks `engine` for `tier` (K items) for each test user, and scores the lists. */
export async function evaluateServed(
  engine: Engine,
  targets: ServedTargets,
  tier: Tier,
  k = 20,
  request: Partial<RecommendRequest> = {},
): Promise<ServedResult> {
  const columnOf = columnsOf(targets);
  const lists: Int32Array[] = [];
  let lengths = 0;
  let short = 0;
  for (const row of targets.testUsers) {
    const userId = targets.userIds[row]!;
    const answer = await engine.recommend({ ...request, tier, userId, limit: k });
    lengths += answer.items.length;
    if (answer.items.length < k) short++;
    lists.push(Int32Array.from(answer.items, (it) => columnOf.get(it.itemId) ?? -1));
  }
  const listed = new Set<number>();
  for (const l of lists) for (const c of l) if (c >= 0) listed.add(c);
  const means = meanRankingMetrics(targets, targets.itemIds.length, k, (_row, t) => lists[t]!);
  const users = targets.testUsers.length;
  return {
    users,
    'ndcg@20': means.ndcg,
    'recall@20': means.recall,
    'coverage@20': targets.itemIds.length ? listed.size / targets.itemIds.length : 0,
    meanLength: users ? lengths / users : 0,
    shortShare: users ? short / users : 0,
    ndcgByUser: means.ndcgByUser,
  };
}

/**
 * Scores a tier over the test users under a configuration, or with none under the engine's
 * defaults (the engine's config with the served version's tuned rules).
 */
export type ServedScorer = (tier: Tier, config?: ServingConfig) => Promise<ServedResult>;

/**
 * A scorer on `setup`: one engine, every test user asked; a configuration travels with each
 * request (as an experiment variant's would), so it wins over the version's rules.
 */
export function servedScorer(
  setup: ServedSetup,
  targets: ServedTargets,
  makeEngine: (o: EngineOptions) => Engine,
  log: Logger,
): ServedScorer {
  let engine: Promise<Engine> | null = null;
  return async (tier, config) => {
    // A tuning scores for seconds without leaving this thread's loop otherwise: between
    // settings, what waits on it goes on (the train job's graph thread handing back its files).
    await yieldToEventLoop();
    return evaluateServed(
      await (engine ??= servedEngine(setup, targets.testUsers.length, makeEngine, log)),
      targets,
      tier,
      20,
      config ? { config: tierConfig(config, tier, 'evaluated') } : {},
    );
  };
}

/** One of the version's models alone: no other source, no rule, no slot. */
export const modelOnly = (source: 'vector' | 'ease', base: ServingConfig): ServingConfig => ({
  ...base,
  tiers: Object.fromEntries(
    TIERS.map((t) => [
      t,
      {
        weights: {
          vector: 0,
          neighbours: 0,
          complements: 0,
          trending: 0,
          ease: 0,
          [source]: 1,
        } as BlendWeights,
        maxPerCategory: Number.MAX_SAFE_INTEGER,
        mmrLambda: 1,
        newItemSlot: -1,
      },
    ]),
  ) as ServingConfig['tiers'],
});

/** One knob of a tier's rules the tuning moves, and the values it tries. */
interface Knob {
  name: string;
  values: number[];
  set(rules: TierRules, value: number): TierRules;
}

/** A knob moving one source's blend weight. */
const weightKnob = (name: keyof BlendWeights, values: number[]): Knob => ({
  name,
  values,
  set: (r, v) => ({ ...r, weights: { ...r.weights, [name]: v } }),
});

const KNOBS: Knob[] = [
  weightKnob('vector', [0, 0.5, 1]),
  weightKnob('ease', [0, 0.5, 1, 2]),
  weightKnob('neighbours', [0, 0.15, 0.3, 0.6, 1]),
  weightKnob('trending', [0, 0.05, 0.1, 0.4]),
  { name: 'mmrLambda', values: [1, 0.95, 0.9, 0.8], set: (r, v) => ({ ...r, mmrLambda: v }) },
  { name: 'maxPerCategory', values: [4, 8, 20], set: (r, v) => ({ ...r, maxPerCategory: v }) },
  // Not the new-arrival slot: the shop's promise to new items, which past events cannot weigh
  // (src/serving/version-rules.ts).
];

/** The knobs the tuning moves, by name. */
export const KNOB_NAMES: readonly string[] = KNOBS.map((k) => k.name);

export interface ServedTuning {
  /** The chosen rules of the tier. */
  rules: TierRules;
  /** The validation figures of the chosen rules and of those it started from. */
  chosen: ServedResult;
  start: ServedResult;
  /** Every setting tried, in order. */
  trials: { knob: string; value: number; 'ndcg@20': number; 'coverage@20': number }[];
  /** Distinct settings scored (the start among them). */
  scored: number;
  /** The best setting found, chosen unless its lead over the start was within noise. */
  best: ServedResult;
  /** That lead was within noise (`clearlyBetter`): the start kept. */
  keptStart: boolean;
}

/**
 * Coordinate search of one tier's rules for the best served NDCG@20 on a validation setup,
 * under a diversity floor: a setting whose coverage@20 falls below `minCoverage` is not taken.
 * Two passes over the knobs, each value tried from the best so far; a setting met again (the
 * second pass revisits many) is not asked again, nor the weight of a source `lacking`.
 */
export async function tuneServedRules(
  score: ServedScorer,
  tier: Tier,
  base: ServingConfig,
  minCoverage: number,
  lacking: ReadonlySet<string> = new Set(),
): Promise<ServedTuning> {
  const scored = new Map<string, ServedResult>();
  const scoreRules = async (rules: TierRules) => {
    const key = JSON.stringify(rules);
    let r = scored.get(key);
    if (!r) scored.set(key, (r = await score(tier, { ...base, tiers: { ...base.tiers, [tier]: rules } })));
    return r;
  };
  let rules = base.tiers[tier];
  const start = await scoreRules(rules);
  let best = start;
  const trials: ServedTuning['trials'] = [];
  for (let pass = 0; pass < 2; pass++) {
    for (const knob of KNOBS) {
      if (lacking.has(knob.name)) continue;
      for (const value of knob.values) {
        const next = knob.set(rules, value);
        if (JSON.stringify(next) === JSON.stringify(rules)) continue;
        const r = await scoreRules(next);
        trials.push({ knob: knob.name, value, 'ndcg@20': r['ndcg@20'], 'coverage@20': r['coverage@20'] });
        if (r['ndcg@20'] > best['ndcg@20'] && r['coverage@20'] >= minCoverage) {
          best = r;
          rules = next;
        }
      }
    }
  }
  // Picked as the best of many settings on few users, the winner's lead may be noise: on 25
  // MovieLens users, rules that scored below the defaults on the test users. Kept only if it
  // leads the start by more than two standard errors of its users' paired gains.
  const keptStart = best !== start && !clearlyBetter(best, start);
  return {
    ...(keptStart ? { rules: base.tiers[tier], chosen: start } : { rules, chosen: best }),
    start,
    best,
    trials,
    scored: scored.size,
    keptStart,
  };
}

/** How many standard errors of the paired per-user gain a tuned setting must lead by. */
export const CLEAR_LEAD = 2;

/**
 * Whether `a` scores above `b` by more than `CLEAR_LEAD` standard errors of the mean of the
 * users' paired NDCG differences (both scored on the same users; without per-user figures, by
 * the means alone).
 */
export function clearlyBetter(a: ServedResult, b: ServedResult): boolean {
  const [x, y] = [a.ndcgByUser, b.ndcgByUser];
  if (!x || !y || x.length !== y.length || x.length < 2) return a['ndcg@20'] > b['ndcg@20'];
  const gain = meanEstimate(Float64Array.from(x, (v, u) => v - y[u]!));
  return gain.value > CLEAR_LEAD * Math.sqrt(gain.variance);
}

export interface TiersTuning {
  /** `base` with the tuned tiers' rules. */
  config: ServingConfig;
  /** The diversity floor: coverage@20 of the most accurate model source alone. */
  minCoverage: number;
  tiers: Partial<Record<Tier, ServedTuning>>;
}

/**
 * Tunes `tiers` in turn from `base` (tuneServedRules) under the diversity floor of the served
 * rows: lists at least as diverse (coverage@20) as the most accurate model source alone (the
 * ALS vector or EASE), so the rules may not buy accuracy by narrowing what is shown. The weight
 * of a source the version lacks (`lacking`: EASE above its catalogue size) changes no list, so
 * it is not tried.
 */
export async function tuneServedTiers(
  score: ServedScorer,
  tiers: readonly Tier[],
  base: ServingConfig,
  lacking: ReadonlySet<'ease' | 'neighbours'> = new Set(),
): Promise<TiersTuning> {
  let bestModel = -1;
  let minCoverage = 0;
  for (const source of ['vector', 'ease'] as const) {
    if (source === 'ease' && lacking.has('ease')) continue;
    const r = await score('personalized', modelOnly(source, base));
    if (r['ndcg@20'] > bestModel) [bestModel, minCoverage] = [r['ndcg@20'], r['coverage@20']];
  }
  let config = base;
  const out: TiersTuning['tiers'] = {};
  for (const tier of tiers) {
    const t = await tuneServedRules(score, tier, base, minCoverage, lacking);
    out[tier] = t;
    config = { ...config, tiers: { ...config.tiers, [tier]: t.rules } };
  }
  return { config, minCoverage, tiers: out };
}
