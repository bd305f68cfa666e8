/**
 * The models dir's lock (dir-lock.ts): a holder killed, or ended by `process.exit`, leaves no
 * lock that others wait out; a live holder's lock is kept, refreshed, however long it works.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../../src/registry/dir-lock.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';

const HOLDER = fileURLToPath(new URL('../../helpers/lock-holder.ts', import.meta.url));
/** Stale only after ten minutes: a lock taken over within the wait was taken over for its dead holder. */
const PATIENT = { waitMs: 3000, pollMs: 10, staleMs: 600_000 };

/** A process holding the lock of `dir`, once it says so. */
function holder(dir: string, mode: 'hold' | 'exit') {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, dir, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const locked = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return { child, exited, locked };
}

describe('the models dir lock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-lock-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is taken over at once when its holder, a process of this host, was killed', async () => {
    const h = holder(dir, 'hold');
    await h.locked;
    h.child.kill('SIGKILL');
    await h.exited;
    expect(existsSync(join(dir, '.lock'))).toBe(true);
    const release = await acquireLock(join(dir, '.lock'), PATIENT);
    await release();
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('is removed when its holder ends through process.exit, which runs no finally', async () => {
    const h = holder(dir, 'exit');
    await h.locked;
    expect(await h.exited).toBe(3);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('is kept from others while its holder lives, refreshed past its stale age', async () => {
    const file = join(dir, '.lock');
    const release = await acquireLock(file, { waitMs: 0, pollMs: 10, staleMs: 200 });
    // Three stale ages later, still refreshed: not taken over.
    await new Promise((resolve) => setTimeout(resolve, 600));
    await expect(acquireLock(file, { waitMs: 100, pollMs: 10, staleMs: 200 })).rejects.toThrow(
      'the models dir is locked',
    );
    await release();
    await (
      await acquireLock(file, { waitMs: 100, pollMs: 10, staleMs: 200 })
    )();
  });

  it('clears what a holder that died left half-written, before the next holder works', async () => {
    const registry = new ModelRegistry(dir);
    await mkdir(join(dir, '.tmp-v20261207-081849-364'));
    await writeFile(join(dir, '.tmp-v20261207-081849-364', 'users.json'), '["u-00040"]');
    await mkdir(join(dir, '.removed-v20261207-081159-707'));
    expect(await registry.exclusive(async () => readdir(dir))).toEqual(['.lock']);
  });
});
