/**
 * Adaptive serving per tier (issue #14 items 3 and 4), as configured (`SHELF_ADAPTIVE`): named
 * serving configurations (blend presets) beside the tier's default, and how a request picks one —
 * `bandit`: Thompson sampling on their attributed rewards (thompson.ts); `explore`: the default,
 * but with chance `exploration` one of all the arms drawn evenly, so logs carry propensities for
 * off-policy evaluation when no bandit runs. Checked field by field.
 */
import { ConfigError } from '../errors.ts';
import type { Tier } from '../serving/types.ts';
import { TIERS } from '../serving/types.ts';
import type { VariantConfig } from '../store/types.ts';
import { presetError } from './preset-schema.ts';
import type { BanditReward } from './thompson.ts';
import { DEFAULT_FLOOR } from './thompson.ts';

/** The tier's own default configuration, always an arm. */
export const DEFAULT_ARM = 'default';

export interface AdaptiveTier {
  mode: 'bandit' | 'explore';
  /** Presets by name (weights and rules over the tier's default); `default` is added. */
  arms: Record<string, Pick<VariantConfig, 'weights' | 'rules'>>;
  /** @defaultValue 'click' */
  reward: BanditReward;
  /** Each arm's least share under the bandit. @defaultValue 0.05 */
  floor: number;
  /** How often the bandit's allocation is recomputed, ms. @defaultValue 900,000 (15 minutes, GrowthBook's least) */
  everyMs: number;
  /** Impressions every arm needs before the split moves from even. @defaultValue 100 */
  minImpressions: number;
  /** `explore`: the chance a request is served an arm drawn evenly. @defaultValue 0 */
  exploration: number;
  /**
   * Whether each list also logs what every arm would have shown, position by position (the
   * item-position estimator of `shelf evaluate --off-policy` needs it): each request on the
   * tier then computes every arm's list, cached alike. @defaultValue true
   */
  positions: boolean;
}

export interface AdaptiveConfig {
  /** Seeds the allocation's Monte Carlo draws and the per-request picks. @defaultValue 1 */
  seed: number;
  tiers: Partial<Record<Tier, AdaptiveTier>>;
}

export const NO_ADAPTIVE: AdaptiveConfig = Object.freeze({ seed: 1, tiers: {} });

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** Presets per tier at most (with the default, 31 arms: one bit each in a position's mask). */
export const MAX_ARMS = 30;

/** `SHELF_ADAPTIVE` (JSON: tier → `{ mode, arms, reward?, floor?, everyMs?, minImpressions?, exploration?, positions? }`). */
export function parseAdaptive(json: string | undefined, seed = 1): AdaptiveConfig {
  if (json === undefined || json.trim() === '') return { seed, tiers: {} };
  const bad = (path: string, reason: string) =>
    new ConfigError(`SHELF_ADAPTIVE${path ? `.${path}` : ''}`, reason);
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw bad('', 'must be JSON');
  }
  if (!isObject(raw)) throw bad('', 'must be an object of tiers');
  const tiers: Partial<Record<Tier, AdaptiveTier>> = {};
  for (const [tier, v] of Object.entries(raw)) {
    if (!(TIERS as readonly string[]).includes(tier)) throw bad(tier, `must be one of ${TIERS.join(', ')}`);
    if (!isObject(v)) throw bad(tier, 'must be an object');
    const mode = v.mode ?? 'bandit';
    if (mode !== 'bandit' && mode !== 'explore') throw bad(`${tier}.mode`, 'must be bandit or explore');
    if (!isObject(v.arms) || !Object.keys(v.arms).length)
      throw bad(`${tier}.arms`, 'must name at least one preset');
    if (Object.keys(v.arms).length > MAX_ARMS)
      throw bad(`${tier}.arms`, `must name at most ${MAX_ARMS} presets`);
    const arms: AdaptiveTier['arms'] = {};
    for (const [name, preset] of Object.entries(v.arms)) {
      if (name === DEFAULT_ARM || !/^[A-Za-z0-9_.-]{1,64}$/.test(name))
        throw bad(`${tier}.arms.${name}`, `must be named 1–64 of A–Z a–z 0–9 _ . - (not ${DEFAULT_ARM})`);
      // The checks an experiment variant's weights and rules pass (a weight of 1e308 or a λ of
      // 7 served lists of null scores to real visitors).
      const wrong = presetError(preset);
      if (wrong) throw bad([`${tier}.arms.${name}`, wrong.path].filter(Boolean).join('.'), wrong.reason);
      arms[name] = preset as AdaptiveTier['arms'][string];
    }
    const num = (key: string, dflt: number, ok: (x: number) => boolean, reason: string) => {
      const x = v[key] ?? dflt;
      if (typeof x !== 'number' || !ok(x)) throw bad(`${tier}.${key}`, reason);
      return x;
    };
    const reward = v.reward ?? 'click';
    if (reward !== 'click' && reward !== 'purchase' && reward !== 'revenue')
      throw bad(`${tier}.reward`, 'must be click, purchase or revenue');
    const positions = v.positions ?? true;
    if (typeof positions !== 'boolean') throw bad(`${tier}.positions`, 'must be true or false');
    const k = Object.keys(arms).length + 1;
    tiers[tier as Tier] = {
      mode,
      arms,
      reward,
      floor: num('floor', DEFAULT_FLOOR, (x) => x >= 0 && x * k <= 1, `must lie in [0, 1/${k}]`),
      everyMs: num('everyMs', 900_000, (x) => Number.isInteger(x) && x >= 1000, 'must be an integer ≥ 1000'),
      minImpressions: num(
        'minImpressions',
        100,
        (x) => Number.isInteger(x) && x >= 0,
        'must be an integer ≥ 0',
      ),
      exploration: num('exploration', 0, (x) => x >= 0 && x <= 1, 'must lie in [0, 1]'),
      positions,
    };
  }
  return { seed, tiers };
}

/** The configuration name a preset serves under (keys impressions, aggregates, the list cache). */
export function armConfigName(tier: Tier, arm: string): string {
  return `adaptive:${tier}:${arm}`;
}
