/**
 * Scores what a shopper receives, not only the model: the serving pipeline (visitor,
 * candidates, filters, blend, rules, answer) answers each test user of an EVALUATION.md split,
 * on a store holding only the split's train part and a version `shelf train` made from it,
 * with the engine's clock at the split's cutoff (so trending, new arrivals and recency mean
 * what they meant then). Items are published at their first train interaction (a back
 * catalogue is not all "new").
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MemoryRealtime } from '../src/realtime/memory-realtime.ts';
import { ModelRegistry } from '../src/registry/model-registry.ts';
import type { Engine, EngineOptions } from '../src/serving/engine.ts';
import type { BlendWeights, RecommendRequest, ServingConfig, Tier, TierRules } from '../src/serving/types.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { EventType, Item, ShelfEvent, Store } from '../src/store/types.ts';
import type { InteractionDataset } from './datasets/interaction-dataset.ts';
import { meanRankingMetrics } from './evaluate.ts';
import { trainVersion } from './publish.ts';
import type { Recipe } from './publish.ts';
import type { EvalSplit } from './split.ts';

/** A store and a current version made from a split's train part. */
export interface ServedSetup {
  store: Store;
  registry: ModelRegistry;
  version: string;
  /** The split's cutoff, epoch ms: the engine's clock. */
  now: number;
  close(): Promise<void>;
}

export interface ServedSetupOptions {
  /** What a train interaction is stored as (online-retail: purchase; MovieLens: rating). */
  eventType: EventType;
  /** Engine clock, epoch ms; default: 1 ms after the newest train interaction. */
  now?: number;
  recipe?: Partial<Recipe>;
  seed: number;
  log: Logger;
}

/** Served figures of one tier over a split's test users, with K = `k`. */
export interface ServedResult {
  users: number;
  'ndcg@20': number;
  'recall@20': number;
  /** Distinct train items in all lists / train items. */
  'coverage@20': number;
  meanLength: number;
  /** Lists shorter than asked. */
  shortShare: number;
}

const BATCH = 10_000;

