/**
 * The HTTP runs of the http and feedback benchmarks: the personalized tier over loopback with
 * autocannon, for each variant (a server environment), with the list cache on and off, beside a
 * bare Fastify route that returns a constant list of the same size, so the engine's overhead
 * shows as a ratio. Every server of a run shares one data dir: the first start seeds the demo
 * storefront and trains; the others load that version.
 *
 * The storefront is seeded and its first version trained in a child process first
 * (prepare-data-dir.ts). Every measured server, the bare route's too, then runs in a process of
 * its own (server-process.ts says why).
 *
 * The servers compared run side by side and are driven in turn, in slices: a round starts one
 * server of each variant (and the bare route, cache on), warms each, then drives them one after
 * another for `slices` slices of `duration / slices` seconds each, the order flipped every slice.
 * This machine's speed drifts by a quarter and more within a minute, so servers measured one
 * after the other, even back to back, compared the machine's moments as much as the servers;
 * slices of a second or two, taken in turn, see the same drift. The next round starts fresh
 * servers: a process's own luck (its heap's layout, the JIT's choices) varies too.
 *
 * Traffic: `visitors` distinct users in turn (each comes back every `visitors / req/s` seconds,
 * as a shopper moving between pages does), after a first pass that serves each of them once; so
 * the list cache answers the measured requests, and its hit ratio is printed. autocannon runs in
 * a child process (load-client.ts), on the same 2 cores; each server's CPU time per request is
 * read from /proc for its process (split into the serving thread and the others), the client's
 * in its own.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoUserId } from '../../src/demo/build-shoppers.ts';
import { median } from './median.ts';
import { runLoad } from './load-client.ts';
import type { LoadResult } from './load-client.ts';
import { startServerProcess } from './server-process.ts';
import type { ServerProcess, ServerProcessOptions } from './server-process.ts';
import { printTable } from './table.ts';
import { threadCpuSince, threadCpuUs } from './thread-cpu.ts';

export interface HttpVariant {
  name: string;
  /** Environment added to the server's (e.g. `SHELF_ROTATION_SHOWS: '0'`). */
  env: Record<string, string>;
}

export interface HttpOptions {
  items: number;
  /** Seconds each server is measured for in a round (in `slices` slices). */
  duration: number;
  connections?: number;
  visitors?: number;
  variants: HttpVariant[];
  /** Rounds, each on fresh servers; each row is the round of median throughput. @defaultValue 1 */
  rounds?: number;
  /** Slices a round's `duration` is driven in, server by server in turn. @defaultValue 5 */
  slices?: number;
  /**
   * Also drives each cache-on server at this many requests a second (the same slices, after the
   * flat-out ones), where its CPU per request, thread by thread, is what differs: flat out, a
   * server slowed by its own work also does less of everything per second, and the client's CPU
   * per request rises with its waits. Unset: not measured.
   */
  fixedRate?: number;
}

/**
 * A server's measured requests: their throughput (requests over the seconds it was driven), the
 * median of its slices' p50 and p99, and its CPU per request, split into the thread that serves
 * (the process's main thread) and the others (the impression writer, V8's helpers).
 */
export type Run = LoadResult & {
  cpuUsPerRequest: number;
  servingCpuUsPerRequest: number;
  /** The busiest thread but the serving one (the impression writer's, when it records). */
  busiestOtherCpuUsPerRequest: number;
  /** Lists the server's impression buffer shed while it was driven (NaN: the bare route). */
  listsShed: number;
};

/** The demo storefront the runs serve (prepare-data-dir.ts seeds it). */
export function demoOf(items: number) {
  return { items, users: Math.round(items / 5), events: items * 10, seed: 1 };
}

/** Seeds `dir` with `items` items and trains its first version, in a child process. */
function prepare(dir: string, items: number): Promise<void> {
  const script = fileURLToPath(new URL('./prepare-data-dir.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(items)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`preparing the data dir exited with code ${code}`)),
    );
  });
}

export interface VariantRuns {
  name: string;
  cacheHitRatio: number;
  /** The median round's, cache on and off. */
  cached: Run;
  uncached: Run;
  /** Every round's req/s, in order. */
  rounds: { cached: number[]; uncached: number[] };
  /** At `fixedRate`, cache on: the median round (by server CPU per request), and every round's. */
  fixed?: { run: Run; rounds: Run[] };
}

/**
 * Round by round, `a`'s req/s over `b`'s: a round's servers were driven in turn, so each ratio
 * sees one moment of the machine; their median is the figure (the medians' ratio mixes rounds).
 */
export function roundRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, r) => x / b[r]!);
}

/** The one of `xs` with the median `key` (the lower of the two middle ones for an even count). */
function medianBy<T>(xs: readonly T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[(xs.length - 1) >> 1]!;
}

