/** `shelf tune`: random search over ALS hyper-parameters on a validation split. */
import { InputError } from '../../errors.ts';
import { takeSnapshot } from '../../../training/snapshot.ts';
import { tune } from '../../../training/tune.ts';
import type { Trial } from '../../../training/tune.ts';
import type { Command } from '../command.ts';
import { numberOption, parseOptions } from '../command.ts';

const USAGE = `shelf tune [--trials N] [--time-budget SECONDS] [--seed N] [--json]

  Seeded random search over factors, regularization, alpha, iterations and the recency
  half-life. Each trial is fitted and scored on a validation split carved from the train part
  of the newest split; the test part is used once, to score the best recipe. Prints every
  trial and the flags to pass to \`shelf train\`.`;

const line = (t: Trial, i: number) =>
  `${String(i + 1).padStart(3)}  factors ${String(t.recipe.factors).padStart(3)}  reg ${String(t.recipe.regularization).padEnd(5)}` +
  `  alpha ${String(t.recipe.alpha).padEnd(4)}  iters ${String(t.recipe.iterations).padStart(2)}` +
  `  half-life ${String(t.recipe.halfLifeDays).padStart(3)}d  NDCG@20 ${t.validation['ndcg@20'].toFixed(4)}` +
  `  (${t.seconds.toFixed(1)} s)`;

const tuneCommand: Command = {
  summary: 'search ALS hyper-parameters on a validation split within a trial and time budget',
  usage: USAGE,
  async run(args, ctx) {
    const { values: v } = parseOptions(
      {
        args,
        strict: true,
        options: {
          trials: { type: 'string', default: '20' },
          'time-budget': { type: 'string', default: '300' },
          seed: { type: 'string', default: '42' },
          json: { type: 'boolean', default: false },
        },
      },
      USAGE,
    );
    const trials = numberOption('trials', v.trials, 1, true)!;
    const seed = numberOption('seed', v.seed, 0, true)!;
    const budget = Number(v['time-budget']);
    if (!(budget > 0))
      throw new InputError(`--time-budget must be a positive number of seconds, got ${v['time-budget']}`);
    const s = await takeSnapshot(await ctx.store());
    if (!v.json) ctx.out.write('trial  validation NDCG@20 of each recipe\n');
    const result = await tune(s, {
      trials,
      timeBudgetSeconds: budget,
      seed,
      onTrial: (t, i) => {
        if (!v.json) ctx.out.write(line(t, i) + '\n');
      },
    });
    const b = result.best.recipe;
    if (v.json) {
      ctx.out.write(JSON.stringify(result) + '\n');
      return 0;
    }
    ctx.out.write(
      `\nbest: validation NDCG@20 ${result.best.validation['ndcg@20'].toFixed(4)}; on the test part ` +
        `NDCG@20 ${result.test['ndcg@20'].toFixed(4)}, Recall@20 ${result.test['recall@20'].toFixed(4)}\n` +
        `train it with: shelf train --factors ${b.factors} --regularization ${b.regularization} ` +
        `--alpha ${b.alpha} --iterations ${b.iterations} --half-life ${b.halfLifeDays}\n`,
    );
    return 0;
  },
};

export default tuneCommand;
