import { ModelRegistry } from '../../registry/model-registry.ts';
import type { Command } from '../command.ts';

const fmt = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(4));

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
      ctx.out.write('   version               kind  users   items   ndcg@20  recall@20  created\n');
      for (const m of rows) {
        ctx.out.write(
          `${m.version === current ? '*' : ' '}  ${m.version}  ${m.kind.padEnd(4)}  ${String(m.data.users).padEnd(6)}  ` +
            `${String(m.data.items).padEnd(6)}  ${fmt(m.metrics?.['ndcg@20']).padEnd(7)}  ` +
            `${fmt(m.metrics?.['recall@20']).padEnd(9)}  ${m.createdAt}\n`,
        );
      }
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
