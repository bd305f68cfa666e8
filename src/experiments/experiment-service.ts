/**
 * What the experiments API and `shelf experiments` do: create a draft, move it through its
 * lifecycle, ship a variant (and unship it), read results. Every change is saved, audited, and
 * published on the change feed, from which every replica (this one before `publish` returns)
 * reloads the experiments it serves.
 */
import type { Actor, AuditLog } from '../changes/audit-log.ts';
import type { ChangeFeed } from '../changes/change-feed.ts';
import { NotFoundError, ShelfError, ValidationError } from '../errors.ts';
import { DEFAULT_SIDE_VERSIONS } from '../serving/side-versions.ts';
import type { Experiment, Store } from '../store/types.ts';
import { BUCKETS, freeRange, rangesOf, reshare } from './assignment.ts';
import { draftOf, FROM, isLive, sharesOf, variantConfigName } from './experiment-definition.ts';
import type { ExperimentInput, LifecycleAction } from './experiment-definition.ts';
import { experimentResults } from './experiment-results.ts';
import type { ExperimentResults, ResultsOptions } from './experiment-results.ts';
import { versionsServed } from './experiment-router.ts';

export interface ExperimentServiceOptions {
  store: Pick<Store, 'saveExperiment' | 'experiments' | 'unitTotals' | 'preExposure'>;
  /** Where readouts read per-unit totals and pre-exposure purchases (a read thread on SQLite); default `store`. */
  reads?: Pick<Store, 'unitTotals' | 'preExposure'>;
  changes: Pick<ChangeFeed, 'publish'>;
  audit: Pick<AuditLog, 'record'>;
  /** The registered model versions (a variant's `modelVersion` must name one); unchecked without it. */
  versions?: () => Promise<string[]>;
  /** The version served now: a variant naming it needs no version held beside it. */
  currentVersion?: () => Promise<string | null>;
  now?: () => number;
}

/** CUPED's pre-exposure window (GrowthBook's default). */
export const PRE_PERIOD_MS = 14 * 86_400_000;

const conflict = (message: string) => ShelfError.of('SHELF_ERR_EXPERIMENT_STATE', message);

export class ExperimentService {
  private readonly now: () => number;

  constructor(private readonly o: ExperimentServiceOptions) {
    this.now = o.now ?? Date.now;
  }

  private get reads(): Pick<Store, 'unitTotals' | 'preExposure'> {
    return this.o.reads ?? this.o.store;
  }

  list(): Promise<Experiment[]> {
    return this.o.store.experiments();
  }

  async get(id: string): Promise<Experiment> {
    const e = (await this.o.store.experiments()).find((x) => x.id === id);
    if (!e) throw new NotFoundError('experiment', id);
    return e;
  }

  async create(actor: Actor, input: ExperimentInput): Promise<Experiment> {
    const e = draftOf(input, this.now());
    if (this.o.versions && e.variants.some((v) => v.config.modelVersion !== undefined)) {
      const known = new Set(await this.o.versions());
      const errors = e.variants.flatMap((v, i) =>
        v.config.modelVersion === undefined || known.has(v.config.modelVersion)
          ? []
          : [
              {
                field: `body/variants/${i}/config/modelVersion`,
                reason: `no registered version ${JSON.stringify(v.config.modelVersion)}`,
              },
            ],
      );
      if (errors.length) throw new ValidationError(errors);
    }
    if ((await this.o.store.experiments()).some((x) => x.id === e.id))
      throw conflict(`experiment ${JSON.stringify(e.id)} exists`);
    return this.save(actor, 'experiment.create', e);
  }

  /**
   * New shares for a draft, running or paused experiment. Once started, visitors move only
   * where buckets change hands, as few as any reassignment could move (assignment.ts `reshare`);
   * a moved visitor has been seen under two variants and results leave it out.
   */
  async reshare(
    actor: Actor,
    id: string,
    input: readonly { name: string; share: number }[],
  ): Promise<Experiment> {
    const e = await this.get(id);
    if (e.state !== 'draft' && !isLive(e))
      throw conflict(`cannot change the shares of experiment ${JSON.stringify(id)}: it is ${e.state}`);
    const shares = sharesOf(e, input);
    const current = e.variants.some((v) => v.buckets)
      ? e.variants.map((v) => v.buckets ?? [])
      : rangesOf(e.variants.map((v) => v.share));
    const moved = e.state === 'draft' ? null : reshare(current, shares);
    const next: Experiment = {
      ...e,
      variants: e.variants.map((v, i) => {
        const { buckets: _old, ...rest } = v;
        return { ...rest, share: shares[i]!, ...(moved ? { buckets: moved[i]! } : {}) };
      }),
    };
    return this.save(actor, 'experiment.shares', next, {
      shares: e.variants.map((v, i) => `${v.name}=${shares[i]}`).join(','),
    });
  }

