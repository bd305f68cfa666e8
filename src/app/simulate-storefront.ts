/**
 * `shelf simulate` and `npm start`'s demo days: builds a Shelf over the given store on a
 * simulated clock, runs the closed-loop simulator (src/demo/closed-loop.ts) through it, writes
 * the ground truth to `<dataDir>/simulation/<run>/`, and runs the aggregate-feedback job so the
 * metrics API shows the simulated days. The Shelf is its own (its clock is not the server's);
 * the store and registry are the caller's.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ShelfConfig } from '../config.ts';
import { DAY, runClosedLoop, SimulatedClock } from '../demo/closed-loop.ts';
import type { ClosedLoopOptions, SimulationResult } from '../demo/closed-loop.ts';
import type { PlantedTruth } from '../demo/planted.ts';
import { SimulationTruth } from '../demo/simulation-truth.ts';
import type { AggregateResult } from '../feedback/aggregate-feedback.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { allItems } from '../store/all-items.ts';
import type { Store } from '../store/types.ts';
import { createShelf } from './create-shelf.ts';

export const SIMULATION_DIR = 'simulation';

export interface SimulateStorefrontOptions {
  config: Readonly<ShelfConfig>;
  log: Logger;
  store: Store;
  /** @defaultValue `<config.dataDir>/models` */
  registry?: ModelRegistry;
  planted: PlantedTruth;
  simulation: ClosedLoopOptions;
  /** Write the ground truth. @defaultValue true */
  truth?: boolean;
}

export interface SimulateStorefrontResult {
  result: SimulationResult;
  aggregate: AggregateResult;
  /** Impressions the recorder shed (the counts then exceed the metrics). */
  impressionsDropped: number;
  /** Ground-truth files written. */
  files: string[];
}

/**
 * The first simulated day by default: the UTC day after the store's last event, so the run
 * continues the history; but never so late that the days would run past today (an event dated
 * after the clock is a mistake a real server would refuse), so a history that reaches today is
 * overlapped instead.
 */
export function defaultStart(lastEventAt: number | null, days: number, now: number): number {
  const today = Math.floor(now / DAY) * DAY;
  const after = lastEventAt === null ? today - days * DAY : Math.floor(lastEventAt / DAY) * DAY + DAY;
  return Math.min(after, today - days * DAY);
}

export async function simulateStorefront(o: SimulateStorefrontOptions): Promise<SimulateStorefrontResult> {
  const clock = new SimulatedClock(o.simulation.start);
  // The simulator is one trusted in-process client sending a day's traffic in seconds: the
  // per-key rate limit (counted on the real clock) is not for it.
  const config = { ...o.config, rateLimitPerMinute: Number.MAX_SAFE_INTEGER };
  // Its requests are not a client's: at info, the two lines logged per request were a wall of
  // about 900 lines on `npm start`'s first run. Warnings and errors still show; so does every
  // request when the level asks for debugging.
  const level = o.log.isLevelEnabled('debug') || !o.log.isLevelEnabled('warn') ? o.log.level : 'warn';
  const shelf = await createShelf(config, o.log.child({ simulation: true }, { level }), {
    store: o.store,
    ...(o.registry ? { registry: o.registry } : {}),
    now: clock.now,
  });
  const day = new Date(o.simulation.start).toISOString().slice(0, 10);
  const truth =
    o.truth === false
      ? null
      : await SimulationTruth.open(join(o.config.dataDir, SIMULATION_DIR, `${day}-seed${o.simulation.seed}`));
  try {
    const items = [];
    for await (const item of allItems(o.store)) items.push(item);
    const result = await runClosedLoop(
      {
        app: shelf.app,
        storefrontKey: shelf.apiKeys.find((k) => k.role === 'storefront')!.key,
        endOfDay: () => shelf.impressions.flush(),
      },
      clock,
      { planted: o.planted, items },
      o.simulation,
      truth?.shown,
    );
    await shelf.impressions.flush();
    const job = shelf.jobs.add('aggregate-feedback');
    await shelf.jobs.idle();
    if (job.state === 'failed') throw new Error(`aggregating the simulated feedback failed: ${job.error}`);
    const impressionsDropped = shelf.impressions.stats.dropped;
    const files = truth ? await truth.finish(result, { impressionsDropped }) : [];
    return { result, aggregate: job.result as AggregateResult, impressionsDropped, files };
  } catch (err) {
    await truth?.discard();
    throw err;
  } finally {
    await shelf.close();
  }
}
