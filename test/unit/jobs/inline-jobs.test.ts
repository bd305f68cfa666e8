import { describe, expect, it } from 'vitest';
import { childImportProcessor } from '../../../src/jobs/child-import.ts';
import { InlineJobs, PermanentJobError } from '../../../src/jobs/inline-jobs.ts';
import type { JobContext, JobProcessor } from '../../../src/jobs/job-types.ts';

const RETRY = { attempts: 3, backoffMs: 20 };

describe('InlineJobs', () => {
  it('runs jobs one at a time in order, keeping result, progress and times', async () => {
    const order: string[] = [];
    const jobs = new InlineJobs<'a' | 'b'>(
      {
        a: async (ctx: JobContext) => {
          order.push('a start');
          ctx.progress('half', 50.4);
          await new Promise((r) => setTimeout(r, 20));
          ctx.progress('done', 140);
          order.push('a end');
          return { n: 1 };
        },
        b: async (ctx: JobContext) => {
          ctx.progress('classify', 0);
          order.push('b');
          return 2;
        },
      },
      { retry: RETRY, check: (_n, d) => d ?? {} },
    );
    const a = await jobs.enqueue('a');
    const b = await jobs.enqueue('b');
    expect(a.state).toBe('queued');
    await jobs.idle();
    expect(order).toEqual(['a start', 'a end', 'b']);
    expect(await jobs.status(a.id)).toMatchObject({
      state: 'completed',
      attempts: 1,
      result: { n: 1 },
      progress: { stage: 'done', percent: 100 },
    });
    // Its last report said 0%; done is 100%.
    expect((await jobs.status(b.id))!.progress).toEqual({ stage: 'classify', percent: 100 });
    const s = (await jobs.status(a.id))!;
    expect(Date.parse(s.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(s.startedAt!));
    expect((await jobs.list(10)).map((j) => j.id)).toEqual([b.id, a.id]);
    expect(await jobs.counts()).toEqual({ queued: 0, running: 0, completed: 2, failed: 0 });
    expect(await jobs.status('nope')).toBeNull();
  });

  it('retries a failed attempt after an exponential backoff, and keeps its reason meanwhile', async () => {
    const at: number[] = [];
    let seen: string | undefined;
    const jobs = new InlineJobs<'flaky'>(
      {
        flaky: async (ctx: JobContext) => {
          at.push(performance.now());
          if (ctx.attempt === 2) seen = (await jobs.status(ctx.id))?.error;
          if (ctx.attempt < 3) throw new Error(`transient ${ctx.attempt}`);
          return 'ok';
        },
      },
      { retry: RETRY, check: (_n, d) => d ?? {} },
    );
    const job = await jobs.enqueue('flaky');
    await jobs.idle();
    expect(await jobs.status(job.id)).toMatchObject({ state: 'completed', attempts: 3, result: 'ok' });
    expect((await jobs.status(job.id))!.error).toBeUndefined();
    expect(seen).toBe('transient 1');
    // 20 ms, then 40 ms (timers may fire a millisecond early).
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(19);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(39);
  });

  it('fails a job whose attempts all failed, with the last reason', async () => {
    let calls = 0;
    const jobs = new InlineJobs<'bad'>(
      {
        bad: async () => {
          calls++;
          throw new Error(`disk full ${calls}`);
        },
      },
      { retry: { attempts: 2, backoffMs: 1 }, check: (_n, d) => d ?? {} },
    );
    const job = await jobs.enqueue('bad');
    await jobs.idle();
    expect(calls).toBe(2);
    expect(await jobs.status(job.id)).toMatchObject({ state: 'failed', attempts: 2, error: 'disk full 2' });
  });

  it('fails a bad payload at once, without running or retrying, naming the field', async () => {
    let calls = 0;
    const jobs = new InlineJobs<'train'>(
      {
        train: async () => {
          calls++;
          return null;
        },
      },
      { retry: RETRY },
    );
    const job = await jobs.enqueue('train', { iterations: 'ten' });
    await jobs.idle();
    expect(calls).toBe(0);
    const s = await jobs.status(job.id);
    expect(s).toMatchObject({ state: 'failed', attempts: 0 });
    expect(s!.error).toMatch(/^bad train payload: data\/iterations /);
    const extra = await jobs.enqueue('train', { iterations: 2, colour: 'red' });
    await jobs.idle();
    expect((await jobs.status(extra.id))!.error).toContain('data');
    const good = await jobs.enqueue('train', { iterations: 2 });
    await jobs.idle();
    expect(await jobs.status(good.id)).toMatchObject({ state: 'completed' });
    expect(calls).toBe(1);
  });

  it('does not retry an error a retry cannot mend', async () => {
    let calls = 0;
    const jobs = new InlineJobs<'x'>(
      {
        x: async () => {
          calls++;
          throw new PermanentJobError('no such version');
        },
      },
      { retry: RETRY, check: (_n, d) => d ?? {} },
    );
    const job = await jobs.enqueue('x');
    await jobs.idle();
    expect(calls).toBe(1);
    expect(await jobs.status(job.id)).toMatchObject({ state: 'failed', error: 'no such version' });
  });

  // Seen in a trial: an import job of a missing file was tried three times, its backoffs apart.
  it('fails an import of a file the worker cannot read at once, naming it', async () => {
    const jobs = new InlineJobs<'import'>(
      { import: childImportProcessor({ env: {}, priority: 'normal' }) },
      { retry: RETRY, check: (_n, d) => d ?? {} },
    );
    const job = await jobs.enqueue('import', { kind: 'events', file: '/nonexistent/events.csv' });
    await jobs.idle();
    expect(await jobs.status(job.id)).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: 'cannot read /nonexistent/events.csv: ENOENT',
    });
  });

  it('stop() aborts the running job and leaves it and the queued ones unrun, not failed', async () => {
    let aborted = false;
    const slow: JobProcessor<never> = (ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('killed'));
        });
      });
    const jobs = new InlineJobs<'slow'>({ slow }, { retry: RETRY, check: (_n, d) => d ?? {} });
    const a = await jobs.enqueue('slow');
    const b = await jobs.enqueue('slow');
    await new Promise((r) => setTimeout(r, 10));
    expect((await jobs.status(a.id))!.state).toBe('running');
    // It names them, for the log: nothing runs them again after a restart.
    expect(jobs.stop().map((j) => [j.id, j.state])).toEqual([
      [a.id, 'running'],
      [b.id, 'queued'],
    ]);
    await jobs.idle();
    expect(aborted).toBe(true);
    expect((await jobs.status(a.id))!.state).toBe('queued');
    expect(await jobs.status(b.id)).toMatchObject({ state: 'queued', attempts: 0 });
  });
});
