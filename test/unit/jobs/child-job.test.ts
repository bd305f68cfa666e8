/**
 * A job's child process (child-job.ts) runs below the serving process's CPU priority, so a train
 * job on the serving machine takes the cores the API leaves; and `runChildJob` reports its
 * progress lines and its last line.
 */
import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { JOB_NICENESS, runChildJob, startJobChild } from '../../../src/jobs/child-job.ts';

describe('job child processes', () => {
  it('start at the job niceness, below this process', async () => {
    const child = startJobChild(['--help'], {});
    try {
      expect(getPriority(child.pid)).toBe(Math.max(getPriority(), JOB_NICENESS));
      expect(getPriority(child.pid)).toBeGreaterThan(getPriority());
    } finally {
      child.kill();
      await new Promise((r) => child.once('close', r));
    }
  });

  it('run a command to its end and hand back its exit code', async () => {
    const ctx = { progress: () => {}, signal: new AbortController().signal };
    const r = await runChildJob(['--help'], {}, ctx);
    expect(r.code).toBe(0);
  });
});
