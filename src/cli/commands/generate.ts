/**
 * `shelf generate`: a deterministic synthetic storefront with planted tastes (src/demo/). Writes
 * items.jsonl, users.jsonl, events.jsonl and planted.json into a folder and, with `--import`,
 * also stores everything in the configured store. Progress goes to stderr; the summary to stdout.
 */
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { exportStorefront } from '../../demo/export-storefront.ts';
import type { ExportProgress } from '../../demo/export-storefront.ts';
import { DEMO_NOW, generateStorefront, STOREFRONT_DEFAULTS } from '../../demo/generate-storefront.ts';
import type { StorefrontOptions } from '../../demo/generate-storefront.ts';
import { InputError } from '../../errors.ts';
import { parseTimestamp } from '../../store/validate.ts';
import type { Command, CommandContext } from '../command.ts';
import { parseOptions } from '../command.ts';

const d = STOREFRONT_DEFAULTS;

const USAGE = `shelf generate [--out DIR] [--import] [--no-files] [--seed N] [--items N] [--users N]
                      [--events N] [--days N] [--now TIME] [--json]

  Writes items.jsonl, users.jsonl, events.jsonl and planted.json (each user's planted favourite
  categories, brand affinity and segment) into DIR.

  --out DIR      folder for the files (default <dataDir>/demo)
  --import       also store items, users and events in the configured store (SQLite or
                 PostgreSQL), in batches. Event ids are gen-<seed>-<n>: importing a seed twice
                 keeps the first run's events (use a fresh store or another seed)
  --no-files     with --import: skip the three .jsonl files (planted.json is still written)
  --seed N       seed of every random choice (default ${d.seed})
  --items N      catalogue size, at least 100 (default ${d.items})
  --users N      registered users (default ${d.users})
  --events N     approximate number of events (default ${d.events})
  --days N       days of history before --now (default ${d.days})
  --now TIME     reference time, ISO-8601 or epoch ms (default: the current time); the same
                 seed, sizes and --now give byte-identical files (the library's fixed default
                 is ${new Date(DEMO_NOW).toISOString()})
  --json         print the summary as JSON`;

function wholeNumber(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw))
    throw new InputError(`--${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function parse(args: string[]): {
  out?: string;
  import: boolean;
  files: boolean;
  json: boolean;
  options: StorefrontOptions;
} {
  const { values } = parseOptions(
    {
      args,
      strict: true,
      allowPositionals: false,
      options: {
        out: { type: 'string' },
        import: { type: 'boolean', default: false },
        'no-files': { type: 'boolean', default: false },
        seed: { type: 'string' },
        items: { type: 'string' },
        users: { type: 'string' },
        events: { type: 'string' },
        days: { type: 'string' },
        now: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    },
    USAGE,
  );
  if (values['no-files'] && !values.import) {
    throw new InputError(
      '--no-files only makes sense with --import (otherwise nothing but planted.json is written)',
    );
  }
  let now = Math.floor(Date.now() / 1000) * 1000;
  if (values.now !== undefined) {
    const ms = parseTimestamp(values.now);
    if (ms === null) {
      throw new InputError(`--now must be an ISO-8601 time or epoch ms, got ${JSON.stringify(values.now)}`);
    }
    now = ms;
  }
  return {
    out: values.out,
    import: values.import,
    files: !values['no-files'],
    json: values.json,
    options: {
      seed: wholeNumber('seed', values.seed),
      items: wholeNumber('items', values.items),
      users: wholeNumber('users', values.users),
      events: wholeNumber('events', values.events),
      days: wholeNumber('days', values.days),
      now,
    },
  };
}

/** A bar on a terminal, a log line every 10 % otherwise. */
function progressReporter(ctx: CommandContext): { update(p: ExportProgress): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: '{phase} [{bar}] {percentage}% | {value}/{total} | {duration}s' },
      cliProgress.Presets.shades_classic,
    );
    let phase = '';
    return {
      update(p) {
        if (p.phase !== phase) {
          if (phase) bar.stop();
          phase = p.phase;
          bar.start(p.total, 0, { phase: p.phase.padEnd(6) });
        }
        bar.setTotal(p.total);
        bar.update(p.done, { phase: p.phase.padEnd(6) });
      },
      stop: () => bar.stop(),
    };
  }
  let nextReport = 0;
  return {
    update(p) {
      if (p.phase !== 'events') return;
      const percent = Math.min(100, Math.floor((100 * p.done) / p.total));
      if (percent >= nextReport) {
        ctx.log.info({ events: p.done, percent }, 'generating events');
        nextReport = percent + 10;
      }
    },
    stop() {},
  };
}

const command: Command = {
  summary: 'generate a synthetic storefront with planted tastes (files, and --import into the store)',
  usage: USAGE,
  async run(args, ctx) {
    const opts = parse(args);
    let storefront;
    try {
      storefront = generateStorefront(opts.options);
    } catch (err) {
      if (err instanceof RangeError) throw new InputError(err.message);
      throw err;
    }
    const dir = opts.out ?? join(ctx.config.dataDir, 'demo');
    const store = opts.import ? await ctx.store() : undefined;
    const o = storefront.options;
    ctx.log.info(
      {
        seed: o.seed,
        items: o.items,
        users: o.users,
        events: o.events,
        now: new Date(o.now).toISOString(),
        dir,
      },
      'generating storefront',
    );
    const started = performance.now();
    const progress = progressReporter(ctx);
    let summary;
    try {
      summary = await exportStorefront(storefront, {
        dir,
        jsonl: opts.files,
        store,
        onProgress: progress.update,
      });
    } finally {
      progress.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    if (opts.json) {
      ctx.out.write(
        JSON.stringify({ seed: o.seed, now: new Date(o.now).toISOString(), dir, seconds, ...summary }) + '\n',
      );
      return 0;
    }
    const types = Object.entries(summary.eventsByType)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    const lines = [
      `generated seed ${o.seed} in ${seconds.toFixed(1)} s: ${summary.items} items, ${summary.users} users, ` +
        `${summary.events} events (${types})`,
      `written: ${summary.files.join(', ')}`,
    ];
    if (summary.imported) {
      const i = summary.imported;
      if (i.duplicates > 0) {
        ctx.log.warn(
          { duplicates: i.duplicates, seed: o.seed },
          'events with these ids were already in the store and were kept as they were',
        );
      }
      lines.push(
        `imported into ${store!.kind}: ${i.items} items and ${i.users} users written, ` +
          `${i.events} events stored, ${i.duplicates} duplicates`,
      );
    }
    ctx.out.write(lines.join('\n') + '\n');
    return 0;
  },
};

export default command;
