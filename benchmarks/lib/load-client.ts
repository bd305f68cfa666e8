/**
 * The load generator of the http benchmark, run as a child process so that it does not share
 * the server's event loop (as a real client would not): it reads its `LoadOptions` as JSON on
 * standard input, drives autocannon and prints a `LoadResult` as one JSON line.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { paced } from './paced.ts';
import { percentile } from './percentile.ts';

export interface LoadOptions {
  url: string;
  paths: string[];
  headers: Record<string, string>;
  duration: number;
  connections: number;
  /** Stop after this many requests instead (then `duration` is a time limit). */
  amount?: number;
  /**
   * Requests a second, sent at an even pace over at most `connections` keep-alive connections
   * whatever the answers' speed (paced.ts); unset: autocannon, as fast as the server answers.
   */
  rate?: number;
}

export interface LoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  requests: number;
  /** The load client's own CPU time per request, µs: it shares the 2 cores with the server. */
  clientCpuUsPerRequest: number;
}

const cpuUs = (u: NodeJS.CpuUsage) => u.user + u.system;

/**
 * autocannon's percentiles are whole milliseconds (its histogram's unit): a p99 under 2 ms reads
 * 1 or 2, and a ratio of two such p99s means nothing. Each 2xx response's time, a float in ms,
 * is kept here instead and the percentiles taken from them.
 */
async function main(o: LoadOptions): Promise<LoadResult> {
  const cpu = process.cpuUsage();
  if (o.rate !== undefined) {
    const r = await paced({ ...o, rate: o.rate });
    return {
      ...r,
      ...percentiles(r.times),
      clientCpuUsPerRequest: cpuUs(process.cpuUsage(cpu)) / Math.max(1, r.requests),
    };
  }
  let n = 0;
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.url,
        connections: o.connections,
        duration: o.duration,
        ...(o.amount !== undefined ? { amount: o.amount } : {}),
        headers: o.headers,
        requests: [{ setupRequest: (req) => ({ ...req, path: o.paths[n++ % o.paths.length]! }) }],
      },
      (err: unknown, r) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(r)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) times.push(ms);
    });
  });
  return {
    reqPerSec: result.requests.average,
    ...percentiles(times),
    errors: result.errors + result.timeouts + result.non2xx,
    requests: result.requests.total,
    clientCpuUsPerRequest: cpuUs(process.cpuUsage(cpu)) / Math.max(1, result.requests.total),
  };
}

function percentiles(times: readonly number[]): { p50Ms: number; p99Ms: number } {
  const sorted = Float64Array.from(times).sort();
  const at = (q: number) => (sorted.length ? percentile(sorted, q) : 0);
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** Runs this file as a child process with `o` and resolves to what it measured. */
export function runLoad(o: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`load client exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult);
    });
    child.stdin.end(JSON.stringify(o));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  console.log(JSON.stringify(await main(JSON.parse(input) as LoadOptions)));
}
