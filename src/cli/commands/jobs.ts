/**
 * `shelf jobs`: the job queue from the command line. With `REDIS_URL` it reads (and queues on)
 * the BullMQ queue that `shelf worker` processes run; embedded mode runs jobs inside the server,
 * so there it asks the server's API: by default the one this config starts, with its admin key
 * (`SHELF_API_KEYS`'s, or the one generated for the store); `--url` and `--key` name another.
 */
import cliProgress from 'cli-progress';
import { storeKeys } from '../../app/generated-keys.ts';
import { InputError } from '../../errors.ts';
import { BullmqJobs } from '../../jobs/bullmq-jobs.ts';
import { checkPayload, PayloadError } from '../../jobs/job-payloads.ts';
import { JOB_NAMES } from '../../jobs/job-types.ts';
import type { JobCounts, JobStatus, ShelfJobName } from '../../jobs/job-types.ts';
import type { ScheduleInfo } from '../../jobs/schedules.ts';
import type { Command, CommandContext } from '../command.ts';
import { numberOption, parseOptions } from '../command.ts';

const USAGE = `shelf jobs [list] [--limit N] [--watch] [--json]
shelf jobs add NAME [--data JSON]      NAME: ${JOB_NAMES.join(', ')}
shelf jobs schedules [--json]
  [--url URL --key ADMIN_KEY]           embedded mode: the server to ask (jobs run inside it);
                                        default: SHELF_HOST:SHELF_PORT with this store's admin key

  list       counts per state and the newest jobs: state, attempts, stage and percent, failure
  --watch    keep showing the running jobs' progress (bars on a terminal) until they finish
  add        queues a job; its payload (--data) is checked when it runs
  schedules  each job's schedule and next run`;

/** What the command reads from: the queue itself, or a server's admin API. */
interface JobSource {
  counts(): Promise<JobCounts>;
  list(limit: number): Promise<JobStatus[]>;
  enqueue(name: ShelfJobName, data: unknown): Promise<JobStatus>;
  schedules(): Promise<ScheduleInfo[]>;
  close(): Promise<void>;
}

/** An admin key and where it came from (what a refusal should tell). */
interface AdminKey {
  key: string;
  from: string;
}

function httpSource(base: string, { key, from }: AdminKey): JobSource {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(new URL(path, base), {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }).catch((err: Error) => {
      // Refused, unresolvable, reset: said in one line, not as a stack.
      const why = (err.cause as Error | undefined)?.message ?? err.message;
      throw new InputError(`no Shelf server answers at ${base} (${why}): start one, or give --url and --key`);
    });
    const json = (await res.json()) as T & { message?: string };
    // Refused: the server takes other keys than this one (SHELF_API_KEYS set for it alone).
    const hint =
      res.status === 401 ? `: it does not take ${from}; give --key, or the SHELF_API_KEYS it runs with` : '';
    if (!res.ok) throw new InputError(`${method} ${path}: ${res.status} ${json.message ?? ''}${hint}`);
    return json;
  };
  const urls: Partial<Record<ShelfJobName, string>> = {
    train: '/v1/admin/train',
    segments: '/v1/admin/segments',
    'aggregate-feedback': '/v1/admin/feedback/aggregate',
  };
  return {
    counts: async () => (await call<{ counts: JobCounts }>('GET', '/v1/admin/jobs?limit=1')).counts,
    list: async (limit) => (await call<{ jobs: JobStatus[] }>('GET', `/v1/admin/jobs?limit=${limit}`)).jobs,
    enqueue: (name, data) => {
      const url = urls[name];
      // A file path is not taken over HTTP: embedded, `shelf import` does the same in one step.
      if (!url) throw new InputError(`${name} jobs are queued with REDIS_URL; embedded, run shelf ${name}`);
      return call<JobStatus>('POST', url, name === 'train' ? data : undefined);
    },
    schedules: async () =>
      (await call<{ schedules: ScheduleInfo[] }>('GET', '/v1/admin/schedules')).schedules,
    close: async () => {},
  };
}