/** Imports the split's train part into a fresh SQLite store and trains and promotes a version on it. */
export async function servedSetup(
  data: InteractionDataset,
  split: EvalSplit,
  o: ServedSetupOptions,
): Promise<ServedSetup> {
  const dir = await mkdtemp(join(tmpdir(), 'shelf-served-'));
  const store = await openSqliteStore(':memory:');
  try {
    const firstSeen = new Float64Array(data.itemCount).fill(Infinity);
    let newest = -Infinity;
    for (const r of split.trainRows) {
      const ms = data.timestamps[r]! * 1000;
      const i = data.items[r]!;
      if (ms < firstSeen[i]!) firstSeen[i] = ms;
      if (ms > newest) newest = ms;
    }
    const items: Item[] = [];
    for (const i of split.itemOf) {
      items.push({
        itemId: data.itemIds[i]!,
        title: data.itemTitles[i] || data.itemIds[i]!,
        categories: data.itemCategories[i] ?? [],
        status: 'active',
        publishedAt: firstSeen[i]!,
        repurchasable: false,
        attributes: {},
      });
    }
    await store.upsertItems(items);
    let batch: ShelfEvent[] = [];
    for (const r of split.trainRows) {
      const value = data.values[r]!;
      batch.push({
        eventId: `e${r}`,
        type: o.eventType,
        userId: data.userIds[data.users[r]!]!,
        itemId: data.itemIds[data.items[r]!]!,
        timestamp: data.timestamps[r]! * 1000,
        ...(o.eventType === 'rating' ? { value } : { quantity: value }),
      });
      if (batch.length === BATCH) {
        await store.insertEvents(batch);
        batch = [];
      }
    }
    if (batch.length) await store.insertEvents(batch);
    const registry = new ModelRegistry(join(dir, 'models'));
    const { manifest } = await trainVersion({
      store,
      registry,
      ...(o.recipe ? { recipe: o.recipe } : {}),
      seed: o.seed,
      log: o.log,
    });
    await registry.promote(manifest.version);
    return {
      store,
      registry,
      version: manifest.version,
      now: o.now ?? newest + 1,
      close: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** An engine over the setup's store and version, its clock at the cutoff, the list cache off. */
export async function servedEngine(
  setup: ServedSetup,
  makeEngine: (o: EngineOptions) => Engine,
  log: Logger,
  config?: ServingConfig,
): Promise<Engine> {
  const engine = makeEngine({
    store: setup.store,
    realtime: new MemoryRealtime(),
    registry: setup.registry,
    log,
    now: () => setup.now,
    answerCache: { ttlMs: 0, entries: 0 },
    ...(config ? { config } : {}),
  });
  await engine.swap(setup.version);
  return engine;
}

/** Asks `engine` for `tier` (K items) for each test user of `split`, and scores the lists. */
export async function evaluateServed(
  engine: Engine,
  data: InteractionDataset,
  split: EvalSplit,
  tier: Tier,
  k = 20,
  request: Partial<RecommendRequest> = {},
): Promise<ServedResult> {
  const columnOf = new Map<string, number>();
  split.itemOf.forEach((i, col) => columnOf.set(data.itemIds[i]!, col));
  const lists: Int32Array[] = [];
  let lengths = 0;
  let short = 0;
  for (const row of split.testUsers) {
    const userId = data.userIds[split.userOf[row]!]!;
    const answer = await engine.recommend({ ...request, tier, userId, limit: k });
    lengths += answer.items.length;
    if (answer.items.length < k) short++;
    lists.push(Int32Array.from(answer.items, (it) => columnOf.get(it.itemId) ?? -1));
  }
  const listed = new Set<number>();
  for (const l of lists) for (const c of l) if (c >= 0) listed.add(c);
  const means = meanRankingMetrics(split, split.itemOf.length, k, (_row, t) => lists[t]!);
  const users = split.testUsers.length;
  return {
    users,
    'ndcg@20': means.ndcg,
    'recall@20': means.recall,
    'coverage@20': split.itemOf.length ? listed.size / split.itemOf.length : 0,
    meanLength: users ? lengths / users : 0,
    shortShare: users ? short / users : 0,
  };
}

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
  { name: 'newItemSlot', values: [-1, 4], set: (r, v) => ({ ...r, newItemSlot: v }) },
];

export interface ServedTuning {
  /** The chosen rules of the tier. */
  rules: TierRules;
  /** The validation figures of the chosen rules and of those it started from. */
  chosen: ServedResult;
  start: ServedResult;
  /** Every setting tried, in order. */
  trials: { knob: string; value: number; 'ndcg@20': number; 'coverage@20': number }[];
}

/** Scores a tier over a setup's test users under a configuration (default: the engine's). */
export type ServedScorer = (tier: Tier, config?: ServingConfig) => Promise<ServedResult>;

/** A scorer on `setup`: a fresh engine per configuration, every test user of `split` asked. */
export function servedScorer(
  setup: ServedSetup,
  data: InteractionDataset,
  split: EvalSplit,
  makeEngine: (o: EngineOptions) => Engine,
  log: Logger,
): ServedScorer {
  return async (tier, config) =>
    evaluateServed(await servedEngine(setup, makeEngine, log, config), data, split, tier);
}

/**
 * Coordinate search of one tier's rules for the best served NDCG@20 on a validation setup,
 * under a diversity floor: a setting whose coverage@20 falls below `minCoverage` is not taken.
 * Two passes over the knobs, each value tried from the best so far.
 */
export async function tuneServedRules(
  score: ServedScorer,
  tier: Tier,
  base: ServingConfig,
  minCoverage: number,
): Promise<ServedTuning> {
  const scoreRules = (rules: TierRules) => score(tier, { ...base, tiers: { ...base.tiers, [tier]: rules } });
  let rules = base.tiers[tier];
  const start = await scoreRules(rules);
  let best = start;
  const trials: ServedTuning['trials'] = [];
  for (let pass = 0; pass < 2; pass++) {
    for (const knob of KNOBS) {
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
  return { rules, chosen: best, start, trials };
}
