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
import type { Command } from '../command.ts';
import { parseOptions } from '../command.ts';

const USAGE = `shelf evaluate [VERSION] [--test-fraction F | --cutoff TIME] [--served] [--json]

  Scores VERSION (default: the current one) as published on the store's events: test = the
  newest F of events (default ${DEFAULT_RECIPE.testFraction}) or the events at or after TIME (ISO-8601 or epoch ms);
  each test user is folded in from their earlier events. Prints Recall@20, NDCG@20 and
  coverage@20, and warns when the version was trained on the test window.

  --served  score the personalized and homepage tiers as a shopper receives them instead: the
            whole serving pipeline, with the version's serving rules, answers each test user
            on the store as it stood before the test window (the engine's clock there too).
            A version trained on the test window is refitted from its recipe on the events
            before it, and served with its rules. Prints NDCG@20, Recall@20, coverage@20, the
            mean list length and the share of lists shorter than 20.`;

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
        },
      },
      USAGE,
    );
    const registry = new ModelRegistry(ctx.config.modelsDir);
    const version = positionals[0] ?? (await registry.current());
    if (!version) throw new InputError('no current version: name one, or run `shelf train`');
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