/** The address `shelf start` listens on with this config (all interfaces: this machine's). */
function localServer(http: { host: string; port: number }): string {
  const host = http.host === '0.0.0.0' || http.host === '::' ? '127.0.0.1' : http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${http.port}`;
}

/** The configured admin key, or the one `shelf start` generated for this store. */
async function adminKey(ctx: CommandContext): Promise<AdminKey> {
  const configured = ctx.config.apiKeys.find((k) => k.role === 'admin');
  if (configured) return { key: configured.key, from: 'the admin key of SHELF_API_KEYS' };
  return { key: (await storeKeys(await ctx.store())).admin, from: "the store's generated admin key" };
}

/** A train the gate refused completed, and says so (the version published, not promoted). */
function refusal(result: unknown): string {
  const r = result as { promoted?: unknown; message?: unknown } | null | undefined;
  return r?.promoted === false && typeof r.message === 'string' ? r.message : '';
}

function row(j: JobStatus): string {
  const progress = j.progress ? `${j.progress.stage} ${j.progress.percent}%` : '';
  const took =
    j.startedAt && j.finishedAt
      ? `${((Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000).toFixed(1)} s`
      : '';
  return [
    j.id.padEnd(14),
    j.name.padEnd(19),
    j.state.padEnd(10),
    `try ${j.attempts}`.padEnd(6),
    progress.padEnd(22),
    took.padEnd(9),
    j.error ?? refusal(j.result),
  ]
    .join(' ')
    .trimEnd();
}

const jobs: Command = {
  summary: 'list jobs with their stage and progress, queue one, show the schedules',
  usage: USAGE,
  async run(args, ctx) {
    const { values: v, positionals } = parseOptions(
      {
        args,
        strict: true,
        allowPositionals: true,
        options: {
          limit: { type: 'string' },
          watch: { type: 'boolean', default: false },
          json: { type: 'boolean', default: false },
          data: { type: 'string' },
          url: { type: 'string' },
          key: { type: 'string' },
        },
      },
      USAGE,
    );
    const [action = 'list', name] = positionals;
    let source: JobSource;
    if (v.url) {
      if (!v.key) throw new InputError('--url needs --key (an admin API key)');
      source = httpSource(v.url, { key: v.key, from: 'the --key given' });
    } else if (ctx.config.redis) {
      source = new BullmqJobs({
        url: ctx.config.redis.url,
        prefix: ctx.config.jobs.prefix,
        retry: { attempts: ctx.config.jobs.attempts, backoffMs: ctx.config.jobs.backoffMs },
        log: ctx.log,
      });
    } else {
      const key = v.key ? { key: v.key, from: 'the --key given' } : await adminKey(ctx);
      source = httpSource(localServer(ctx.config.http), key);
    }
    try {
      const out = (text: string) => ctx.out.write(text + '\n');
      if (action === 'add') {
        if (!name || !(JOB_NAMES as readonly string[]).includes(name))
          throw new InputError(`jobs add NAME: NAME must be one of ${JOB_NAMES.join(', ')}`);
        let data: unknown = {};
        if (v.data !== undefined) {
          try {
            data = JSON.parse(v.data);
          } catch (err) {
            throw new InputError(`--data: not JSON (${(err as Error).message})`);
          }
        }
        try {
          checkPayload(name, data);
        } catch (err) {
          // Said in one line, as the API's 400 says it, not as a stack.
          if (err instanceof PayloadError) throw new InputError(`--data: ${err.message}`);
          throw err;
        }
        const job = await source.enqueue(name as ShelfJobName, data);
        out(v.json ? JSON.stringify(job) : `queued ${job.name} as job ${job.id}`);
        return 0;
      }
      if (action === 'schedules') {
        const all = await source.schedules();
        if (v.json) out(JSON.stringify({ schedules: all }));
        else
          for (const s of all)
            out(`${s.job.padEnd(19)} ${(s.schedule ?? 'off').padEnd(14)} next ${s.next ?? '—'}`);
        return 0;
      }
      if (action !== 'list')
        throw new InputError(`unknown action ${JSON.stringify(action)}\nusage: ${USAGE}`);
      const limit = numberOption('limit', v.limit, 1, true) ?? 20;
      if (v.watch) return await watch(source, (t) => out(t));
      const [counts, list] = [await source.counts(), await source.list(limit)];
      if (v.json) out(JSON.stringify({ counts, jobs: list }));
      else {
        out(
          Object.entries(counts)
            .map(([s, n]) => `${s} ${n}`)
            .join(', '),
        );
        for (const j of list) out(row(j));
      }
      return 0;
    } finally {
      await source.close();
    }
  },
};

/** Shows the running and queued jobs' progress until none is left (bars on a terminal). */
async function watch(source: JobSource, out: (text: string) => void): Promise<number> {
  const tty = process.stderr.isTTY;
  const multi = tty
    ? new cliProgress.MultiBar(
        { format: '{name} [{bar}] {value}% {stage}', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  const bars = new Map<string, cliProgress.SingleBar>();
  const seen = new Map<string, string>();
  for (;;) {
    const live = (await source.list(50)).filter((j) => j.state === 'running' || j.state === 'queued');
    for (const j of live) {
      const percent = j.progress?.percent ?? 0;
      const stage = j.progress?.stage ?? j.state;
      if (multi) {
        const payload = { name: `${j.name} ${j.id}`.padEnd(28), stage };
        const bar = bars.get(j.id) ?? multi.create(100, 0, payload);
        bars.set(j.id, bar);
        bar.update(percent, payload);
      } else if (seen.get(j.id) !== `${stage} ${percent}`) {
        seen.set(j.id, `${stage} ${percent}`);
        out(row(j));
      }
    }
    if (live.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  multi?.stop();
  out('no job running or queued');
  return 0;
}

export default jobs;