  /** A lifecycle step; `variant` names the one to ship (`unship` takes back the one shipped). */
  async act(actor: Actor, id: string, action: LifecycleAction, variant?: string): Promise<Experiment> {
    const all = await this.o.store.experiments();
    const e = all.find((x) => x.id === id);
    if (!e) throw new NotFoundError('experiment', id);
    if (!FROM[action].includes(e.state))
      throw conflict(`cannot ${action} experiment ${JSON.stringify(id)}: it is ${e.state}`);
    const now = this.now();
    let next: Experiment;
    if (action === 'start') {
      await this.checkVersionsHeld(e, all);
      next = {
        ...e,
        state: 'running',
        startedAt: e.startedAt ?? now,
        range: e.range ?? this.rangeFor(e, all),
      };
    } else if (action === 'pause') {
      next = { ...e, state: 'paused' };
    } else if (action === 'stop') {
      next = { ...e, state: 'stopped', stoppedAt: now, range: null };
    } else if (action === 'unship') {
      // A way back from a worse ship: stopped (shipping had ended its run), stoppedAt kept. The
      // router no longer builds its tiers' default on the variant, and the version it named is
      // let go unless something else serves it (versionsServed).
      next = { ...e, state: 'stopped', shipped: null };
    } else {
      if (!variant || !e.variants.some((v) => v.name === variant))
        throw new ValidationError([
          {
            field: 'body/variant',
            reason: `must name a variant of ${JSON.stringify(id)}: one of ${e.variants.map((v) => v.name).join(', ')}`,
          },
        ]);
      // A stopped experiment's version is not kept by the models dir's retention (pruneVersions):
      // shipped after its removal, the variant's name went on lists the current version served.
      const version = e.variants.find((v) => v.name === variant)!.config.modelVersion;
      if (version !== undefined && this.o.versions && !(await this.o.versions()).includes(version))
        throw conflict(
          `cannot ship variant ${JSON.stringify(variant)} of experiment ${JSON.stringify(id)}: its model version ${version} is no longer in the models dir (removed after the experiment stopped)`,
        );
      next = {
        ...e,
        state: 'shipped',
        stoppedAt: e.stoppedAt ?? now,
        range: null,
        shipped: { variant, at: now },
      };
    }
    // The audit entry names the variant shipped, or the one an unship takes back.
    const named = action === 'unship' ? e.shipped?.variant : variant;
    return this.save(actor, `experiment.${action}`, next, named ? { variant: named } : undefined);
  }

  /**
   * A starting experiment may not need more versions beside the current one than a replica
   * holds (`DEFAULT_SIDE_VERSIONS`): one left out would serve its variant from the current
   * version, under the variant's name, and its results would compare a model with itself.
   */
  private async checkVersionsHeld(e: Experiment, all: readonly Experiment[]): Promise<void> {
    if (!e.variants.some((v) => v.config.modelVersion !== undefined)) return;
    const current = (await this.o.currentVersion?.()) ?? null;
    const beside = (x: readonly Experiment[]) => versionsServed(x).filter((v) => v !== current);
    const others = all.filter((x) => x.id !== e.id);
    const wanted = new Set([...beside(others), ...beside([{ ...e, state: 'running' }])]);
    if (wanted.size <= DEFAULT_SIDE_VERSIONS) return;
    const holders = others
      .filter((x) => beside([x]).length)
      .map((x) => `${JSON.stringify(x.id)} (${beside([x]).join(', ')})`);
    throw conflict(
      `cannot start experiment ${JSON.stringify(e.id)}: it would make ${wanted.size} model versions served ` +
        `beside the current one, and a replica holds ${DEFAULT_SIDE_VERSIONS}` +
        (holders.length ? `; stop or unship one of ${holders.join(', ')} first` : ''),
    );
  }

  /** The slice of its layer a starting experiment takes; its tiers must not be live in another layer. */
  private rangeFor(e: Experiment, all: readonly Experiment[]): [number, number] {
    const live = all.filter((x) => x.id !== e.id && isLive(x));
    const clash = live.find((x) => x.layer !== e.layer && x.tiers.some((t) => e.tiers.includes(t)));
    if (clash)
      throw conflict(
        `experiment ${JSON.stringify(clash.id)} of layer ${JSON.stringify(clash.layer)} is live on a tier of this one: name its layer to share it`,
      );
    const taken = live.filter((x) => x.layer === e.layer && x.range).map((x) => x.range!);
    const range = freeRange(taken, Math.round(e.traffic * BUCKETS));
    if (!range)
      throw conflict(`layer ${JSON.stringify(e.layer)} has no room for ${e.traffic} of its traffic`);
    return range;
  }

  async results(id: string, options: ResultsOptions = {}): Promise<ExperimentResults> {
    const e = await this.get(id);
    const rows = await this.reads.unitTotals(e.variants.map((v) => variantConfigName(e.id, v.name)));
    if (e.startedAt === null) return experimentResults(e, rows, options);
    // CUPED's covariate: each unit's purchases and revenue in the window before the start.
    const users: string[] = [];
    const sessions: string[] = [];
    for (const r of rows) (r.visitor.startsWith('u:') ? users : sessions).push(r.visitor.slice(2));
    const from = e.startedAt - PRE_PERIOD_MS;
    const pre = new Map<string, { purchases: number; revenue: number }>();
    for (const p of await this.reads.preExposure('user', users, from, e.startedAt)) pre.set(`u:${p.id}`, p);
    for (const p of await this.reads.preExposure('session', sessions, from, e.startedAt))
      pre.set(`s:${p.id}`, p);
    return experimentResults(e, rows, { ...options, pre });
  }

  private async save(
    actor: Actor,
    action: `experiment.${'create' | 'shares' | LifecycleAction}`,
    e: Experiment,
    detail?: Record<string, string>,
  ): Promise<Experiment> {
    await this.o.store.saveExperiment(e);
    await this.o.audit.record(actor, action, e.id, { state: e.state, ...detail });
    await this.o.changes.publish([{ kind: 'experiment', id: e.id }]);
    return e;
  }
}
