import { readFile } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import { ExperimentBody } from '../../api/schemas.ts';
import { CLI_ACTOR } from '../../changes/audit-log.ts';
import { InputError, ValidationError } from '../../errors.ts';
import type { ExperimentInput } from '../../experiments/experiment-definition.ts';
import { ExperimentService } from '../../experiments/experiment-service.ts';
import { ModelRegistry } from '../../registry/model-registry.ts';
import type { Experiment } from '../../store/types.ts';
import { DECIMAL } from '../../store/validate.ts';
import type { Command, CommandContext } from '../command.ts';
import { numberOption } from '../command.ts';

const USAGE =
  'shelf experiments list [--json] | create FILE.json | start|pause|stop|unship ID | ship ID VARIANT | shares ID NAME=SHARE… | results ID [--n-star N] [--json]';

/** The service over the command line's store, feed and audit log (servers apply the change from the feed). */
async function service(ctx: CommandContext): Promise<ExperimentService> {
  return new ExperimentService({
    store: await ctx.store(),
    changes: { publish: (c) => ctx.publish(c) },
    audit: { record: (_actor, action, target, detail) => ctx.audit(action, target, detail) },
    versions: () => new ModelRegistry(ctx.config.modelsDir).versions(),
    currentVersion: () => new ModelRegistry(ctx.config.modelsDir).current(),
  });
}

const line = (e: Experiment) =>
  `${e.id.padEnd(20)} ${e.state.padEnd(8)} ${e.unit.padEnd(8)} ${e.layer.padEnd(16)} ` +
  `${e.variants.map((v) => `${v.name}:${v.share}`).join(' ')}${e.shipped ? `  shipped ${e.shipped.variant}` : ''}\n`;

const fmt = (x: number | null) => (x === null ? '—' : x.toPrecision(4));

const experiments: Command = {
  summary: 'list, create, start, pause, stop, ship or unship experiments; read their results',
  usage: USAGE,
  async run(args, ctx) {
    const [action, ...rest] = args;
    const json = rest.includes('--json');
    const positional = rest.filter((a, i) => !a.startsWith('--') && rest[i - 1] !== '--n-star');
    const svc = await service(ctx);
    if (action === 'list' || action === undefined) {
      const all = await svc.list();
      if (json) ctx.out.write(JSON.stringify({ experiments: all }) + '\n');
      else if (!all.length) ctx.out.write('no experiments yet: shelf experiments create FILE.json\n');
      else for (const e of all) ctx.out.write(line(e));
      return 0;
    }
    if (action === 'create' && positional[0]) {
      let body: unknown;
      try {
        body = JSON.parse(await readFile(positional[0], 'utf8'));
      } catch (err) {
        throw new InputError(`${positional[0]}: ${(err as Error).message}`);
      }
      // The API's schema, so the file takes exactly what `POST /v1/admin/experiments` takes.
      const errors = [...Value.Errors(ExperimentBody, body)].map((e) => ({
        field: `body${e.path}`,
        reason: e.message,
      }));
      if (errors.length) throw new ValidationError(errors);
      ctx.out.write(line(await svc.create(CLI_ACTOR, body as ExperimentInput)));
      return 0;
    }
    if (
      (action === 'start' || action === 'pause' || action === 'stop' || action === 'unship') &&
      positional[0]
    ) {
      ctx.out.write(line(await svc.act(CLI_ACTOR, positional[0], action)));
      return 0;
    }
    if (action === 'ship' && positional[0] && positional[1]) {
      ctx.out.write(line(await svc.act(CLI_ACTOR, positional[0], 'ship', positional[1])));
      return 0;
    }
    if (action === 'shares' && positional[0] && positional.length > 2) {
      const shares = positional.slice(1).map((p, i) => {
        const m = /^([^=]+)=(.+)$/.exec(p);
        if (!m) throw new InputError(`shares ${i + 1}: ${JSON.stringify(p)} is not NAME=SHARE`);
        // Named here as written: the service would name the request body's field, not the argument.
        if (!DECIMAL.test(m[2]!))
          throw new InputError(`shares ${i + 1}: ${JSON.stringify(p)}: the share is not a number`);
        return { name: m[1]!, share: Number(m[2]) };
      });
      ctx.out.write(line(await svc.reshare(CLI_ACTOR, positional[0], shares)));
      return 0;
    }
    if (action === 'results' && positional[0]) {
      const i = rest.indexOf('--n-star');
      const nStar = numberOption('n-star', i >= 0 ? rest[i + 1] : undefined, 10, true);
      const r = await svc.results(positional[0], nStar !== undefined ? { nStar } : {});
      if (json) {
        ctx.out.write(JSON.stringify(r) + '\n');
        return 0;
      }
      ctx.out.write(`${r.id} (${r.state}), control ${r.control}, α = ${r.alpha}\n`);
      for (const v of r.variants)
        ctx.out.write(
          `  ${v.name.padEnd(12)} units ${v.units}  impressions ${v.impressions}  clicks ${v.clicks}  ` +
            `purchases ${v.purchases}  revenue ${v.revenue.toFixed(2)}  ` +
            `ctr ${fmt(v.metrics.ctr.value)}  conversion ${fmt(v.metrics.conversion.value)}  ` +
            `revenue/unit ${fmt(v.metrics.revenuePerUnit.value)}\n`,
        );
      for (const c of r.comparisons)
        ctx.out.write(
          `  ${c.variant} vs ${r.control}, ${c.metric}: lift ${fmt(c.lift)} ` +
            `[${fmt(c.liftCi95[0])}, ${fmt(c.liftCi95[1])}] fixed, ` +
            `[${fmt(c.sequentialCi95[0])}, ${fmt(c.sequentialCi95[1])}] sequential; ` +
            `p ${fmt(c.pValue)} (Holm ${fmt(c.pValueHolm)}), always-valid p ${fmt(c.sequentialPValue)}\n`,
        );
      ctx.out.write(
        `  sample ratio: p ${fmt(r.srm.pValue)}${r.srm.flagged ? '  MISMATCH: check assignment before reading results' : ''}\n`,
      );
      return 0;
    }
    ctx.out.write(`usage: ${USAGE}\n`);
    return 2;
  },
};

export default experiments;
