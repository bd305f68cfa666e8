/**
 * An open-loop load: requests sent at an even pace, `rate` a second, whatever the answers' speed,
 * over at most `connections` keep-alive connections (a request finding them all busy waits for
 * one). Each request's latency counts from when it was due, not from when it left, so a stall
 * shows in every request it held back. autocannon cannot do this: its `overallRate` lets each
 * connection send its second's share as fast as it is answered, then wait for the next second
 * (a burst at full speed, the latency of a saturated server), and it times a request from when
 * it was sent (coordinated omission).
 */
import { Agent, request } from 'node:http';

export interface PacedOptions {
  url: string;
  paths: readonly string[];
  headers: Record<string, string>;
  duration: number;
  connections: number;
  rate: number;
}

export interface PacedResult {
  /** Each 2xx answer's latency from when its request was due, ms. */
  times: number[];
  requests: number;
  errors: number;
  reqPerSec: number;
}

export async function paced(o: PacedOptions): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const url = new URL(o.url);
  const times: number[] = [];
  let errors = 0;
  let sent = 0;
  /** GET `path`: whether it answered 2xx (false on an error). */
  const get = (path: string) =>
    new Promise<boolean>((resolve) => {
      const req = request({ agent, host: url.hostname, port: url.port, path, headers: o.headers }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode! >= 200 && res.statusCode! < 300));
      });
      req.once('error', () => resolve(false));
      req.end();
    });
  const out = new Set<Promise<void>>();
  const send = (due: number) => {
    const done = get(o.paths[sent++ % o.paths.length]!).then((ok) => {
      if (ok) times.push(performance.now() - due);
      else errors++;
    });
    out.add(done);
    void done.then(() => out.delete(done));
  };
  // Every connection opened before the clock starts: the handshakes (and this client's own first,
  // unoptimised requests) are not the server's latency, and they held answers up to 110 ms.
  await Promise.all(Array.from({ length: o.connections }, (_, i) => get(o.paths[i % o.paths.length]!)));
  const start = performance.now();
  const end = start + o.duration * 1000;
  const gap = 1000 / o.rate;
  // Every millisecond, the requests that have come due since the last tick, at their due times.
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = Math.min(performance.now(), end);
      for (let due = start + sent * gap; due <= now; due = start + sent * gap) send(due);
      if (now >= end) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  await Promise.all(out);
  agent.destroy();
  return { times, requests: times.length + errors, errors, reqPerSec: times.length / o.duration };
}
