import { ModelRegistry } from '../../registry/model-registry.ts';
import type { Command } from '../command.ts';

const fmt = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(4));
/** A split's cutoff to the minute (UTC), or a dash. */
const cutoffOf = (split: Record<string, unknown> | undefined) =>
  typeof split?.cutoff === 'string' ? split.cutoff.slice(0, 16).replace('T', ' ') : '—';

const models: Command = {
  summary: 'list model versions, promote one (through the quality gate) or roll back',
  usage: 'shelf models list [--json] | promote VERSION [--force] | rollback [--reason TEXT]',
  async run(args, ctx) {
    const registry = new ModelRegistry(ctx.config.modelsDir);
    const [action, ...rest] = args;
    if (action === 'list' || action === undefined) {
      const current = await registry.current();
      const rows = [];
      for (const v of await registry.versions()) rows.push(await registry.manifest(v));
      if (rest.includes('--json')) {
        ctx.out.write(JSON.stringify({ current, versions: rows }) + '\n');
        return 0;
      }
      if (!rows.length) {
        ctx.out.write('no model versions yet: run `shelf train`\n');
        return 0;
      }
      ctx.out.write(
        '   version               kind  users   items   ndcg@20  recall@20  test users  split cutoff      created\n',
      );
      for (const m of rows) {
        ctx.out.write(
          `${m.version === current ? '*' : ' '}  ${m.version}  ${m.kind.padEnd(4)}  ${String(m.data.users).padEnd(6)}  ` +
            `${String(m.data.items).padEnd(6)}  ${fmt(m.metrics?.['ndcg@20']).padEnd(7)}  ` +
            `${fmt(m.metrics?.['recall@20']).padEnd(9)}  ${String(m.metrics?.testUsers ?? '—').padEnd(10)}  ` +
            `${cutoffOf(m.metrics?.split).padEnd(16)}  ${m.createdAt}\n`,
        );
      }
      // Seen in a trial: scores of splits hours apart read as a ranking of the versions.
      ctx.out.write(
        'each version is scored on the split of its own train: scores of different cutoffs do not compare;\n' +
          '`shelf models promote VERSION` compares it with the current one on today’s split\n',
      );
      return 0;
    }
    if (action === 'promote') {
      const version = rest.find((a) => !a.startsWith('--'));
      if (!version) {
        ctx.out.write(`usage: ${models.usage}\n`);
        return 2;
      }
      const { promoteWithGate } = await import('../../../training/publish.ts');
      const verdict = await promoteWithGate({
        registry,
        store: await ctx.store(),
        version,
        force: rest.includes('--force'),
        log: ctx.log,
      });
      ctx.out.write(verdict.message + '\n');
      if (verdict.promoted) {
        await ctx.audit('model.promote', version, {
          force: rest.includes('--force'),
          candidate: verdict.candidate,
        });
        await ctx.publish([{ kind: 'version', version }]);
      }
      return verdict.promoted ? 0 : 1;
    }
    if (action === 'rollback') {
      const i = rest.indexOf('--reason');
      const previous = await registry.rollback(i >= 0 ? rest[i + 1] : undefined);
      await ctx.audit('model.rollback', previous);
      await ctx.publish([{ kind: 'version', version: previous }]);
      ctx.out.write(`current version is now ${previous}\n`);
      return 0;
    }
    ctx.out.write(`usage: ${models.usage}\n`);
    return 2;
  },
};

export default models;
