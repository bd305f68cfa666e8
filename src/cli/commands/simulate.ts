/**
 * `shelf simulate`: the closed-loop storefront simulator (src/demo/closed-loop.ts, wired in
 * src/app/simulate-storefront.ts) against the configured store and current model: visitors with
 * the planted tastes of a generated storefront come back over simulated days, are served lists,
 * click, buy, return and churn; then the feedback is aggregated. Prints the simulator's counts
 * per tier beside the true rates; the ground truth goes to <dataDir>/simulation/.
 */
import { join } from 'node:path';
import { defaultStart, simulateStorefront } from '../../app/simulate-storefront.ts';
import type { SimulationCounts } from '../../demo/closed-loop.ts';
import { readPlanted } from '../../demo/planted.ts';
import { InputError } from '../../errors.ts';
import type { Tier } from '../../serving/types.ts';
import { TIERS } from '../../serving/types.ts';
import type { Command } from '../command.ts';
import { numberOption, parseOptions } from '../command.ts';

const USAGE = `shelf simulate [--visitors N] [--days N] [--seed N] [--tiers LIST] [--start YYYY-MM-DD]
                      [--limit N] [--planted FILE|DIR] [--json]

  Visitors drawn from the planted users of a generated storefront (planted.json, from
  \`shelf generate\` or \`npm start\`'s demo seeding) arrive over simulated days and are served
  the tiers by the current model; they click with a position-biased chance of their affinity
  for each item shown, add to cart, buy, return some purchases and churn. Their events go
  through POST /v1/events with the recommendationId, so impressions, attribution and the
  metrics API see them as real traffic; the aggregate job runs at the end.

  --visitors N   visitors, at most the planted users (default 200)
  --days N       simulated days (default 2)
  --seed N       seed of every draw (default 1)
  --tiers LIST   comma-separated tiers a visit is served, of ${TIERS.join(',')} (default all)
  --start DAY    first simulated UTC day (default: the day after the store's last event, or
                 earlier so that the days end by today: never into the future)
  --limit N      items per list (default 10)
  --planted P    planted.json or its folder (default <dataDir>/demo)
  --json         print the result as JSON

  Ground truth (every list shown with each item's true click and purchase chance, and the
  simulator's own counts) is written to <dataDir>/simulation/<start>-seed<N>/.`;

function tiersOption(raw: string | undefined): Tier[] | undefined {
  if (raw === undefined) return undefined;
  const tiers = raw.split(',').map((t) => t.trim());
  for (const t of tiers) {
    if (!(TIERS as readonly string[]).includes(t))
      throw new InputError(`--tiers: unknown tier ${JSON.stringify(t)}; one of ${TIERS.join(', ')}`);
  }
  return tiers as Tier[];
}

function dayOption(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const ms = Date.parse(`${raw}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(raw) || Number.isNaN(ms))
    throw new InputError(`--start must be a date YYYY-MM-DD, got ${JSON.stringify(raw)}`);
  return ms;
}

const row = (name: string, c: SimulationCounts) => {
  const ctr = c.impressions ? c.clicks / c.impressions : 0;
  const trueCtr = c.impressions ? c.expectedClicks / c.impressions : 0;
  return (
    `${name.padEnd(13)}${String(c.impressions).padStart(8)}${String(c.clicks).padStart(8)}` +
    `${String(c.purchases).padStart(10)}${(c.revenueCents / 100).toFixed(2).padStart(12)}` +
    `${ctr.toFixed(3).padStart(8)}${trueCtr.toFixed(3).padStart(10)}`
  );
};

const simulate: Command = {
  summary: 'closed-loop storefront simulation: planted visitors served by the current model, their feedback',
  usage: USAGE,
  async run(args, ctx) {
    const { values: v } = parseOptions(
      {
        args,
        strict: true,
        options: {
          visitors: { type: 'string', default: '200' },
          days: { type: 'string', default: '2' },
          seed: { type: 'string', default: '1' },
          tiers: { type: 'string' },
          start: { type: 'string' },
          limit: { type: 'string', default: '10' },
          planted: { type: 'string' },
          json: { type: 'boolean', default: false },
        },
      },
      USAGE,
    );
    const visitors = numberOption('visitors', v.visitors, 1, true)!;
    const days = numberOption('days', v.days, 1, true)!;
    const seed = numberOption('seed', v.seed, 0, true)!;
    const limit = numberOption('limit', v.limit, 1, true)!;
    if (limit > 100) throw new InputError(`--limit must be at most 100, got ${limit}`);
    const tiers = tiersOption(v.tiers);
    const planted = await readPlanted(v.planted ?? join(ctx.config.dataDir, 'demo'));
    const users = Object.keys(planted.users).length;
    if (visitors > users)
      throw new InputError(`--visitors must be at most the ${users} planted users, got ${visitors}`);
    const store = await ctx.store();
    const start = dayOption(v.start) ?? defaultStart((await store.stats()).lastEventAt, days, Date.now());
    const run = await simulateStorefront({
      config: ctx.config,
      log: ctx.log,
      store,
      planted,
      simulation: { visitors, days, seed, start, limit, ...(tiers ? { tiers } : {}) },
    });
    const r = run.result;
    if (v.json) {
      ctx.out.write(JSON.stringify({ ...r, files: run.files, aggregate: run.aggregate }) + '\n');
      return 0;
    }
    const lines = [
      `simulated ${r.from} to ${r.to}: ${r.visitors} visitors, ${r.visits} visits, ${r.churned} churned`,
      `tier         lists    clicks  purchases     revenue     CTR  true CTR`,
      ...Object.entries(r.byTier).map(([tier, c]) => row(tier, c)),
      row('all', r.totals),
      `returns ${r.totals.returns}; aggregated ${run.aggregate.impressions} impressions, ${run.aggregate.attributions} attributions` +
        (run.impressionsDropped ? `; ${run.impressionsDropped} impressions shed (see the log)` : ''),
      `ground truth: ${run.files.join(', ')}`,
    ];
    ctx.out.write(lines.join('\n') + '\n');
    return 0;
  },
};

export default simulate;
