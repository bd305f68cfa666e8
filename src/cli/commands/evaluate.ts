/** `shelf evaluate`: scores a published version, or the tiers as served with it, on a split of the store's events. */
import { createEngine } from '../../app/create-shelf.ts';
import { InputError } from '../../errors.ts';
import { ModelRegistry } from '../../registry/model-registry.ts';
import { parseTimestamp } from '../../store/validate.ts';
import { cutoffSplit, newestSplit } from '../../../training/holdout.ts';
import { DEFAULT_RECIPE, scoreServedVersion, scoreVersion } from '../../../training/publish.ts';
import type { Recipe, ServedVersionScore } from '../../../training/publish.ts';
import { takeSnapshot } from '../../../training/snapshot.ts';
import { loadAlsVersion } from '../../registry/als-version.ts';
import { itemPositionEstimates, listEstimates } from '../../experiments/off-policy.ts';
import { loggedRounds } from '../../experiments/off-policy-logs.ts';
import type { Command } from '../command.ts';
import type { CommandContext } from '../command.ts';
import { parseOptions } from '../command.ts';

const USAGE = `shelf evaluate [VERSION] [--test-fraction F | --cutoff TIME] [--served] [--json]
shelf evaluate [VERSION] --off-policy CONFIG --from TIME --to TIME [--resamples N] [--seed S] [--json]

  Scores VERSION (default: the current one) as published on the store's events: test = the
  newest F of events (default ${DEFAULT_RECIPE.testFraction}) or the events at or after TIME (ISO-8601 or epoch ms);
  each test user is folded in from their earlier events. Prints Recall@20, NDCG@20 and
  coverage@20, and warns when the version was trained on the test window.

  --served  score the personalized and homepage tiers as a shopper receives them instead: the
            whole serving pipeline, with the version's serving rules, answers each test user
            on the store as it stood before the test window (the engine's clock there too).
            A version trained on the test window is refitted from its recipe on the events
            before it, and served with its rules. Prints NDCG@20, Recall@20, coverage@20, the
            mean list length and the share of lists shorter than 20.

  --off-policy CONFIG  what serving configuration CONFIG's clicks per list would have been over
            the lists logged from --from to --to (ISO-8601 or epoch ms) on the tiers it was served
            on, from each list's logged propensity (a bandit's or exploration's, SHELF_ADAPTIVE):
            IPS and self-normalised IPS at list level with percentile-bootstrap 95% intervals
            (--resamples, default 2000; --seed, default 1), beside VERSION's offline NDCG@20;
            and, over the lists that logged every arm position by position (the policy's
            \`positions\`, on by default), the item-position estimator (Li et al. 2018), which
            weighs each position by its own item's propensity. Lists served with propensity 1
            under another configuration carry no weight: without exploration the estimate rests
            on the target's own lists only.`;

const evaluate: Command = {
  summary: 'score a published version on a split of the store’s events',
  usage: USAGE,
  async run(args, ctx) {
    const { values: v, positionals } = parseOptions(
      {
        args,
        strict: true,
        allowPositionals: true,
        options: {
          'test-fraction': { type: 'string' },
          cutoff: { type: 'string' },
          served: { type: 'boolean', default: false },
          json: { type: 'boolean', default: false },
          'off-policy': { type: 'string' },
          from: { type: 'string' },
          to: { type: 'string' },
          resamples: { type: 'string' },
          seed: { type: 'string' },
        },
      },
      USAGE,
    );
    const registry = new ModelRegistry(ctx.config.modelsDir);
    const version = positionals[0] ?? (await registry.current());
    if (!version) throw new InputError('no current version: name one, or run `shelf train`');
    if (v['off-policy'] !== undefined) return offPolicy(v, version, registry, ctx);
    const loaded = await loadAlsVersion(registry, version);
    const recipe = { ...DEFAULT_RECIPE, ...(loaded.manifest.params as Partial<Recipe>) };
    const weights = { weights: recipe.weights, halfLifeDays: recipe.halfLifeDays };
    const store = await ctx.store();
    const s = await takeSnapshot(store);
    let split;
    if (v.cutoff !== undefined) {
      const cutoff = parseTimestamp(v.cutoff);
      if (cutoff === null) throw new InputError(`--cutoff must be ISO-8601 or epoch ms, got ${v.cutoff}`);
      split = cutoffSplit(s, weights, cutoff);
    } else {
      const f = v['test-fraction'] === undefined ? recipe.testFraction : Number(v['test-fraction']);
      if (!(f > 0 && f < 1))
        throw new InputError(`--test-fraction must be between 0 and 1, got ${v['test-fraction']}`);
      split = newestSplit(s, weights, f);
    }
    if (split.testUsers.length === 0) throw new InputError('the split has no test users');
    if (v.served) {
      const served = await scoreServedVersion({
        store,
        registry,
        version,
        s,
        split,
        makeEngine: createEngine,
        log: ctx.log,
      });
      ctx.out.write(
        v.json
          ? JSON.stringify({ version, cutoff: new Date(split.cutoffTime).toISOString(), ...served }) + '\n'
          : servedReport(version, split.cutoffTime, served),
      );
      return 0;
    }
    const { metrics, sawTestWindow } = scoreVersion(loaded, s, split);
    if (v.json) {
      ctx.out.write(JSON.stringify({ version, metrics, sawTestWindow }) + '\n');
      return 0;
    }
    ctx.out.write(
      `${version} on events from ${new Date(split.cutoffTime).toISOString()} (${metrics.testUsers} test users):\n` +
        `  Recall@20 ${metrics['recall@20'].toFixed(4)}  NDCG@20 ${metrics['ndcg@20'].toFixed(4)}  ` +
        `coverage@20 ${metrics['coverage@20'].toFixed(4)}\n` +
        (sawTestWindow
          ? '  warning: this version was trained on events of the test window, so this score is optimistic\n'
          : ''),
    );
    return 0;
  },
};

