/**
 * The models dir's lock (`ModelRegistry.exclusive`): a file made with O_EXCL that names its
 * holder (host, pid namespace, pid, a token of its own). Taken over at once when it names a
 * process of this host and namespace that runs no more — a train child killed mid-publish, or
 * ended by its parent's death through `process.exit`, which runs no `finally` — and otherwise
 * once it has gone unrefreshed for `staleMs` (a holder on another host sharing the dir, or a pid
 * reused). Its holder refreshes it every `staleMs / 4`, so a long erasure is never taken over,
 * and removes it as its process exits. A lock left by a kill blocked erasures, replica starts
 * and trains for two minutes (the session's production trial).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from '../errors.ts';

export interface LockTiming {
  /** How long a caller waits for the lock. */
  waitMs: number;
  /** How often it looks. */
  pollMs: number;
  /** A lock not refreshed for this long is its dead holder's. */
  staleMs: number;
}

/** Takes the lock `file`; resolves to its release. */
export async function acquireLock(file: string, t: LockTiming): Promise<() => Promise<void>> {
  const mine = JSON.stringify({ ...HERE, pid: process.pid, token: randomUUID() }) + '\n';
  const deadline = Date.now() + t.waitMs;
  for (;;) {
    try {
      await writeFile(file, mine, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await readOrNull(file);
      if (held === null) continue;
      if (await isStale(file, held, t.staleMs)) {
        // Only the lock judged stale: another waiter may have taken it over meanwhile.
        if ((await readOrNull(file)) === held) await rm(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new RegistryError(`the models dir is locked (${file})`);
      await sleep(t.pollMs);
    }
  }
  const ours = () => {
    try {
      return readFileSync(file, 'utf8') === mine;
    } catch {
      return false;
    }
  };
  const onExit = () => {
    if (ours()) rmSync(file, { force: true });
  };
  process.on('exit', onExit);
  const beat = setInterval(() => {
    const now = new Date();
    utimes(file, now, now).catch(() => {});
  }, t.staleMs / 4).unref();
  return async () => {
    clearInterval(beat);
    process.off('exit', onExit);
    if (ours()) await rm(file, { force: true });
  };
}

/**
 * Where this process's pids mean something: the host, and on Linux its pid namespace (two
 * containers may share a hostname and a models dir, and each its own pids).
 */
const HERE = { host: hostname(), ns: pidNamespace() };

function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

async function readOrNull(file: string): Promise<string | null> {
  return readFile(file, 'utf8').catch(() => null);
}

/** Whether the lock `held` names a process here that runs no more, or is `staleMs` old. */
async function isStale(file: string, held: string, staleMs: number): Promise<boolean> {
  let holder: { host?: unknown; ns?: unknown; pid?: unknown } = {};
  try {
    holder = JSON.parse(held) as typeof holder;
  } catch {
    // An older Shelf's lock (its pid alone): judged by its age.
  }
  const here = holder.host === HERE.host && holder.ns === HERE.ns;
  if (here && typeof holder.pid === 'number' && !runs(holder.pid)) return true;
  const age = await stat(file).then(
    (st) => Date.now() - st.mtimeMs,
    () => 0,
  );
  return age > staleMs;
}

/** Whether process `pid` of this host runs (one of another user's still does). */
function runs(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
