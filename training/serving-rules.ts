/**
 * The serving rules a version is published with (`serving-rules.json`, read back by
 * src/serving/version-rules.ts): the personalized and homepage tiers' blend weights, MMR λ,
 * category cap and new-arrival slot, tuned for served NDCG@20 on the version's holdout — the
 * newest split its offline metrics come from, never data it will be judged on later — by the
 * search and under the diversity floor of the quality benchmark's served rows
 * (served-evaluation.ts `tuneServedTiers`). The holdout fit is served on the store as it stood
 * at the cutoff, the engine's clock at the cutoff (cutoff-setup.ts).
 */
import type { Logger } from 'pino';
import type { Engine, EngineOptions } from '../src/serving/engine.ts';
import type { Tier } from '../src/serving/types.ts';
import { DEFAULT_SERVING_CONFIG } from '../src/serving/types.ts';
import type { VersionRules } from '../src/serving/version-rules.ts';
import type { Item, Store } from '../src/store/types.ts';
import { cutoffSetup } from './cutoff-setup.ts';
import type { VersionDraft } from './cutoff-setup.ts';
import type { Holdout } from './holdout.ts';
import {
  holdoutTargets,
  KNOB_NAMES,
  sampleTargets,
  servedScorer,
  tuneServedTiers,
} from './served-evaluation.ts';
import type { ServedResult } from './served-evaluation.ts';
import type { Snapshot } from './snapshot.ts';
import { StageClock } from './stage-clock.ts';

/** The tiers a version's rules are tuned for: those a returning shopper's accuracy rests on. */
export const TUNED_TIERS: readonly Tier[] = ['personalized', 'homepage'];

export interface RulesTuningOptions {
  store: Store;
  catalogue: ReadonlyMap<string, Item>;
  s: Snapshot;
  split: Holdout;
  /**
   * The fit on the holdout's train part, as a version to serve; still in the making is fine: the
   * store at the cutoff is filled meanwhile.
   */
  holdoutVersion: VersionDraft | Promise<VersionDraft>;
  makeEngine: (o: EngineOptions) => Engine;
  /** Test users asked per setting: a seeded sample of at most this many (0: all). */
  maxUsers: number;
  seed: number;
  log: Logger;
  /**
   * Times the store at the cutoff (`setup`, with any wait for the version) and the search
   * (`search`). @defaultValue none
   */
  clock?: StageClock;
}

type Figures = Pick<ServedResult, 'ndcg@20' | 'recall@20' | 'coverage@20' | 'meanLength' | 'shortShare'>;

/** What the manifest records of the tuning (`params.servingRules`). */
export interface RulesReport {
  tiers: Tier[];
  knobs: readonly string[];
  /** Test users asked per setting, of how many the holdout has. */
  users: number;
  testUsers: number;
  /** The diversity floor (coverage@20 of the most accurate model source alone). */
  minCoverage: number;
  /**
   * Per tier, the holdout figures of the default rules and of the chosen ones; and of the best
   * setting found when its lead was within noise and the defaults were kept.
   */
  validation: Partial<Record<Tier, { start: Figures; chosen: Figures; withinNoise?: Figures }>>;
  /** Distinct settings scored over all tiers. */
  trials: number;
  seconds: number;
}

export interface TunedRules {
  rules: VersionRules;
  report: RulesReport;
}

export async function tuneVersionRules(o: RulesTuningOptions): Promise<TunedRules> {
  const t0 = performance.now();
  const all = holdoutTargets(o.s, o.split);
  const targets = sampleTargets(all, o.maxUsers, o.seed);
  const clock = o.clock ?? new StageClock();
  const setup = await clock.time('setup', () =>
    cutoffSetup({
      store: o.store,
      catalogue: o.catalogue,
      s: o.s,
      split: o.split,
      users: Array.from(targets.testUsers, (u) => o.s.userIds[u]!),
      version: o.holdoutVersion,
    }),
  );
  try {
    const score = servedScorer(setup, targets, o.makeEngine, o.log);
    const lacking = lackingSources(await o.holdoutVersion);
    const tuned = await clock.time('search', () =>
      tuneServedTiers(score, TUNED_TIERS, DEFAULT_SERVING_CONFIG, lacking),
    );
    const rules: VersionRules = {};
    const validation: RulesReport['validation'] = {};
    let trials = 0;
    for (const tier of TUNED_TIERS) {
      const t = tuned.tiers[tier]!;
      rules[tier] = t.rules;
      validation[tier] = {
        start: figures(t.start),
        chosen: figures(t.chosen),
        ...(t.keptStart ? { withinNoise: figures(t.best) } : {}),
      };
      trials += t.scored;
    }
    const report: RulesReport = {
      tiers: [...TUNED_TIERS],
      knobs: KNOB_NAMES,
      users: targets.testUsers.length,
      testUsers: all.testUsers.length,
      minCoverage: round4(tuned.minCoverage),
      validation,
      trials,
      seconds: Math.round((performance.now() - t0) / 10) / 100,
    };
    o.log.info(
      { users: report.users, trials, seconds: report.seconds, validation },
      'serving rules tuned on the newest split',
    );
    return { rules, report };
  } finally {
    await setup.close();
  }
}

/** The optional sources the version was published without (its params count their lists). */
function lackingSources(v: VersionDraft): Set<'ease' | 'neighbours'> {
  const lacks = (k: string) => !(Number(v.meta.params[k]) > 0);
  const out = new Set<'ease' | 'neighbours'>();
  if (lacks('easeK')) out.add('ease');
  if (lacks('neighboursK')) out.add('neighbours');
  return out;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

const figures = (r: ServedResult): Figures => ({
  'ndcg@20': round4(r['ndcg@20']),
  'recall@20': round4(r['recall@20']),
  'coverage@20': round4(r['coverage@20']),
  meanLength: round4(r.meanLength),
  shortShare: round4(r.shortShare),
});