async function offPolicy(
  v: { 'off-policy'?: string; from?: string; to?: string; resamples?: string; seed?: string; json?: boolean },
  version: string,
  registry: ModelRegistry,
  ctx: CommandContext,
): Promise<number> {
  const config = v['off-policy']!;
  const time = (name: 'from' | 'to') => {
    const raw = v[name];
    if (raw === undefined) throw new InputError(`--${name} is required with --off-policy`);
    const t = parseTimestamp(raw);
    if (t === null) throw new InputError(`--${name} must be ISO-8601 or epoch ms, got ${raw}`);
    return t;
  };
  const from = time('from');
  const to = time('to');
  if (!(from < to)) throw new InputError('--from must be before --to');
  const whole = (name: 'resamples' | 'seed', dflt: number, min: number) => {
    const raw = v[name];
    const x = raw === undefined ? dflt : Number(raw);
    if (!Number.isInteger(x) || x < min)
      throw new InputError(`--${name} must be an integer ≥ ${min}, got ${raw}`);
    return x;
  };
  const resamples = whole('resamples', 2000, 100);
  const seed = whole('seed', 1, 0);
  const logs = await loggedRounds(await ctx.store(), { config, from, to });
  if (logs.targetLists === 0 && logs.positions.length === 0)
    throw new InputError(
      `no list was served under ${JSON.stringify(config)} between --from and --to: nothing to weigh (see SHELF_ADAPTIVE)`,
    );
  const { ips, snips } = listEstimates(logs.rounds, { resamples, seed });
  const itemPosition = logs.positions.length
    ? itemPositionEstimates(logs.positions, { resamples, seed })
    : null;
  const ndcg = (await registry.manifest(version)).metrics?.['ndcg@20'] ?? null;
  const window = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  if (v.json) {
    ctx.out.write(
      JSON.stringify({
        config,
        ...window,
        ...logs,
        rounds: undefined,
        positions: undefined,
        ips,
        snips,
        itemPosition,
        version,
        ndcgAt20: ndcg,
      }) + '\n',
    );
    return 0;
  }
  const f = (x: number) => x.toFixed(4);
  ctx.out.write(
    `${config}: clicks per list from ${window.from} to ${window.to} on ${logs.tiers.join(', ')} ` +
      `(${logs.lists} lists logged that it could have been served on, ${logs.targetLists} of them under it):\n` +
      `  IPS   ${f(ips.value)}  95% [${f(ips.ci95[0])}, ${f(ips.ci95[1])}]  (bootstrap, ${resamples} resamples)\n` +
      `  SNIPS ${f(snips.value)}  95% [${f(snips.ci95[0])}, ${f(snips.ci95[1])}]\n` +
      (itemPosition
        ? `  item-position, over the ${itemPosition.ips.n} lists that logged every arm position by position:\n` +
          `    IPS   ${f(itemPosition.ips.value)}  95% [${f(itemPosition.ips.ci95[0])}, ${f(itemPosition.ips.ci95[1])}]\n` +
          `    SNIPS ${f(itemPosition.snips.value)}  95% [${f(itemPosition.snips.ci95[0])}, ${f(itemPosition.snips.ci95[1])}]\n`
        : '  item-position: no list logged its arms position by position\n') +
      `  ${version} offline NDCG@20 ${ndcg === null ? 'not recorded' : f(ndcg)}\n` +
      (logs.deterministicOthers
        ? `  note: ${logs.deterministicOthers === 1 ? '1 list' : `${logs.deterministicOthers} lists`} served for certain (propensity 1) under another configuration left out: it had no chance of being served on them\n`
        : ''),
  );
  return 0;
}

function servedReport(version: string, cutoff: number, r: ServedVersionScore): string {
  const users = Object.values(r.tiers)[0]?.users ?? 0;
  const lines = [
    `${version} as served on events from ${new Date(cutoff).toISOString()} (${users} test users, ` +
      `${r.tunedRules ? 'its tuned serving rules' : 'the default serving rules (the version has none tuned)'}` +
      `${r.refitted ? '; refitted on the events before, as it was trained on the test window' : ''}):`,
  ];
  for (const [tier, m] of Object.entries(r.tiers)) {
    lines.push(
      `  ${tier.padEnd(12)} NDCG@20 ${m['ndcg@20'].toFixed(4)}  Recall@20 ${m['recall@20'].toFixed(4)}  ` +
        `coverage@20 ${m['coverage@20'].toFixed(4)}  mean length ${m.meanLength.toFixed(2)}  ` +
        `short ${(100 * m.shortShare).toFixed(1)}%`,
    );
  }
  return lines.join('\n') + '\n';
}

export default evaluate;
