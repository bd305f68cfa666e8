/** `shelf evaluate`: scores a published version on a split of the store's events. */
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import { ModelRegistry } from '../../registry/model-registry.ts';
import { parseTimestamp } from '../../store/validate.ts';
import { cutoffSplit, newestSplit } from '../../../training/holdout.ts';
import { DEFAULT_RECIPE, scoreVersion } from '../../../training/publish.ts';
import type { Recipe } from '../../../training/publish.ts';
import { takeSnapshot } from '../../../training/snapshot.ts';
import { loadAlsVersion } from '../../registry/als-version.ts';
import type { Command } from '../command.ts';
import { parseOptions } from '../command.ts';

const USAGE = `shelf evaluate [VERSION] [--test-fraction F | --cutoff TIME] [--json]

  Scores VERSION (default: the current one) as published on the store's events: test = the
  newest F of events (default ${DEFAULT_RECIPE.testFraction}) or the events at or after TIME (ISO-8601 or epoch ms);
  each test user is folded in from their earlier events. Prints Recall@20, NDCG@20 and
  coverage@20, and warns when the version was trained on the test window.`;

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
          json: { type: 'boolean', default: false },
        },
      },
      USAGE,
    );
    const registry = new ModelRegistry(join(ctx.config.dataDir, 'models'));
    const version = positionals[0] ?? (await registry.current());
    if (!version) throw new InputError('no current version: name one, or run `shelf train`');
    const loaded = await loadAlsVersion(registry, version);
    const recipe = { ...DEFAULT_RECIPE, ...(loaded.manifest.params as Partial<Recipe>) };
    const weights = { weights: recipe.weights, halfLifeDays: recipe.halfLifeDays };
    const s = await takeSnapshot(await ctx.store());
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

export default evaluate;
