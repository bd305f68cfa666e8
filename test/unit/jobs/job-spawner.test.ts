/**
 * Job children started by the spawner's helper process (job-spawner.ts): the helper's children,
 * not this process's, with their output, exit code and abort carried across; and started here
 * again once the helper is gone.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runChildJob } from '../../../src/jobs/child-job.ts';
import type { JobChildSpec } from '../../../src/jobs/child-job.ts';
import { JobSpawner } from '../../../src/jobs/job-spawner.ts';
import { procStat } from '../../helpers/proc-stat.ts';

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => procStat(p)?.[1] === String(pid));
}

/** Whether `pid` has ended (gone, or a zombie its parent has not reaped). */
const ended = (pid: number) => (procStat(pid)?.[0] ?? 'Z') === 'Z';

const ctx = (signal = new AbortController().signal) => ({ progress: () => {}, signal });

describe('the job spawner', () => {
  let spawner: JobSpawner | null = null;
  afterEach(async () => {
    await spawner?.close();
    spawner = null;
  });

  it.runIf(process.platform === 'linux')(
    'starts a job child as the helper’s child, and hands back its output and exit code',
    async () => {
      spawner = JobSpawner.start();
      const spec: JobChildSpec = { env: {}, priority: 'normal', spawner };
      const before = childrenOf(process.pid);
      const running = runChildJob(['--help'], spec, ctx());
      // While it runs: a child of the helper; this process has started no other.
      const end = Date.now() + 10_000;
      while (!childrenOf(spawner.pid!).length && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      expect(childrenOf(spawner.pid!)).toHaveLength(1);
      expect(childrenOf(process.pid).filter((p) => !before.includes(p))).toEqual([]);
      const r = await running;
      expect(r.code).toBe(0);
      // A failing command: its exit code, and its stderr's tail (the usage).
      const bad = await runChildJob(['no-such-command'], spec, ctx());
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/train a model version/);
    },
  );

  it('ends a child when its job is aborted', async () => {
    spawner = JobSpawner.start();
    const abort = new AbortController();
    const running = runChildJob(['--help'], { env: {}, priority: 'normal', spawner }, ctx(abort.signal));
    setTimeout(() => abort.abort(new Error('stop')), 200);
    await expect(running).rejects.toThrow('stop');
  });

  it.runIf(process.platform === 'linux')(
    'ends its helper when the process that started it is killed',
    async () => {
      // A stand-in for a server: starts a spawner, prints the helper's pid, waits.
      const script = `import { JobSpawner } from ${JSON.stringify(new URL('../../../src/jobs/job-spawner.ts', import.meta.url).href)};
      const s = JobSpawner.start(); console.log(s.pid); setInterval(() => {}, 1000);`;
      const server = spawn(
        process.execPath,
        ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const helper = Number(
        await new Promise<string>((resolve) =>
          server.stdout.once('data', (d: Buffer) => resolve(d.toString())),
        ),
      );
      expect(ended(helper)).toBe(false);
      server.kill('SIGKILL');
      const end = Date.now() + 10_000;
      while (!ended(helper) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(ended(helper)).toBe(true);
    },
  );

  it('starts children here once the helper is gone, and fails the ones it ran', async () => {
    spawner = JobSpawner.start();
    const spec: JobChildSpec = { env: {}, priority: 'normal', spawner };
    const running = runChildJob(['--help'], spec, ctx());
    await new Promise((r) => setTimeout(r, 200));
    process.kill(spawner.pid!, 'SIGKILL');
    expect((await running).code).toBeNull();
    expect((await runChildJob(['--help'], spec, ctx())).code).toBe(0);
  });
});
