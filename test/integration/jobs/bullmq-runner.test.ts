/**
 * The BullMQ runner on the real Redis, with workers in this process (a queue prefix of its own
 * per test): a malformed payload fails at once without retry, a transient fault is retried with
 * backoff, a schedule fires once per firing with two workers running, and a worker closing
 * with a job in hand hands it back to the queue for another worker.
 */
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createContext } from '../../../src/cli/command-context.ts';
import jobsCommand from '../../../src/cli/commands/jobs.ts';
import { loadConfig } from '../../../src/config.ts';
import { BullmqJobs } from '../../../src/jobs/bullmq-jobs.ts';
import { ShelfWorker } from '../../../src/jobs/bullmq-worker.ts';
import type { JobContext, JobProcessor, JobStatus, ShelfJobName } from '../../../src/jobs/job-types.ts';
import { REDIS_URL, serviceAvailable, uniqueName } from '../../helpers/services.ts';

const available = await serviceAvailable('Redis', REDIS_URL);
const log = pino({ level: 'silent' });
const RETRY = { attempts: 3, backoffMs: 200 };

type Processors = Record<ShelfJobName, JobProcessor<never>>;
const none: JobProcessor<never> = async () => null;

describe.runIf(available)('the BullMQ runner', () => {
  const opened: { close(): Promise<unknown> }[] = [];
  const prefixes: string[] = [];

  const setup = (processors: Partial<Processors>, workers = 1, lockMs = 30_000) => {
    const prefix = uniqueName('shelf-test');
    prefixes.push(prefix);
    const queue = new BullmqJobs({ url: REDIS_URL, prefix, retry: RETRY });
    const made = Array.from(
      { length: workers },
      () =>
        new ShelfWorker({
          url: REDIS_URL,
          prefix,
          concurrency: 1,
          lockMs,
          log,
          processors: { train: none, segments: none, 'aggregate-feedback': none, ...processors },
        }),
    );
    opened.push(queue, ...made.map((w) => ({ close: () => w.close(0) })));
    return { queue, workers: made };
  };

  const until = async (queue: BullmqJobs, id: string, done: (s: JobStatus) => boolean, ms = 15_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const s = await queue.status(id);
      if (s && done(s)) return s;
      if (Date.now() > end) throw new Error(`job ${id} never got there: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const finished = (s: JobStatus) => s.state === 'completed' || s.state === 'failed';

  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
    const redis = new Redis(REDIS_URL);
    for (const p of prefixes.splice(0)) {
      const keys = await redis.keys(`${p}:*`);
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
  });

  it('gives every job an id of its own, also after Redis lost its data', async () => {
    // A train job's id is the jobKey its version's manifest keeps: BullMQ's counter gave the first
    // job after a Redis restarted empty the id of an old one, whose version it then promoted.
    const prefix = uniqueName('shelf-test');
    prefixes.push(prefix);
    const queue = new BullmqJobs({ url: REDIS_URL, prefix, retry: RETRY });
    opened.push(queue);
    const first = await queue.enqueue('segments');
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    await redis.del(...keys);
    await redis.quit();
    const second = await queue.enqueue('segments');
    expect(second.id).not.toBe(first.id);
    expect(await queue.status(second.id)).toMatchObject({ id: second.id, name: 'segments' });
  });

  it('fails a malformed payload at once, without retry, naming the field', async () => {
    let calls = 0;
    const { queue } = setup({
      train: async () => {
        calls++;
        return null;
      },
    });
    const job = await queue.enqueue('train', { iterations: 'ten', colour: 'red' });
    const s = await until(queue, job.id, finished);
    expect(s.state).toBe('failed');
    expect(s.attempts).toBe(1);
    expect(s.error).toBe(
      'bad train payload: data/colour Unexpected property; data/iterations Expected integer',
    );
    expect(calls).toBe(0);
  });

  it('retries a transient fault with backoff and completes, with progress kept', async () => {
    const started: number[] = [];
    const { queue } = setup({
      'aggregate-feedback': async (ctx: JobContext) => {
        started.push(Date.now());
        ctx.progress('counting', 50);
        if (ctx.attempt < 3) throw new Error(`connection reset ${ctx.attempt}`);
        return { added: 3 };
      },
    });
    const job = await queue.enqueue('aggregate-feedback');
    const s = await until(queue, job.id, finished);
    expect(s).toMatchObject({ state: 'completed', attempts: 3, result: { added: 3 } });
    // The last stage reported, at 100% once the job is done (it last said 50%).
    expect(s.progress).toEqual({ stage: 'counting', percent: 100 });
    // Exponential: 200 ms, then 400 ms.
    expect(started[1]! - started[0]!).toBeGreaterThanOrEqual(190);
    expect(started[2]! - started[1]!).toBeGreaterThanOrEqual(390);
    expect((await queue.list(10)).map((j) => j.id)).toContain(job.id);
    expect(await queue.counts()).toMatchObject({ completed: 1, failed: 0, running: 0, queued: 0 });
  });

  it('fires a schedule once per firing with two workers running, both registering it', async () => {
    const fired: { worker: number; at: number; id: string }[] = [];
    const processors = (worker: number): Partial<Processors> => ({
      segments: async (ctx: JobContext) => {
        fired.push({ worker, at: Date.now(), id: ctx.id });
        return null;
      },
    });
    const a = setup(processors(0));
    // A second worker on the same queue, with its own connections.
    const prefix = prefixes.at(-1)!;
    const queueB = new BullmqJobs({ url: REDIS_URL, prefix, retry: RETRY });
    const workerB = new ShelfWorker({
      url: REDIS_URL,
      prefix,
      concurrency: 1,
      lockMs: 30_000,
      log,
      processors: { train: none, segments: none, 'aggregate-feedback': none, ...processors(1) },
    });
    opened.push(queueB, { close: () => workerB.close(0) });
    const schedules = { train: null, segments: { everyMs: 1000 }, 'aggregate-feedback': null };
    await Promise.all([a.queue.syncSchedules(schedules), queueB.syncSchedules(schedules)]);
    const listed = await a.queue.schedules();
    expect(listed.find((s) => s.job === 'segments')).toMatchObject({ schedule: 'every 1000 ms' });
    expect(listed.find((s) => s.job === 'train')).toEqual({ job: 'train', schedule: null, next: null });
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 4500));
    await Promise.all([a.queue.syncSchedules({ ...schedules, segments: null })]);
    const window = Date.now() - t0;
    // One run per firing: ids never repeat, no two runs within the same second.
    expect(new Set(fired.map((f) => f.id)).size).toBe(fired.length);
    expect(fired.length).toBeGreaterThanOrEqual(3);
    expect(fired.length).toBeLessThanOrEqual(Math.ceil(window / 1000) + 1);
    const at = fired.map((f) => f.at).sort((x, y) => x - y);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThan(500);
  });

  it("counts no job for a schedule's next firing, and a retry waiting out its backoff as queued", async () => {
    let runs = 0;
    const { queue } = setup({
      'aggregate-feedback': async () => {
        if (++runs === 1) throw new Error('connection reset');
        return null;
      },
    });
    // Nightly: the next firing is a delayed job until tomorrow.
    await queue.syncSchedules({
      train: { pattern: '0 3 * * *' },
      segments: null,
      'aggregate-feedback': null,
    });
    expect((await queue.schedules()).find((s) => s.job === 'train')!.next).not.toBeNull();
    expect(await queue.counts()).toMatchObject({ queued: 0, running: 0 });
    expect(await queue.list(10)).toEqual([]);
    // A producer whose retries wait 10 s: the failed attempt's job is queued meanwhile.
    const slow = new BullmqJobs({
      url: REDIS_URL,
      prefix: prefixes.at(-1)!,
      retry: { attempts: 2, backoffMs: 10_000 },
    });
    opened.push(slow);
    const job = await slow.enqueue('aggregate-feedback');
    const s = await until(queue, job.id, (x) => x.error !== undefined && x.state !== 'running');
    expect(s).toMatchObject({ state: 'queued', attempts: 1, error: 'connection reset' });
    expect(await queue.counts()).toMatchObject({ queued: 1, running: 0 });
    expect((await queue.list(10)).map((j) => j.id)).toEqual([job.id]);
    await queue.syncSchedules({ train: null, segments: null, 'aggregate-feedback': null });
  });

  it('hands a job in hand back to the queue when a worker closes past its bound', async () => {
    let aborted = 0;
    const slow: JobProcessor<never> = (ctx) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => resolve('finished'), 1500);
        ctx.signal.addEventListener('abort', () => {
          aborted++;
          clearTimeout(t);
          reject(new Error('aborted'));
        });
      });
    const { queue, workers } = setup({ train: slow });
    const job = await queue.enqueue('train', {});
    await until(queue, job.id, (s) => s.state === 'running');
    await workers[0]!.close(100);
    expect(aborted).toBe(1);
    const back = (await queue.status(job.id))!;
    expect(back.state).toBe('queued');
    expect(back.error).toBeUndefined();
    // Another worker takes it and finishes it.
    const prefix = prefixes.at(-1)!;
    const w2 = new ShelfWorker({
      url: REDIS_URL,
      prefix,
      concurrency: 1,
      lockMs: 30_000,
      log,
      processors: { train: slow, segments: none, 'aggregate-feedback': none },
    });
    opened.push({ close: () => w2.close(0) });
    const s = await until(queue, job.id, finished);
    expect(s).toMatchObject({ state: 'completed', result: 'finished' });
  });

  it('shows the queue in `shelf jobs`: add, list with stage and attempts, schedules; refuses a bad payload', async () => {
    const { queue } = setup({
      segments: async (ctx: JobContext) => {
        ctx.progress('classify', 100);
        return { users: 7 };
      },
    });
    const prefix = prefixes.at(-1)!;
    let text = '';
    const out = new PassThrough();
    out.on('data', (d: Buffer) => (text += d.toString()));
    const { ctx, close } = createContext({
      config: loadConfig({ REDIS_URL, SHELF_QUEUE_PREFIX: prefix }),
      log,
      out,
    });
    const run = async (...args: string[]) => {
      text = '';
      const code = await jobsCommand.run(args, ctx);
      return { code, text };
    };
    try {
      const added = await run('add', 'segments');
      expect(added.code).toBe(0);
      const id = /as job (\S+)/.exec(added.text)![1]!;
      await until(queue, id, finished);
      const listed = await run('list', '--json');
      const parsed = JSON.parse(listed.text) as { counts: { completed: number }; jobs: { id: string }[] };
      expect(parsed.counts.completed).toBe(1);
      expect(parsed.jobs[0]).toMatchObject({
        id,
        state: 'completed',
        attempts: 1,
        progress: { stage: 'classify' },
      });
      const table = await run('list');
      expect(table.text).toMatch(new RegExp(`^${id} +segments +completed +try 1 +classify 100%`, 'm'));
      await queue.syncSchedules({
        train: { pattern: '0 3 * * *' },
        segments: null,
        'aggregate-feedback': null,
      });
      expect((await run('schedules')).text).toMatch(
        /^train +0 3 \* \* \* +next \d{4}-\d\d-\d\dT03:00:00.000Z$/m,
      );
      await expect(run('add', 'train', '--data', '{"iterations":0}')).rejects.toThrow(/data\/iterations/);
      await expect(run('add', 'nightly')).rejects.toThrow(/NAME must be one of/);
    } finally {
      await close();
    }
  });
});