/** The run of median throughput. */
const medianRun = <T extends { run: Run }>(runs: T[]): T => medianBy(runs, (m) => m.run.reqPerSec);

/**
 * The list cache's hits and misses and the lists the impression buffer shed so far, from the
 * server's /metrics (NaN for the bare route).
 */
async function serverCounts(s: ServerProcess) {
  if (!s.adminKey) return { hits: NaN, misses: NaN, shed: NaN };
  const text = await (
    await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.adminKey}` } })
  ).text();
  const count = (kind: string) =>
    Number(new RegExp(`shelf_answer_cache\\{kind="${kind}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
  const shed = Number(/^shelf_impressions_dropped_total (\d+)/m.exec(text)?.[1] ?? NaN);
  return { hits: count('hits'), misses: count('misses'), shed };
}

/** One server of a round: its process, its requests' headers and the slices it was driven for. */
interface Measured {
  server: ServerProcess;
  headers: Record<string, string>;
  slices: Slice[];
  /** The slices at a fixed rate. */
  fixed: Slice[];
}

interface Slice {
  load: LoadResult;
  cpuUs: number;
  servingCpuUs: number;
  busiestOtherCpuUs: number;
}

/**
 * Drives `m`'s server for one slice from the load client's process (flat out, or at `rate`
 * req/s), with its CPU from /proc.
 */
async function slice(
  m: Measured,
  paths: string[],
  seconds: number,
  connections: number,
  rate?: number,
): Promise<void> {
  const { pid, url } = m.server;
  const before = threadCpuUs(pid);
  const load = await runLoad({
    url,
    paths,
    headers: m.headers,
    duration: seconds,
    connections,
    ...(rate ? { rate } : {}),
  });
  const threads = threadCpuSince(before, pid);
  const cpuUs = threads.reduce((sum, t) => sum + t.us, 0);
  const servingCpuUs = threads.find((t) => t.tid === String(pid))?.us ?? 0;
  const busiestOtherCpuUs = threads.find((t) => t.tid !== String(pid))?.us ?? 0;
  (rate ? m.fixed : m.slices).push({ load, cpuUs, servingCpuUs, busiestOtherCpuUs });
}

/** A server's slices as one run. */
function runOf(slices: Slice[], seconds: number, listsShed: number): Run {
  const n = Math.max(
    1,
    slices.reduce((sum, s) => sum + s.load.requests, 0),
  );
  const sum = (f: (s: Slice) => number) => slices.reduce((t, s) => t + f(s), 0);
  return {
    reqPerSec: Math.round(n / seconds),
    p50Ms: median(slices.map((s) => s.load.p50Ms)),
    p99Ms: median(slices.map((s) => s.load.p99Ms)),
    errors: sum((s) => s.load.errors),
    requests: n,
    clientCpuUsPerRequest: sum((s) => s.load.clientCpuUsPerRequest * s.load.requests) / n,
    cpuUsPerRequest: sum((s) => s.cpuUs) / n,
    servingCpuUsPerRequest: sum((s) => s.servingCpuUs) / n,
    busiestOtherCpuUsPerRequest: sum((s) => s.busiestOtherCpuUs) / n,
    listsShed,
  };
}

/** Measures every variant (cache on, then cache off) and the bare route; prints one table. */
export async function measureHttp(o: HttpOptions): Promise<{
  variants: VariantRuns[];
  bare: Run;
  /** Every round's bare req/s, in order (measured beside the cache-on servers). */
  bareRounds: number[];
  modelVersion: string;
}> {
  const connections = o.connections ?? 32;
  const visitors = o.visitors ?? 2000;
  const rounds = o.rounds ?? 1;
  const slices = o.slices ?? 5;
  const limit = 20;
  const dir = await mkdtemp(join(tmpdir(), 'shelf-bench-http-'));
  await prepare(dir, o.items);
  const users = Array.from({ length: visitors }, (_, i) => demoUserId(i, demoOf(o.items).users));
  const paths = users.map((u) => `/v1/recommendations/personalized?userId=${u}&limit=${limit}`);
  /** One round of servers side by side: each warmed (JIT; every visitor's first list), then driven in turn. */
  const round = async (r: number, shelves: ServerProcessOptions['shelf'][], fixedRate?: number) => {
    const measured: Measured[] = [];
    try {
      for (const shelf of shelves) {
        const server = await startServerProcess({ shelf, limit });
        const headers: Record<string, string> = server.storefrontKey
          ? { authorization: `Bearer ${server.storefrontKey}` }
          : {};
        measured.push({ server, headers, slices: [], fixed: [] });
        if (shelf)
          await runLoad({
            url: server.url,
            paths,
            headers,
            duration: 600,
            connections,
            amount: paths.length,
          });
        await runLoad({ url: server.url, paths, headers, duration: 2, connections });
      }
      const before = await Promise.all(measured.map((m) => serverCounts(m.server)));
      const inTurn = async (servers: Measured[], rate?: number) => {
        for (let k = 0; k < slices; k++) {
          const order = (r + k) % 2 ? [...servers].reverse() : servers;
          for (const m of order) await slice(m, paths, o.duration / slices, connections, rate);
        }
      };
      await inTurn(measured);
      const after = await Promise.all(measured.map((m) => serverCounts(m.server)));
      if (fixedRate)
        await inTurn(
          measured.filter((m) => m.server.adminKey),
          fixedRate,
        );
      const atRate = fixedRate ? await Promise.all(measured.map((m) => serverCounts(m.server))) : after;
      return measured.map((m, i) => {
        const hits = after[i]!.hits - before[i]!.hits;
        const misses = after[i]!.misses - before[i]!.misses;
        return {
          run: runOf(m.slices, o.duration, after[i]!.shed - before[i]!.shed),
          fixed: m.fixed.length ? runOf(m.fixed, o.duration, atRate[i]!.shed - after[i]!.shed) : null,
          modelVersion: m.server.modelVersion,
          hitRatio: hits / (hits + misses),
        };
      });
    } finally {
      await Promise.all(measured.map((m) => m.server.close()));
    }
  };
  try {
    // Cache on for every variant beside the bare route, then cache off. The list cache's entries
    // outlive the round (ten minutes), so every measured request of a returning visitor hits.
    const cached = o.variants.map((): { run: Run; fixed: Run | null; hitRatio: number }[] => []);
    const uncached = o.variants.map((): { run: Run }[] => []);
    const bare: { run: Run }[] = [];
    let modelVersion = '';
    for (let r = 0; r < rounds; r++) {
      const on = await round(
        r,
        [...o.variants.map((v) => ({ dir, cacheMs: 600_000, env: v.env })), null],
        o.fixedRate,
      );
      on.slice(0, -1).forEach((m, k) => cached[k]!.push(m));
      bare.push(on.at(-1)!);
      modelVersion = on[0]!.modelVersion;
      const off = await round(
        r,
        o.variants.map((v) => ({ dir, cacheMs: 0, env: v.env })),
      );
      off.forEach((m, k) => uncached[k]!.push(m));
    }
    const bareRun = medianRun(bare).run;
    const variants = o.variants.map((v, k): VariantRuns => {
      const hits = medianRun(cached[k]!);
      const fixed = cached[k]!.flatMap((m) => (m.fixed ? [m.fixed] : []));
      return {
        ...(fixed.length ? { fixed: { run: medianBy(fixed, (r) => r.cpuUsPerRequest), rounds: fixed } } : {}),
        name: v.name,
        cacheHitRatio: hits.hitRatio,
        cached: hits.run,
        uncached: medianRun(uncached[k]!).run,
        rounds: {
          cached: cached[k]!.map((m) => m.run.reqPerSec),
          uncached: uncached[k]!.map((m) => m.run.reqPerSec),
        },
      };
    });
    const row = (name: string, r: Run) => [
      name,
      r.reqPerSec,
      r.p50Ms,
      r.p99Ms,
      r.errors,
      r.requests,
      Math.round(r.cpuUsPerRequest),
      Math.round(r.servingCpuUsPerRequest),
      Math.round(r.cpuUsPerRequest - r.servingCpuUsPerRequest),
      Math.round(r.clientCpuUsPerRequest),
      Number.isNaN(r.listsShed) ? '' : r.listsShed,
    ];
    printTable(
      `HTTP personalized tier, ${o.items.toLocaleString('en-US')} items (model ${modelVersion}), ${connections} connections, ${o.duration} s a server in ${slices} slices taken in turn, ${visitors.toLocaleString('en-US')} visitors in turn${rounds > 1 ? `; each row the median of ${rounds} rounds` : ''}`,
      [
        'server',
        'req/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'requests',
        'server CPU µs/req',
        'serving thread',
        'other threads',
        'client CPU µs/req',
        'lists shed',
      ],
      [
        ...variants.map((v) =>
          row(`${v.name} (list cache hits ${(v.cacheHitRatio * 100).toFixed(1)}%)`, v.cached),
        ),
        ...variants.map((v) => row(`${v.name}, list cache off`, v.uncached)),
        row('bare fastify', bareRun),
      ],
    );
    if (rounds > 1) {
      for (const v of variants)
        console.log(
          `${v.name}: req/s by round, cache hits ${v.rounds.cached.join(' · ')}; cache off ${v.rounds.uncached.join(' · ')}`,
        );
      console.log(`bare fastify: req/s by round ${bare.map((b) => b.run.reqPerSec).join(' · ')}`);
    }
    return { variants, bare: bareRun, bareRounds: bare.map((b) => b.run.reqPerSec), modelVersion };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
