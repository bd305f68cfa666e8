/**
 * `shelf start` (`npm start`): builds Shelf (create-shelf.ts) over the configured store, seeds a
 * demo storefront when it is empty, trains a first version when there is none, runs the
 * segments job at start, arms the job schedules (embedded mode), and serves the API until closed, then closes with
 * grace. A version promoted or rolled back elsewhere (the CLI, another replica) arrives through
 * the change feed.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ApiKey, ShelfConfig } from '../config.ts';
import { exportStorefront } from '../demo/export-storefront.ts';
import type { ExportProgress } from '../demo/export-storefront.ts';
import { generateStorefront } from '../demo/generate-storefront.ts';
import { clearSeedMark, readSeedMark, writeSeedMark } from '../demo/seed-mark.ts';
import type { StorefrontOptions } from '../demo/generate-storefront.ts';
import type { ShelfApp } from '../api/app.ts';
import type { Verdict } from '../jobs/train-processor.ts';
import type { Engine } from '../serving/engine.ts';
import type { PlantedTruth } from '../demo/planted.ts';
import { DAY } from '../demo/closed-loop.ts';
import { createShelf } from './create-shelf.ts';
import type { ShelfOverrides } from './create-shelf.ts';
import { simulateStorefront } from './simulate-storefront.ts';

/** The simulated days `npm start` plays after seeding the demo storefront, so metrics are not empty. */
export interface DemoSimulation {
  /** @defaultValue 300 (at most the demo's users) */
  visitors?: number;
  /** @defaultValue 2 */
  days?: number;
  /** @defaultValue 1 */
  seed?: number;
}

export interface StartOptions {
  config: Readonly<ShelfConfig>;
  log: Logger;
  /** Size of the demo storefront seeded into an empty store. */
  demo?: StorefrontOptions;
  /** The train job's recipe and seed. */
  train?: ShelfOverrides['train'];
  /** The closed-loop days played after seeding the demo (false: none). */
  simulate?: DemoSimulation | false;
  onProgress?: (message: string, progress?: ExportProgress) => void;
}

export interface RunningServer {
  app: ShelfApp;
  url: string;
  apiKeys: readonly ApiKey[];
  /** True when the keys were generated for this run (none configured). */
  generatedKeys: boolean;
  /** Ids to put in example requests. */
  example: ReturnType<Engine['example']>;
  close(): Promise<void>;
  /** Graceful shutdown within `boundMs` (see `Shelf.drain`). */
  drain(boundMs: number): Promise<void>;
}

/** The job id of a cluster's first train job (queued once by however many replicas). */
export const FIRST_VERSION_JOB = 'first-version';

