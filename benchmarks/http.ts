/**
 * `npm run bench -- http [--items 100000] [--duration 10] [--connections 32] [--visitors 2000] [--rotation on|off]
 * [--impression-writes on|off] [--impressions on|off] [--rounds 1] [--slices 5]`:
 * the personalized tier over HTTP, list cache hits and cache off, beside a bare Fastify route
 * returning a constant list of the same size (see http-runs.ts for how it is driven).
 */
import { measureHttp, roundRatios } from './lib/http-runs.ts';
import { median } from './lib/median.ts';
import { parseArgs } from './lib/table.ts';

const pick = (r: {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuUsPerRequest: number;
  clientCpuUsPerRequest: number;
}) => ({
  reqPerSec: r.reqPerSec,
  p50Ms: r.p50Ms,
  p99Ms: r.p99Ms,
  errors: r.errors,
  cpuUsPerRequest: r.cpuUsPerRequest,
  clientCpuUsPerRequest: r.clientCpuUsPerRequest,
});

export default async function http(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const items = Number(opts.get('items') ?? 100_000);
  const duration = Number(opts.get('duration') ?? 10);
  const connections = Number(opts.get('connections') ?? 32);
  const visitors = Number(opts.get('visitors') ?? 2000);
  // Rotation demotes what a visitor was shown three times, so a returning visitor's cached list
  // changes: `--rotation off` measures the list cache as it was before rotation existed.
  const rotation = opts.get('rotation') ?? 'on';
  if (rotation !== 'on' && rotation !== 'off') throw new Error('--rotation must be on or off');
  // `--impression-writes off`: a buffer of one impression, so every list is recorded and shed,
  // not written: what writing every list served to the store costs the request loop.
  const writes = opts.get('impression-writes') ?? 'on';
  if (writes !== 'on' && writes !== 'off') throw new Error('--impression-writes must be on or off');
  // `--impressions off`: no list recorded at all (SHELF_IMPRESSION_WRITER=off), as before the
  // feedback loop existed: what the rest of serving costs, against older code.
  const impressions = opts.get('impressions') ?? 'on';
  if (impressions !== 'on' && impressions !== 'off') throw new Error('--impressions must be on or off');
  const env: Record<string, string> = {
    ...(rotation === 'off' ? { SHELF_ROTATION_SHOWS: '0' } : {}),
    ...(writes === 'off' ? { SHELF_IMPRESSION_BUFFER: '1' } : {}),
    ...(impressions === 'off' ? { SHELF_IMPRESSION_WRITER: 'off' } : {}),
  };
  const runs = await measureHttp({
    items,
    duration,
    connections,
    visitors,
    rounds: Number(opts.get('rounds') ?? 1),
    slices: Number(opts.get('slices') ?? 5),
    variants: [
      {
        name: `shelf (rotation ${rotation}, impressions ${impressions === 'off' ? 'off' : `written ${writes}`})`,
        env,
      },
    ],
  });
  const shelf = runs.variants[0]!;
  // Paired by round: a round's cache-on server and bare route were driven in turn.
  const ratios = roundRatios(shelf.rounds.cached, runs.bareRounds);
  const ratio = median(ratios);
  const share = (x: number) => `${(x * 100).toFixed(0)}%`;
  console.log(
    `\nshelf / bare throughput: ${share(ratio)} (target ≥ 60%; ≥ 5,000 req/s, p99 ≤ 10 ms, 0 errors)${ratios.length > 1 ? `, the median of the rounds' ${ratios.map(share).join(' · ')}` : ''}; list cache off: ${share(shelf.uncached.reqPerSec / runs.bare.reqPerSec)}`,
  );
  return {
    items,
    connections,
    durationSeconds: duration,
    visitors,
    rotation,
    impressionWrites: writes,
    impressions,
    modelVersion: runs.modelVersion,
    cacheHitRatio: shelf.cacheHitRatio,
    shelf: pick(shelf.cached),
    shelfNoCache: pick(shelf.uncached),
    bare: pick(runs.bare),
    ratio,
  };
}
