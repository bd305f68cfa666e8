/**
 * `shelf start` as a child process, as an operator runs it: real HTTP on a port of its own,
 * configured only through the environment. For tests of restarts, replicas and signals.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../src/cli/bin.mjs', import.meta.url));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** stdout and stderr so far (for a failing test's message). */
  output(): string;
  /** Sends `signal` and resolves with the exit code (null: killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Starts `shelf start` with `env` on a free port and waits until `/readyz` answers 200. */
export async function startServerProcess(
  env: Record<string, string>,
  timeoutMs = 90_000,
): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: { ...process.env, SHELF_HOST: '127.0.0.1', SHELF_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  // 'close', not 'exit': the output is whole only once the child's stdio has closed.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const proc: ServerProcess = {
    url,
    child,
    output: () => text,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`shelf start exited (${child.exitCode}):\n${text}`);
    const ok = await fetch(`${url}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return proc;
    if (Date.now() > end) {
      await proc.stop('SIGKILL');
      throw new Error(`shelf start not ready after ${timeoutMs} ms:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Answer {
  recommendationId: string;
  modelVersion: string | null;
  items: { itemId: string; reason: string }[];
}

/** Whether a list was personalized (the visitor's vector or history led to an item). */
export const personal = (a: Answer): boolean =>
  a.items.some((i) => i.reason === 'recommended for you' || i.reason.startsWith('because you'));

/** HTTP calls to a server process with the storefront or admin key. */
export function client(keys: { storefront: string; admin: string }) {
  const send = async (
    server: ServerProcess,
    method: string,
    path: string,
    body?: unknown,
    key = keys.admin,
  ) => {
    const res = await fetch(server.url + path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  return {
    /** An admin call (or with `key`); throws on a status ≥ 300. */
    call: send,
    /** `GET /v1/recommendations/<query>` with the storefront key. */
    ask: async (server: ServerProcess, query: string): Promise<Answer> =>
      (await send(
        server,
        'GET',
        `/v1/recommendations/${query}`,
        undefined,
        keys.storefront,
      )) as unknown as Answer,
  };
}

/** Starts `shelf worker` with `env` and waits until it says it is ready. */
export async function startWorkerProcess(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  // 'close', not 'exit': the output is whole only once the child's stdio has closed.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const proc: ServerProcess = {
    url: '',
    child,
    output: () => text,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const end = Date.now() + timeoutMs;
  while (!text.includes('worker ready')) {
    if (child.exitCode !== null) throw new Error(`shelf worker exited (${child.exitCode}):\n${text}`);
    if (Date.now() > end) {
      await proc.stop('SIGKILL');
      throw new Error(`shelf worker not ready after ${timeoutMs} ms:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}
