import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../../src/errors.ts';
import { tierDefaults } from '../../../src/serving/served.ts';
import type { ServingConfig, TierRules } from '../../../src/serving/types.ts';
import { DEFAULT_SERVING_CONFIG } from '../../../src/serving/types.ts';
import { parseVersionRules, versionRulesFile, withVersionRules } from '../../../src/serving/version-rules.ts';
import { model } from '../../helpers/served-fixture.ts';

const tuned: TierRules = {
  weights: { vector: 0.5, neighbours: 0, complements: 0, trending: 0, ease: 2 },
  maxPerCategory: Number.MAX_SAFE_INTEGER,
  mmrLambda: 1,
  newItemSlot: -1,
};

describe('version rules', () => {
  it('round-trips through the file', () => {
    const rules = { personalized: tuned, homepage: DEFAULT_SERVING_CONFIG.tiers.homepage };
    expect(parseVersionRules(versionRulesFile(rules).toString('utf8'))).toEqual(rules);
  });

  it('rejects a malformed file, naming the field', () => {
    const bad = (tiers: unknown) => () => parseVersionRules(JSON.stringify({ tiers }));
    expect(() => parseVersionRules('{')).toThrow(RegistryError);
    expect(bad([])).toThrow(/tiers must be an object/);
    expect(bad({ checkout: tuned })).toThrow(/tiers\.checkout is not a tier/);
    expect(bad({ homepage: { ...tuned, mmrLambda: 1.5 } })).toThrow(/tiers\.homepage\.mmrLambda must be/);
    expect(bad({ homepage: { ...tuned, newItemSlot: -2 } })).toThrow(/newItemSlot must be an integer ≥ -1/);
    expect(bad({ homepage: { ...tuned, maxPerCategory: 2.5 } })).toThrow(/maxPerCategory/);
    const { ease: _e, ...noEase } = tuned.weights;
    expect(bad({ homepage: { ...tuned, weights: noEase } })).toThrow(/tiers\.homepage\.weights\.ease/);
    expect(bad({ homepage: { ...tuned, weights: { ...tuned.weights, vector: -1 } } })).toThrow(/vector/);
  });

  // Seen with Online Retail: every tuned version had turned the slot off (-1) in both tuned
  // tiers, and 12 items added through PUT /v1/items were never shown.
  it('replaces the tuned tiers only, and keeps the operator’s pins, boosts, consumed types and new-arrival slot', () => {
    const config: ServingConfig = {
      ...DEFAULT_SERVING_CONFIG,
      pins: [{ itemId: 'a', slot: 0, tiers: ['personalized'] }],
      boosts: { brands: { Acme: 2 } },
      consumed: ['purchase'],
    };
    expect(withVersionRules(config, null)).toBe(config);
    const merged = withVersionRules(config, { personalized: tuned });
    const slot = config.tiers.personalized.newItemSlot;
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(merged.tiers.personalized).toEqual({ ...tuned, newItemSlot: slot });
    expect(merged.tiers.homepage).toEqual(config.tiers.homepage);
    const defaults = tierDefaults(config, model({ rules: { personalized: tuned } }));
    expect(defaults.personalized).toMatchObject({
      ...tuned,
      newItemSlot: slot,
      name: 'default',
      consumed: ['purchase'],
    });
    expect(defaults.personalized.pins).toEqual(config.pins);
    expect(defaults.personalized.boosts).toEqual(config.boosts);
    expect(defaults.homepage).toMatchObject(config.tiers.homepage);
    expect(tierDefaults(config, model()).personalized).toMatchObject(config.tiers.personalized);
  });
});
