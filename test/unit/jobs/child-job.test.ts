/**
 * A job's child process (child-job.ts) runs below the serving process's CPU priority, so a train
 * job on the serving machine takes the cores the API leaves; and `runChildJob` reports its
 * progress lines and its last line.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOB_NICENESS, reasonOf, runChildJob, startJobChild } from '../../../src/jobs/child-job.ts';
import type { JobPriority } from '../../../src/jobs/child-job.ts';
import { procStat } from '../../helpers/proc-stat.ts';

/** Linux's scheduling policy of `pid` (`/proc/PID/stat` field 41): 0 normal, 5 SCHED_IDLE. */
const policyOf = (pid: number) => Number(procStat(pid)![41 - 3]);

/** Starts `shelf --help` at `priority`, hands its pid to `check` once node runs in it, ends it. */
async function withChild(priority: JobPriority, check: (pid: number) => void): Promise<void> {
  const child = startJobChild(['--help'], { env: {}, priority });
  try {
    // `chrt` sets the policy, then becomes node: wait for node, which `--help` keeps up for a while.
    const pid = child.pid!;
    const end = Date.now() + 5000;
    while (process.platform === 'linux' && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'node') {
      if (Date.now() > end) throw new Error('the child never became node');
      await new Promise((r) => setTimeout(r, 5));
    }
    check(pid);
  } finally {
    child.kill();
    await new Promise((r) => child.once('close', r));
  }
}

describe('job child processes', () => {
  it('start at the job niceness, below this process, when low', async () => {
    await withChild('low', (pid) => {
      expect(getPriority(pid)).toBe(Math.max(getPriority(), JOB_NICENESS));
      expect(getPriority(pid)).toBeGreaterThan(getPriority());
    });
  });

  it.runIf(process.platform === 'linux')(
    'run under SCHED_IDLE when idle, and as this process when normal',
    async () => {
      await withChild('idle', (pid) => expect(policyOf(pid)).toBe(5));
      await withChild('normal', (pid) => {
        expect(policyOf(pid)).toBe(0);
        expect(getPriority(pid)).toBe(getPriority());
      });
    },
  );

  it("keep as a failure's reason the line the command line prints last for it", () => {
    // Seen as a failed train job's reason: "at async trainCommand (…) | | Node.js v20.20.2".
    const stack = [
      '{"level":30,"msg":"fitting"}',
      'RangeError: value at entry 52276 is not finite',
      '    at checkCsr (models/als.ts:466:11)',
      '    at async trainCommand (src/cli/commands/train.ts:104:25)',
      'shelf train: RangeError: value at entry 52276 is not finite',
    ].join('\n');
    expect(reasonOf(stack)).toBe('shelf train: RangeError: value at entry 52276 is not finite');
    expect(reasonOf('a\nb\nc\nd\n')).toBe('b | c | d');
  });

  it('end a child that fails (a file it cannot read) at once, with its reason', async () => {
    // Seen: an import job naming a missing file held the worker for good (its stdin watch kept
    // the child alive), and every job behind it waited.
    const dir = await mkdtemp(join(tmpdir(), 'shelf-child-'));
    try {
      const ctx = { progress: () => {}, signal: new AbortController().signal };
      const missing = join(dir, 'missing.jsonl');
      const env = { SHELF_DATA_DIR: dir, DATABASE_URL: '', REDIS_URL: '', SHELF_LOG_LEVEL: 'silent' };
      const r = await runChildJob(
        ['import', 'items', missing, '--json', '--as-job'],
        { env, priority: 'normal' },
        ctx,
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toBe(`shelf import: cannot read ${missing}: ENOENT`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('run a command to its end and hand back its exit code', async () => {
    const ctx = { progress: () => {}, signal: new AbortController().signal };
    const r = await runChildJob(['--help'], { env: {}, priority: 'idle' }, ctx);
    expect(r.code).toBe(0);
  });
});
