/**
 * Which configuration a request is served with, on the hot path: the running experiments of its
 * tier (held in memory, rebuilt from the store on every experiment change of the feed) choose a
 * variant by two hashes — the layer's, to pick the one experiment of the layer the unit falls in,
 * then the experiment's salt, to pick the variant — and a shipped variant is the tier's default
 * for everyone else. No store read per request; a variant's `TierConfig` is built once per base.
 */
import type { RecommendRequest, Tier, TierConfig } from '../serving/types.ts';
import type { Experiment, VariantConfig } from '../store/types.ts';
import { bucketOf, layerSeed, shareBounds, variantOf } from './assignment.ts';
import { variantConfigName } from './experiment-definition.ts';

interface CompiledVariant {
  name: string;
  configName: string;
  config: VariantConfig;
  /** The variant's TierConfig per base configuration (a version swap makes a new base). */
  built: WeakMap<TierConfig, TierConfig>;
}

interface Compiled {
  id: string;
  salt: string;
  unit: 'user' | 'session';
  layerSeed: string;
  range: readonly [number, number];
  bounds: Int32Array;
  variants: CompiledVariant[];
}

export interface Assignment {
  experiment: string;
  variant: string;
}

const compileVariant = (experimentId: string, name: string, config: VariantConfig, configName?: string) => ({
  name,
  configName: configName ?? variantConfigName(experimentId, name),
  config,
  built: new WeakMap<TierConfig, TierConfig>(),
});

/** `base` with a variant's weights and rules in place. */
export function withVariant(base: TierConfig, name: string, v: VariantConfig): TierConfig {
  return { ...base, ...v.rules, name, weights: { ...base.weights, ...v.weights } };
}

export class ExperimentRouter {
  private running = new Map<Tier, Compiled[]>();
  private shipped = new Map<Tier, CompiledVariant>();

  /** Replaces what is served from `experiments` (all of them, as the store holds them). */
  load(experiments: readonly Experiment[]): void {
    const running = new Map<Tier, Compiled[]>();
    const shipped = new Map<Tier, { at: number; v: CompiledVariant }>();
    for (const e of experiments) {
      if (e.state === 'running' && e.range) {
        const c: Compiled = {
          id: e.id,
          salt: e.salt,
          unit: e.unit,
          layerSeed: layerSeed(e.layer),
          range: e.range,
          bounds: shareBounds(e.variants.map((v) => v.share)),
          variants: e.variants.map((v) => compileVariant(e.id, v.name, v.config)),
        };
        for (const t of e.tiers as Tier[]) running.set(t, [...(running.get(t) ?? []), c]);
      } else if (e.state === 'shipped' && e.shipped) {
        const v = e.variants.find((x) => x.name === e.shipped!.variant);
        if (!v) continue;
        // The newest ship of a tier wins.
        for (const t of e.tiers as Tier[]) {
          const prev = shipped.get(t);
          if (!prev || prev.at < e.shipped.at)
            shipped.set(t, {
              at: e.shipped.at,
              v: compileVariant(e.id, v.name, v.config, `shipped:${e.id}:${v.name}`),
            });
        }
      }
    }
    this.running = running;
    this.shipped = new Map([...shipped].map(([t, s]) => [t, s.v]));
  }

  /** True when some experiment runs or was shipped (the route skips the lookup otherwise). */
  get active(): boolean {
    return this.running.size > 0 || this.shipped.size > 0;
  }

  /** The experiment and variant `unitId` gets on `tier`, or null. */
  assign(
    tier: Tier,
    r: Pick<RecommendRequest, 'userId' | 'sessionId'>,
  ): (Assignment & { v: CompiledVariant }) | null {
    const list = this.running.get(tier);
    if (!list) return null;
    let layer = '';
    let layerBucket = -1;
    for (const c of list) {
      const unitId = c.unit === 'user' ? r.userId : r.sessionId;
      if (unitId === undefined) continue;
      if (c.layerSeed !== layer) {
        layer = c.layerSeed;
        layerBucket = bucketOf(c.layerSeed, unitId);
      }
      if (layerBucket < c.range[0] || layerBucket >= c.range[1]) continue;
      const v = c.variants[variantOf(c.bounds, bucketOf(c.salt, unitId))]!;
      return { experiment: c.id, variant: v.name, v };
    }
    return null;
  }

  /**
   * Sets the request's configuration (and experiment and variant when it is in one) from
   * `base`, the tier's default now; leaves the request alone otherwise.
   */
  route(r: RecommendRequest, base: TierConfig): void {
    const a = this.assign(r.tier, r);
    if (a) {
      r.config = built(a.v, base);
      r.experiment = a.experiment;
      r.variant = a.variant;
      return;
    }
    const s = this.shipped.get(r.tier);
    if (s) r.config = built(s, base);
  }
}

function built(v: CompiledVariant, base: TierConfig): TierConfig {
  let c = v.built.get(base);
  if (!c) {
    c = withVariant(base, v.configName, v.config);
    v.built.set(base, c);
  }
  return c;
}
