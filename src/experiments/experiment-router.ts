/**
 * Which configuration a request is served with, on the hot path: the running experiments of its
 * tier (held in memory, rebuilt from the store on every experiment change of the feed) choose a
 * variant by two hashes — the layer's, to pick the one experiment of the layer the unit falls in,
 * then the experiment's salt, to pick the variant — and a shipped variant is the tier's default
 * for everyone, the variants of an experiment started later built on it. No store read per
 * request, but for an experiment with an audience: a unit in its slice is enrolled only when its
 * segment is one of the audience's (`segmentOf`, cached by its caller), else served the default
 * and not counted. A variant's `TierConfig` is built once per base.
 */
import type { RecommendRequest, Tier, TierConfig } from '../serving/types.ts';
import type { Experiment, VariantConfig } from '../store/types.ts';
import { bucketOf, bucketTable, layerSeed, rangesOf } from './assignment.ts';
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
  /** Bucket → variant index. */
  table: Uint8Array;
  /** Segments enrolled; null: everyone. */
  audience: ReadonlySet<string> | null;
  variants: CompiledVariant[];
}

/** A visitor's segment (src/segments/): a user's as classified, `new` without a user id, null: none (no consent). */
export type SegmentOf = (userId: string | undefined) => string | null | Promise<string | null>;

export interface ExperimentRouterOptions {
  /** Needed once an experiment has an audience (such a one enrols nobody without it). */
  segmentOf?: SegmentOf;
  /**
   * A tier's default configuration on a version held beside the current one (its own tuned
   * rules), for variants naming a `modelVersion`; without it (or null) the current one's.
   */
  defaultsOf?: (tier: Tier, version: string) => TierConfig | null;
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
  return {
    ...base,
    ...v.rules,
    name,
    weights: { ...base.weights, ...v.weights },
    ...(v.modelVersion !== undefined ? { modelVersion: v.modelVersion } : {}),
  };
}

/** The model versions the running and shipped experiments of `experiments` serve from. */
export function versionsServed(experiments: readonly Experiment[]): string[] {
  const out = new Set<string>();
  for (const e of experiments) {
    if (e.state === 'running' || e.state === 'paused')
      for (const v of e.variants) if (v.config.modelVersion) out.add(v.config.modelVersion);
    if (e.state === 'shipped' && e.shipped) {
      const v = e.variants.find((x) => x.name === e.shipped!.variant);
      if (v?.config.modelVersion) out.add(v.config.modelVersion);
    }
  }
  return [...out];
}

type Assigned = Assignment & { v: CompiledVariant; unit: 'user' | 'session' };

export class ExperimentRouter {
  private running = new Map<Tier, Compiled[]>();
  private shipped = new Map<Tier, CompiledVariant>();

  constructor(private readonly o: ExperimentRouterOptions = {}) {}

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
          table: bucketTable(
            e.variants.some((v) => v.buckets)
              ? e.variants.map((v) => v.buckets ?? [])
              : rangesOf(e.variants.map((v) => v.share)),
          ),
          audience: e.audience?.segments?.length ? new Set(e.audience.segments) : null,
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

  /**
   * Each tier whose shipped variant names a model version other than `current`, and that version:
   * promotions and rollbacks do not reach such a tier until the variant is unshipped. From memory,
   * for `/readyz` (no store read per probe).
   */
  pinned(current: string | null): Partial<Record<Tier, string>> {
    const out: Partial<Record<Tier, string>> = {};
    for (const [tier, v] of this.shipped) {
      const version = v.config.modelVersion;
      if (version !== undefined && version !== current) out[tier] = version;
    }
    return out;
  }

  /** True when some experiment runs or was shipped (the route skips the lookup otherwise). */
  get active(): boolean {
    return this.running.size > 0 || this.shipped.size > 0;
  }

  /**
   * The experiment and variant `unitId` gets on `tier`, or null; a promise only when the unit
   * falls in an experiment with an audience and its segment must be looked up.
   */
  assign(
    tier: Tier,
    r: Pick<RecommendRequest, 'userId' | 'sessionId'>,
  ): Assigned | null | Promise<Assigned | null> {
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
      const v = c.variants[c.table[bucketOf(c.salt, unitId)]!]!;
      const a: Assigned = { experiment: c.id, variant: v.name, v, unit: c.unit };
      // Experiments of a layer never share a unit: outside the audience, it is in none of them.
      if (!c.audience) return a;
      const audience = c.audience;
      if (!this.o.segmentOf) return null;
      const seg = this.o.segmentOf(r.userId);
      if (seg instanceof Promise) return seg.then((x) => (x !== null && audience.has(x) ? a : null));
      return seg !== null && audience.has(seg) ? a : null;
    }
    return null;
  }

  /**
   * Sets the request's configuration (and experiment and variant when it is in one) from
   * `base`, the tier's default now; leaves the request alone otherwise.
   */
  route(r: RecommendRequest, base: TierConfig): void | Promise<void> {
    const a = this.assign(r.tier, r);
    if (a instanceof Promise) return a.then((x) => this.apply(r, base, x));
    this.apply(r, base, a);
  }

  private apply(r: RecommendRequest, base: TierConfig, a: Assigned | null): void {
    const s = this.shipped.get(r.tier);
    if (!a && !s) return;
    // A shipped variant is the tier's default for everyone, a running experiment's units too:
    // its variants change that default, not the engine's.
    const version = a?.v.config.modelVersion ?? s?.config.modelVersion;
    let c = (version !== undefined && this.o.defaultsOf?.(r.tier, version)) || base;
    if (s) c = built(s, c);
    if (a) {
      c = built(a.v, c);
      r.experiment = a.experiment;
      r.variant = a.variant;
      if (a.unit === 'session') r.sessionUnit = true;
    }
    r.config = c;
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
