/**
 * `shelf train`: snapshot the store, fit ALS, score it on the newest split, tune the serving
 * rules on it, publish a version and promote it through the quality gate.
 */
import cliProgress from 'cli-progress';
import { createEngine } from '../../app/create-shelf.ts';
import { CLI_ACTOR, JOB_ACTOR } from '../../changes/audit-log.ts';
import { InputError } from '../../errors.ts';
import { openShardedAls } from '../../jobs/als-sharding.ts';
import { pruneVersions, runTrainJob } from '../../jobs/train-processor.ts';
import { ModelRegistry } from '../../registry/model-registry.ts';
import { endGraphBuilds } from '../../../training/ann-index-files.ts';
import { DEFAULT_RECIPE, promoteWithGate, trainVersion } from '../../../training/publish.ts';
import type { Recipe } from '../../../training/publish.ts';
import type { RulesReport } from '../../../training/serving-rules.ts';
import type { StageTiming } from '../../../training/stage-clock.ts';
import type { Command } from '../command.ts';
import { watchingParent } from '../exit-with-parent.ts';
import { numberOption, parseOptions } from '../command.ts';

const USAGE = `shelf train [--factors N] [--iterations N] [--regularization X] [--alpha X]
                   [--half-life DAYS] [--test-fraction F] [--seed N] [--margin X]
                   [--no-tune-rules] [--no-promote] [--force] [--json]
                   [--as-job [--job-key KEY]]

  Fits implicit ALS on the store's events (weighted by type, decayed by age), scores it on the
  newest ${DEFAULT_RECIPE.testFraction * 100}% of events, tunes the personalized and homepage tiers' serving rules (blend
  weights, MMR, category cap, new-arrival slot) for served NDCG@20 on the same split (at most
  ${DEFAULT_RECIPE.rulesUsers} of its users), publishes a version with them under <dataDir>/models/ and makes it current
  if it passes the quality gate (NDCG@20 no more than --margin below the current version, both
  fitted and scored on the same newest split: the new version's score is the one just taken,
  and the current version is refitted only if its recipe or seed differ).
  Prints the seconds of each stage (snapshot, fit, evaluate, rules, final fit, publish, gate;
  with --json as \`stages\` and \`totalSeconds\`).

  --no-tune-rules  publish without tuned rules: the engine's default rules serve the version
  --no-promote     publish only; promote later with \`shelf models promote VERSION\`
  --force          make the version current even if it fails the gate
  --as-job         a train job runs this in a child process: audited as the job, progress as
                   JSON lines on stdout, ends when its parent does (stdin closes)
  --job-key KEY    the job's id, kept in the manifest: a retried job publishes no second version`;