export async function startServer(o: StartOptions): Promise<RunningServer> {
  const { config, log } = o;
  const say = o.onProgress ?? ((message: string) => log.info(message));
  const shelf = await createShelf(config, log, o.train ? { train: o.train } : {});
  const { app, engine, store, registry, jobs } = shelf;
  let adaptiveTimer: NodeJS.Timeout | null = null;
  const stopTimers = () => {
    if (adaptiveTimer) clearInterval(adaptiveTimer);
    shelf.schedules.stop?.();
  };
  try {
    let changed = false;
    let planted: PlantedTruth | null = null;
    const simulation = o.simulate === false ? null : { visitors: 300, days: 2, seed: 1, ...o.simulate };
    // A row read of each table, not `stats`'s counts (170–190 ms on Online Retail's 540k events).
    // Demo data only where it cannot land in a shop's own data: the embedded store, holding
    // nothing (a catalogue imported before its events got 2,000 demo items mixed into it).
    const embedded = config.database.kind === 'sqlite';
    const demoDir = join(config.dataDir, 'demo');
    // A seeding a killed start left unfinished (seed-mark.ts) is finished on its own clock.
    const unfinished = embedded ? await readSeedMark(demoDir) : null;
    // The demo history ends where the simulated days begin; they end at 00:00 UTC today.
    const today = unfinished?.today ?? Math.floor(Date.now() / DAY) * DAY;
    const empty = await store.isEmpty();
    if (unfinished?.stage === 'simulate')
      say('the demo storefront was seeded, but its simulated days were cut short: metrics hold part of them');
    if (empty && !embedded) {
      say('the store is empty: import your catalogue and events (no demo data is written to PostgreSQL)');
    } else if (empty || unfinished?.stage === 'import') {
      say(
        unfinished?.stage === 'import'
          ? 'the demo storefront was cut short while seeding: completing it'
          : 'the store is empty: generating the demo storefront',
      );
      const now =
        unfinished?.stage === 'import'
          ? unfinished.now
          : simulation
            ? today - simulation.days * DAY
            : Date.now();
      await writeSeedMark(demoDir, { stage: 'import', now, today });
      const sf = generateStorefront({ ...o.demo, now });
      planted = sf.planted;
      const summary = await exportStorefront(sf, {
        store,
        dir: demoDir,
        jsonl: false,
        onProgress: (p) => say('importing demo data', p),
      });
      say(`demo storefront: ${summary.items} items, ${summary.users} users, ${summary.events} events`);
      changed = true;
    }
    const versionless = !(await registry.current());
    if (versionless && !(await store.hasEvents())) {
      say('no model version yet, and no events to train one on: serving trending until one is published');
    } else if (versionless && shelf.bullmq) {
      // The cluster's workers train it, once however many replicas start together; the version
      // reaches every replica through the change feed.
      await shelf.bullmq.enqueueOnce('train', FIRST_VERSION_JOB);
      say(
        'no model version yet: a train job is queued for the workers; serving trending until it is published',
      );
    } else if (versionless) {
      say('no model version yet: training one');
      const job = jobs.add('train');
      await jobs.idle();
      if (job.state === 'failed') throw new Error(`training the first version failed: ${job.error}`);
      say((job.result as Verdict).message);
      changed = true;
    }
    if (planted && simulation) {
      // Played through a Shelf of its own on a simulated clock (through the first version), then
      // aggregated: the metrics API and the dashboard have data on the first start.
      const t0 = Date.now();
      const { visitors, days, seed } = simulation;
      say(`simulating ${days} days of ${visitors} demo visitors`);
      await writeSeedMark(demoDir, { stage: 'simulate', today });
      const { result } = await simulateStorefront({
        config,
        log,
        store,
        registry,
        planted,
        simulation: {
          visitors: Math.min(visitors, Object.keys(planted.users).length),
          days,
          seed,
          start: today - days * DAY,
        },
      });
      const t = result.totals;
      say(
        `simulated ${result.visits} visits: ${t.impressions} lists, ${t.clicks} clicks, ${t.purchases} purchases ` +
          `(${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      );
    }
    if (unfinished || planted) await clearSeedMark(demoDir);
    // The engine was loaded before the demo data, the first version and the simulated days: load them.
    if (changed) await engine.swap();
    // This process's first segment report (in a child process); later ones on the schedule.
    jobs.add('segments');
    // Embedded, the schedules are timers here; with Redis, BullMQ job schedulers that
    // `shelf worker` registers and runs, once per cluster.
    shelf.schedules.start?.();
    // Bandit splits: read (and recomputed when due) a few times per cadence.
    const cadences = Object.values(config.adaptive.tiers)
      .filter((t) => t.mode === 'bandit')
      .map((t) => t.everyMs);
    if (cadences.length) {
      const every = Math.min(60_000, Math.max(1000, Math.min(...cadences) / 4));
      adaptiveTimer = setInterval(() => void shelf.adaptive.refresh(), every).unref();
    }
    const address = await app.listen({ host: config.http.host, port: config.http.port });
    const stopping = (boundMs?: number) => {
      stopTimers();
      return boundMs === undefined ? shelf.close() : shelf.drain(boundMs);
    };
    return {
      app,
      url: address,
      apiKeys: shelf.apiKeys,
      generatedKeys: shelf.generatedKeys,
      example: engine.example(),
      close: () => stopping(),
      drain: (boundMs) => stopping(boundMs),
    };
  } catch (err) {
    stopTimers();
    await shelf.close();
    throw err;
  }
}
