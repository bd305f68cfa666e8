/**
 * The serving rules a model version carries (`serving-rules.json`): blend weights, MMR λ and
 * category cap of some tiers, tuned for served accuracy on the version's own holdout
 * (training/serving-rules.ts). Such rules are data-driven: the weight that suits
 * one model's vector source (or one catalogue's EASE lists) does not suit the next, so the
 * rules travel with the model they were tuned for rather than living in the engine's config.
 * Pins, boosts, what counts as consumed and the new-arrival slot stay the operator's (the
 * engine's config): the slot is the shop's promise that new items are shown in their first 72
 * hours, which accuracy on past events cannot weigh (it credits only what holdout users went on
 * to engage with, which a slot item displaces). Files that carry a slot are read; the engine's
 * slot serves.
 */
import { RegistryError } from '../errors.ts';
import type { BlendWeights, ServingConfig, Tier, TierRules } from './types.ts';
import { TIERS } from './types.ts';

/** The tiers a version tuned, with their rules; the others keep the engine's. */
export type VersionRules = Partial<Record<Tier, TierRules>>;

const WEIGHT_KEYS: readonly (keyof BlendWeights)[] = [
  'vector',
  'neighbours',
  'complements',
  'trending',
  'ease',
];

/** The file's bytes: `{ "tiers": { "<tier>": TierRules } }`. */
export function versionRulesFile(rules: VersionRules): Buffer {
  return Buffer.from(JSON.stringify({ tiers: rules }, null, 2) + '\n');
}

/** Reads and validates the file (parsed, never evaluated); a bad file names the field. */
export function parseVersionRules(text: string, what = 'serving-rules.json'): VersionRules {
  const fail = (field: string, reason: string): never => {
    throw new RegistryError(`${what}: ${field} ${reason}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return fail('the file', 'is not JSON');
  }
  const tiers = isObject(doc) ? doc.tiers : undefined;
  if (!isObject(tiers)) return fail('tiers', 'must be an object');
  const out: VersionRules = {};
  for (const [tier, value] of Object.entries(tiers)) {
    if (!(TIERS as readonly string[]).includes(tier)) fail(`tiers.${tier}`, 'is not a tier');
    const at = `tiers.${tier}`;
    if (!isObject(value)) return fail(at, 'must be an object');
    const w = value.weights;
    if (!isObject(w)) return fail(`${at}.weights`, 'must be an object');
    const weights = {} as BlendWeights;
    for (const k of WEIGHT_KEYS) weights[k] = number(w[k], `${at}.weights.${k}`, 0, Infinity, fail);
    out[tier as Tier] = {
      weights,
      maxPerCategory: integer(value.maxPerCategory, `${at}.maxPerCategory`, 1, fail),
      mmrLambda: number(value.mmrLambda, `${at}.mmrLambda`, 0, 1, fail),
      newItemSlot: integer(value.newItemSlot, `${at}.newItemSlot`, -1, fail),
    };
  }
  return out;
}

/**
 * `config` with the tiers of `rules` replaced (pins, boosts, `consumed` and each tier's
 * new-arrival slot kept).
 */
export function withVersionRules(config: ServingConfig, rules: VersionRules | null): ServingConfig {
  if (!rules) return config;
  const tiers = { ...config.tiers };
  for (const tier of TIERS) {
    const r = rules[tier];
    if (r) tiers[tier] = { ...r, newItemSlot: config.tiers[tier].newItemSlot };
  }
  return { ...config, tiers };
}

type Fail = (field: string, reason: string) => never;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function number(v: unknown, field: string, min: number, max: number, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    return fail(field, `must be a number in [${min}, ${max}]`);
  return v;
}

function integer(v: unknown, field: string, min: number, fail: Fail): number {
  if (!Number.isSafeInteger(v) || (v as number) < min) return fail(field, `must be an integer ≥ ${min}`);
  return v as number;
}