const train: Command = {
  summary: 'train a model version, score it, publish it and promote it through the quality gate',
  usage: USAGE,
  async run(args, ctx) {
    const { values: v } = parseOptions(
      {
        args,
        strict: true,
        options: {
          factors: { type: 'string' },
          iterations: { type: 'string' },
          regularization: { type: 'string' },
          alpha: { type: 'string' },
          'half-life': { type: 'string' },
          'test-fraction': { type: 'string' },
          seed: { type: 'string' },
          margin: { type: 'string' },
          'no-tune-rules': { type: 'boolean', default: false },
          'no-promote': { type: 'boolean', default: false },
          force: { type: 'boolean', default: false },
          json: { type: 'boolean', default: false },
          'as-job': { type: 'boolean', default: false },
          'job-key': { type: 'string' },
        },
      },
      USAGE,
    );
    const recipe: Partial<Recipe> = {};
    const set = <K extends keyof Recipe>(k: K, x: Recipe[K] | undefined) => {
      if (x !== undefined) recipe[k] = x;
    };
    set('factors', numberOption('factors', v.factors, 1, true));
    set('iterations', numberOption('iterations', v.iterations, 1, true));
    set('regularization', numberOption('regularization', v.regularization, Number.MIN_VALUE));
    set('alpha', numberOption('alpha', v.alpha, 0));
    set('halfLifeDays', numberOption('half-life', v['half-life'], 0));
    const fraction = numberOption('test-fraction', v['test-fraction'], 0);
    if (fraction !== undefined && !(fraction > 0 && fraction < 1)) {
      throw new InputError(`--test-fraction must be between 0 and 1, got ${fraction}`);
    }
    set('testFraction', fraction);
    if (v['no-tune-rules']) recipe.tuneRules = false;
    const seed = numberOption('seed', v.seed, 0, true);
    const margin = numberOption('margin', v.margin, 0);

    const store = await ctx.store();
    const registry = new ModelRegistry(ctx.config.modelsDir);
    // SHELF_ALS_SHARDS > 0: both fits solve their half-steps in shards (same factors).
    const sharded = await openShardedAls(ctx.config, ctx.log);
    try {
      return await trainCommand();
    } finally {
      await sharded?.close();
    }

    async function trainCommand(): Promise<number> {
      if (v['as-job']) {
        // The job's parent holds this process's stdin: when the parent dies (SIGKILL too), stdin
        // ends and so does this train, so a retried job never races an orphan; its graph
        // threads are stopped first.
        return watchingParent(
          true,
          async () => {
            const verdict = await runTrainJob({
              store,
              registry,
              log: ctx.log,
              recipe,
              makeEngine: createEngine,
              ...(sharded ? { sideSolver: sharded.solver } : {}),
              keepVersions: ctx.config.modelVersionsKept,
              payload: { ...(seed === undefined ? {} : { seed }), force: v.force },
              ...(v['job-key'] ? { jobKey: v['job-key'] } : {}),
              onProgress: (p) => ctx.out.write(JSON.stringify({ progress: p }) + '\n'),
            });
            if (verdict.promoted) {
              const version = await registry.current();
              await ctx.audit(
                'model.promote',
                version,
                { force: v.force, candidate: verdict.candidate },
                JOB_ACTOR,
              );
              await ctx.publish([{ kind: 'version', version }]);
            }
            ctx.out.write(JSON.stringify({ version: await registry.current(), verdict }) + '\n');
            return verdict.promoted ? 0 : 1;
          },
          endGraphBuilds,
        );
      }
      const iterations = recipe.iterations ?? DEFAULT_RECIPE.iterations;
      const tty = process.stderr.isTTY && !v.json;
      const bar = tty
        ? new cliProgress.SingleBar(
            {
              format: 'training {phase} [{bar}] {value}/{total} iterations | {seconds}s/it',
              stream: process.stderr,
            },
            cliProgress.Presets.shades_classic,
          )
        : null;
      let phase = '';
      const stages: StageTiming[] = [];
      const t0 = performance.now();
      const onStage = (t: StageTiming) => {
        stages.push(t);
        if (bar && phase) {
          bar.stop();
          phase = '';
        }
        ctx.log.info(t, 'stage done');
      };
      const { manifest, scored } = await trainVersion({
        store,
        registry,
        recipe,
        ...(seed === undefined ? {} : { seed }),
        makeEngine: createEngine,
        ...(sharded ? { sideSolver: sharded.solver } : {}),
        log: ctx.log,
        onTiming: onStage,
        onIteration(p, info) {
          if (bar) {
            if (p !== phase) {
              if (phase) bar.stop();
              phase = p;
              bar.start(iterations, 0, { phase: p, seconds: '—' });
            }
            bar.update(info.iteration, { phase: p, seconds: info.seconds.toFixed(2) });
          } else ctx.log.info({ phase: p, ...info }, 'ALS iteration');
        },
      });
      bar?.stop();
      const verdict = v['no-promote']
        ? null
        : await promoteWithGate({
            registry,
            store,
            version: manifest.version,
            force: v.force,
            ...(margin === undefined ? {} : { gate: { margin } }),
            log: ctx.log,
            scored,
            onStage,
          });
      const totalSeconds = Math.round(performance.now() - t0) / 1000;
      if (verdict?.promoted) {
        await ctx.audit(
          'model.promote',
          manifest.version,
          { force: v.force, candidate: verdict.candidate },
          CLI_ACTOR,
        );
        await ctx.publish([{ kind: 'version', version: manifest.version }]);
      }
      await pruneVersions({ store, registry, log: ctx.log, keep: ctx.config.modelVersionsKept });
      if (v.json) {
        ctx.out.write(
          JSON.stringify({
            version: manifest.version,
            metrics: manifest.metrics,
            verdict,
            stages,
            totalSeconds,
          }) + '\n',
        );
      } else {
        const m = manifest.metrics;
        ctx.out.write(
          `published ${manifest.version}: ${manifest.data.users} users, ${manifest.data.items} items, ` +
            `${manifest.data.interactions} interactions\n` +
            (m
              ? `newest split: NDCG@20 ${m['ndcg@20'].toFixed(4)}, Recall@20 ${m['recall@20'].toFixed(4)}, ` +
                `coverage@20 ${m['coverage@20'].toFixed(4)} over ${m.testUsers} test users\n`
              : 'newest split: no test users, so no offline metrics\n') +
            rulesLine(manifest.params.servingRules as RulesReport | { skipped: string }) +
            (verdict ? verdict.message + '\n' : 'not promoted (--no-promote)\n') +
            stagesLine(stages, totalSeconds),
        );
      }
      return verdict && !verdict.promoted ? 1 : 0;
    }
  },
};

/** Seconds per stage of the job, top-level stages first, each followed by its sub-stages. */
function stagesLine(stages: readonly StageTiming[], total: number): string {
  const top = stages.filter((t) => !t.stage.includes('/') || t.stage.startsWith('gate/'));
  const parts = top.map((t) => {
    const subs = stages.filter(
      (x) => x.stage.startsWith(t.stage + '/') && !x.stage.slice(t.stage.length + 1).includes('/'),
    );
    const inner = subs.length
      ? ` (${subs.map((x) => `${x.stage.slice(t.stage.length + 1)} ${x.seconds.toFixed(2)}`).join(', ')})`
      : '';
    return `${t.stage} ${t.seconds.toFixed(2)}${inner}`;
  });
  return `stages (s): ${parts.join('; ')}; total ${total.toFixed(2)}\n`;
}

/** What the rule tuning found, per tier: NDCG@20 and coverage@20 from the default rules to the chosen ones. */
function rulesLine(r: RulesReport | { skipped: string }): string {
  if ('skipped' in r) return `serving rules: not tuned, ${r.skipped}\n`;
  const tiers = r.tiers.map((t) => {
    const v = r.validation[t]!;
    const f = (x: number) => x.toFixed(4);
    return (
      `  ${t}: NDCG@20 ${f(v.start['ndcg@20'])} → ${f(v.chosen['ndcg@20'])}, ` +
      `coverage@20 ${f(v.start['coverage@20'])} → ${f(v.chosen['coverage@20'])}\n`
    );
  });
  return (
    `serving rules tuned on ${r.users} of the split's ${r.testUsers} test users in ${r.seconds} s ` +
    `(default → chosen, coverage@20 ≥ ${r.minCoverage.toFixed(4)}):\n${tiers.join('')}`
  );
}

export default train;
