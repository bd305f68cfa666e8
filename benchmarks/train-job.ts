/**
 * The whole train job on a generated demo store, stage by stage (`npm run bench -- train-job
 * [--items 100000] [--users 50000] [--events N] [--seed 42]`, results in
 * `benchmarks/results/train-job.json`; `train-speed` measures the ALS fit alone): generates
 * the storefront (fixed `--now`, so the same options give the same store) into a fresh SQLite
 * store, trains a first version (promoted: nothing to compare with), then runs the measured
 * job: train → publish → the quality gate against the first version, as `shelf train` does.
 * Target (issue #15 item 7): the whole job ≤ 30 s at 100k items × 50k users.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createEngine } from '../src/app/create-shelf.ts';
import { exportStorefront } from '../src/demo/export-storefront.ts';
import { generateStorefront } from '../src/demo/generate-storefront.ts';
import { ModelRegistry } from '../src/registry/model-registry.ts';
import { openStore } from '../src/store/open-store.ts';
import { promoteWithGate, trainVersion } from '../training/publish.ts';
import type { StageTiming } from '../training/stage-clock.ts';
import { parseArgs, printTable } from './lib/table.ts';

export interface TrainJobOptions {
  items: number;
  users: number;
  /** @defaultValue the generator's default */
  events?: number;
  seed: number;
  /** Where the store goes (a fresh temporary folder, removed after, by default). */
  dataDir?: string;
}

export interface TrainJobResult {
  items: number;
  users: number;
  events: number;
  testUsers: number;
  generateSeconds: number;
  /** The measured job: train, publish and the gate. */
  totalSeconds: number;
  /**
   * CPU seconds the process spent on the measured job, all threads (the fits', the encoder's
   * and the graph's worker threads, V8's helpers): over `totalSeconds`, the cores it kept busy.
   */
  cpuSeconds: number;
  stages: StageTiming[];
  ndcgAt20: number | null;
  verdict: string;
}

export async function trainJob(o: TrainJobOptions): Promise<TrainJobResult> {
  const dir = o.dataDir ?? (await mkdtemp(join(tmpdir(), 'shelf-train-job-')));
  const store = await openStore({ kind: 'sqlite', file: join(dir, 'shelf.sqlite') });
  const log = pino({ level: 'silent' });
  try {
    const t0 = performance.now();
    const storefront = generateStorefront({
      items: o.items,
      users: o.users,
      seed: o.seed,
      ...(o.events === undefined ? {} : { events: o.events }),
    });
    const summary = await exportStorefront(storefront, { store });
    const generateSeconds = (performance.now() - t0) / 1000;
    const registry = new ModelRegistry(join(dir, 'models'));
    console.log(
      `  generated ${summary.events.toLocaleString('en-US')} events in ${generateSeconds.toFixed(1)} s`,
    );
    const first = await trainVersion({ store, registry, log, makeEngine: createEngine });
    await promoteWithGate({ registry, store, version: first.manifest.version, log });
    console.log('  first version trained; the measured job follows');

    const stages: StageTiming[] = [];
    const onStage = (t: StageTiming) => {
      stages.push(t);
      console.log(`  ${t.stage.padEnd(28)} ${t.seconds.toFixed(2)} s`);
    };
    const t1 = performance.now();
    const cpu0 = process.cpuUsage();
    const job = await trainVersion({ store, registry, log, makeEngine: createEngine, onTiming: onStage });
    const verdict = await promoteWithGate({
      registry,
      store,
      version: job.manifest.version,
      log,
      scored: job.scored,
      onStage,
    });
    const totalSeconds = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      items: o.items,
      users: o.users,
      events: summary.events,
      testUsers: job.manifest.metrics?.testUsers ?? 0,
      generateSeconds,
      totalSeconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      stages,
      ndcgAt20: job.manifest.metrics?.['ndcg@20'] ?? null,
      verdict: verdict.message,
    };
  } finally {
    await store.close();
    if (o.dataDir === undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** Prints the job's stages: each top-level stage, its sub-stages indented under it. */
export function printTrainJob(r: TrainJobResult): void {
  const depth = (s: string) => s.split('/').length - 1;
  // Sub-stages finish before their parent: list each parent first, then what it holds.
  const ordered: StageTiming[] = [];
  const place = (prefix: string) => {
    for (const t of r.stages)
      if (t.stage.startsWith(prefix) && depth(t.stage) === depth(prefix + 'x')) {
        ordered.push(t);
        place(t.stage + '/');
      }
  };
  place('');
  // The gate reports its sub-stages only: their sum under a `gate` row.
  const gate = r.stages.filter((t) => t.stage.startsWith('gate/'));
  const gateSeconds = gate.reduce((sum, t) => sum + t.seconds, 0);
  ordered.push({ stage: 'gate', seconds: Math.round(gateSeconds * 1000) / 1000 }, ...gate);
  printTable(
    `Train job on the demo store (${r.items.toLocaleString('en-US')} items, ${r.users.toLocaleString('en-US')} users, ` +
      `${r.events.toLocaleString('en-US')} events, ${r.testUsers.toLocaleString('en-US')} test users): ` +
      `${r.totalSeconds.toFixed(1)} s in all (target ≤ 30 s), ${r.cpuSeconds.toFixed(1)} CPU s ` +
      `(${(r.cpuSeconds / r.totalSeconds).toFixed(2)} cores busy on average)`,
    ['stage', 'seconds'],
    ordered.map((t) => ['  '.repeat(depth(t.stage)) + t.stage.split('/').pop()!, t.seconds]),
  );
  console.log(r.verdict);
}

export default async function trainJobBenchmark(args: string[]): Promise<unknown> {
  const opts = parseArgs(args);
  const whole = (name: string, dflt: number): number => {
    const raw = opts.get(name);
    const v = typeof raw === 'string' ? Number(raw) : dflt;
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer`);
    return v;
  };
  const job = await trainJob({
    items: whole('items', 100_000),
    users: whole('users', 50_000),
    ...(opts.has('events') ? { events: whole('events', 1) } : {}),
    seed: whole('seed', 42),
  });
  printTrainJob(job);
  return job;
}
