/**
 * Adaptive serving on the hot path: for a tier with a policy (adaptive-policy.ts), a request not
 * in an experiment is served one arm, drawn with the arm's current chance from a seeded
 * generator, and that chance goes on the impression as its propensity (with every arm, when the
 * policy logs positions: the answer then records what each would have shown). Requests in an
 * experiment are left alone (never inside a control arm; a treatment keeps its variant's
 * configuration, so the experiment's numbers stay its own). Without a policy, `active` is false
 * and nothing runs.
 *
 * `refresh` (on a timer) reads the shared split (allocation-state.ts); when it is due, recomputes
 * it from the arms' attributed totals in the store by Thompson sampling (thompson.ts) and writes
 * it for every replica.
 */
import type { Logger } from 'pino';
import { createRng } from '../../models/random.ts';
import type { Rng } from '../../models/random.ts';
import type { RecommendRequest, Tier, TierConfig } from '../serving/types.ts';
import type { Store } from '../store/types.ts';
import type { AdaptiveConfig, AdaptiveTier } from './adaptive-policy.ts';
import { armConfigName, DEFAULT_ARM } from './adaptive-policy.ts';
import type { AllocationState, StoredAllocation } from './allocation-state.ts';
import { withVariant } from './experiment-router.ts';
import { allocation, pick } from './thompson.ts';
import type { ArmTotals } from './thompson.ts';

interface Arm {
  name: string;
  configName: string;
  preset: AdaptiveTier['arms'][string];
}

interface Policy {
  tier: Tier;
  o: AdaptiveTier;
  arms: Arm[];
  probabilities: number[];
  /** Every arm's configuration over a tier default (one per model version served). */
  built: WeakMap<TierConfig, TierConfig[]>;
}

export interface AdaptiveRouterOptions {
  config: AdaptiveConfig;
  state: AllocationState;
  store: Pick<Store, 'feedbackTotals'>;
  log: Logger;
  now?: () => number;
  /** Days of aggregates the bandit reads. @defaultValue 30 */
  windowDays?: number;
}

const DAY_MS = 86_400_000;
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

/** The split `explore` serves: the default with chance 1 − ε, and every arm with ε ÷ arms. */
export function explorationSplit(arms: number, exploration: number): number[] {
  return Array.from({ length: arms }, (_, i) => (i === 0 ? 1 - exploration : 0) + exploration / arms);
}

export class AdaptiveRouter {
  private readonly policies = new Map<Tier, Policy>();
  private readonly rng: Rng;
  private readonly now: () => number;

  constructor(private readonly o: AdaptiveRouterOptions) {
    this.now = o.now ?? Date.now;
    this.rng = createRng(o.config.seed);
    for (const [tier, t] of Object.entries(o.config.tiers) as [Tier, AdaptiveTier][]) {
      const arms: Arm[] = [DEFAULT_ARM, ...Object.keys(t.arms)].map((name) => ({
        name,
        configName: armConfigName(tier, name),
        preset: name === DEFAULT_ARM ? {} : t.arms[name]!,
      }));
      const probabilities =
        t.mode === 'explore' ? explorationSplit(arms.length, t.exploration) : arms.map(() => 1 / arms.length);
      this.policies.set(tier, { tier, o: t, arms, probabilities, built: new WeakMap() });
    }
  }

  /** True when some tier has a policy (the route skips the rest otherwise). */
  get active(): boolean {
    return this.policies.size > 0;
  }

  /** Each adaptive tier's arms and their chances now. */
  split(): Record<string, { arms: string[]; probabilities: number[] }> {
    return Object.fromEntries(
      [...this.policies].map(([t, p]) => [
        t,
        { arms: p.arms.map((a) => a.name), probabilities: [...p.probabilities] },
      ]),
    );
  }

  /** Serves `r` one arm of its tier's policy over `base` (the tier's default), unless it is in an experiment. */
  route(r: RecommendRequest, base: TierConfig): void {
    if (r.experiment !== undefined) return;
    const p = this.policies.get(r.tier);
    if (!p) return;
    const i = pick(p.probabilities, this.rng.next());
    let configs = p.built.get(base);
    if (!configs) {
      configs = p.arms.map((arm) => withVariant(base, arm.configName, arm.preset));
      p.built.set(base, configs);
    }
    r.config = configs[i]!;
    r.probability = p.probabilities[i]!;
    if (p.o.positions) r.arms = { configs, probabilities: p.probabilities };
  }

  /**
   * Reads the shared split of every bandit tier; recomputes and writes the ones due (none stored,
   * or older than the tier's cadence). A failure is logged and the last split kept.
   */
  async refresh(): Promise<void> {
    for (const p of this.policies.values()) {
      if (p.o.mode !== 'bandit') continue;
      try {
        const now = this.now();
        let a = await this.o.state.read(p.tier);
        if (!a || now - a.at >= p.o.everyMs || a.arms.join() !== p.arms.map((x) => x.name).join()) {
          a = await this.recompute(p, now, a);
          await this.o.state.write(p.tier, a);
        }
        p.probabilities = a.probabilities;
      } catch (err) {
        this.o.log.warn({ err, tier: p.tier }, 'adaptive split could not be refreshed; the last one is kept');
      }
    }
  }

  private async recompute(p: Policy, now: number, last: StoredAllocation | null): Promise<StoredAllocation> {
    const rows = await this.o.store.feedbackTotals({
      from: day(now - (this.o.windowDays ?? 30) * DAY_MS),
      to: day(now),
      groupBy: ['tier', 'config'],
    });
    const totals = p.arms.map((arm): ArmTotals => {
      const row = rows.find((x) => x.keys.tier === p.tier && x.keys.config === arm.configName);
      return {
        impressions: row?.impressions ?? 0,
        clicks: row?.clicks ?? 0,
        purchases: row?.purchases ?? 0,
        revenue: Math.max(0, row?.revenue ?? 0),
      };
    });
    const round = (last?.round ?? 0) + 1;
    const probabilities = allocation(totals, createRng(this.o.config.seed * 7919 + round), {
      reward: p.o.reward,
      floor: p.o.floor,
      minImpressions: p.o.minImpressions,
    });
    this.o.log.info(
      { tier: p.tier, arms: p.arms.map((a) => a.name), probabilities, totals },
      'adaptive split recomputed',
    );
    return { arms: p.arms.map((a) => a.name), probabilities, at: now, round };
  }
}
