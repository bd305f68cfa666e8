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
  /** Connections stay open, but nothing sent reaches Redis (a Redis that hangs) until `resume`. */
  pause(): void;
  resume(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function redisProxy(target: string): Promise<RedisProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  const clients = new Set<Socket>();
  let paused = false;
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
        clients.add(client);
        client.on('close', () => clients.delete(client));
        if (paused) client.pause();
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
    pause: () => {
      paused = true;
      for (const c of clients) c.pause();
    },
    resume: () => {
      paused = false;
      for (const c of clients) c.resume();
    },
    restore: listen,
    close: stop,
  };
}
