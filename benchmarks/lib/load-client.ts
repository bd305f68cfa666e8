/**
 * The load generator of the http benchmark, run as a child process so that it does not share
 * the server's event loop (as a real client would not): it reads its `LoadOptions` as JSON on
 * standard input, drives autocannon and prints a `LoadResult` as one JSON line.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  paths: string[];
  headers: Record<string, string>;
  duration: number;
  connections: number;
  /** Stop after this many requests instead (then `duration` is a time limit). */
  amount?: number;
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

async function main(o: LoadOptions): Promise<LoadResult> {
  let n = 0;
  const cpu = process.cpuUsage();
  const result = await autocannon({
    url: o.url,
    connections: o.connections,
    duration: o.duration,
    ...(o.amount !== undefined ? { amount: o.amount } : {}),
    headers: o.headers,
    requests: [{ setupRequest: (req) => ({ ...req, path: o.paths[n++ % o.paths.length]! }) }],
  });
  return {
    reqPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    requests: result.requests.total,
    clientCpuUsPerRequest: cpuUs(process.cpuUsage(cpu)) / Math.max(1, result.requests.total),
  };
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
