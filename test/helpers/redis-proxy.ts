/**
 * A TCP proxy in front of the test Redis that a test can cut (every connection dropped, new ones
 * refused) and restore: a Redis outage, for the one client behind it, without stopping the Redis
 * other tests share.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface RedisProxy {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function redisProxy(target: string): Promise<RedisProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let server: Server;
  let listenPort = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = createConnection({ host: hostname, port: Number(port) });
        for (const s of [client, upstream]) {
          open.add(s);
          s.on('close', () => open.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.listen(listenPort, '127.0.0.1', () => {
        listenPort = (server.address() as { port: number }).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of open) s.destroy();
    });
  await listen();
  return {
    url: `redis://127.0.0.1:${listenPort}`,
    cut: stop,
    restore: listen,
    close: stop,
  };
}
