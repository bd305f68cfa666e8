/**
 * `shelf import items|events|users FILE`: streams a CSV/JSONL file (gzip or not) or a known
 * dataset (Online Retail, MovieLens) into the store. See src/store/import/ for the formats.
 * Exit code 0 when the import ran to the end, even if some rows were rejected (the summary
 * says how many); 1 when the file cannot be read at all; 2 for a usage error.
 */
import { visitorsOf } from '../../changes/change-feed.ts';
import { InputError } from '../../errors.ts';
import { formatSummary } from '../../store/import/format-summary.ts';
import { importFile } from '../../store/import/import-file.ts';
import { parseEncoding, parseFormat } from '../../store/import/resolve-format.ts';
import type { ImportEncoding, ImportFormat, ImportKind } from '../../store/import/types.ts';
import { IMPORT_KINDS } from '../../store/import/types.ts';
import type { Command } from '../command.ts';
import { watchingParent } from '../exit-with-parent.ts';

const VALUE_OPTIONS = ['format', 'encoding', 'batch-size'] as const;

const command: Command = {
  summary: 'import items, users or events from CSV/JSONL (gzip too), Online Retail or MovieLens',
  usage: [
    'shelf import items|events|users FILE [--format jsonl|csv|online-retail|movielens] [--encoding utf-8|latin1]',
    '       [--batch-size N] [--json] [--as-job]',
    '',
    'FILE may be gzipped (detected from its first bytes). --format defaults from the name: .jsonl/.ndjson,',
    '.csv (an Online Retail header is recognised), u.data/u.item/u.user or a MovieLens directory.',
    'JSONL: one object per line with the Item/User/Event field names.',
    'CSV: a header row naming those fields; categories as `Home > Kitchen|Gifts > Mugs` (paths separated',
    'by |); attributes.NAME / context.NAME columns (or an attributes / context column holding JSON);',
    'empty cells are absent fields. Bad rows are reported (line, field, reason) and never stop the import;',
    'importing the same file again stores nothing new. --json prints the summary as one JSON object.',
  ].join('\n'),
  async run(args, ctx) {
    const positional: string[] = [];
    const opts = new Map<string, string>();
    let json = false;
    let asJob = false;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (!a.startsWith('--')) {
        positional.push(a);
        continue;
      }
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (name === 'json' && eq < 0) {
        json = true;
        continue;
      }
      if (name === 'as-job' && eq < 0) {
        asJob = true;
        continue;
      }
      if (!(VALUE_OPTIONS as readonly string[]).includes(name)) {
        throw new InputError(`unknown option --${name}; usage: ${command.usage}`);
      }
      const value = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (value === undefined) throw new InputError(`--${name} needs a value`);
      opts.set(name, value);
    }
    const [kind, file, ...extra] = positional;
    if (!kind || !file || extra.length || !(IMPORT_KINDS as readonly string[]).includes(kind)) {
      ctx.out.write(`usage: ${command.usage}\n`);
      return 2;
    }
    const format: ImportFormat | undefined = opts.has('format')
      ? parseFormat(opts.get('format')!)
      : undefined;
    const encoding: ImportEncoding | undefined = opts.has('encoding')
      ? parseEncoding(opts.get('encoding')!)
      : undefined;
    let batchSize: number | undefined;
    if (opts.has('batch-size')) {
      const raw = opts.get('batch-size')!;
      batchSize = Number(raw);
      if (!/^\d+$/.test(raw) || batchSize < 1 || batchSize > 100_000) {
        throw new InputError(
          `--batch-size must be a whole number from 1 to 100000; got ${JSON.stringify(raw)}`,
        );
      }
    }
    const store = await ctx.store();
    // The import job runs this in a child process: progress as JSON lines, ends with its parent.
    return watchingParent(asJob, async () => {
      const summary = await importFile(store, {
        kind: kind as ImportKind,
        file,
        format,
        encoding,
        batchSize,
        // Running servers apply what changed: items read again, consent and profiles honoured,
        // visitors' histories read again.
        onWritten: async (w) => {
          if ('items' in w) {
            await ctx.publish([{ kind: 'items', itemIds: w.items.map((i) => i.itemId) }]);
          } else if ('events' in w) {
            // Their history and consumed items are read again: an imported purchase is kept out at once.
            await ctx.publish([visitorsOf(w.events)]);
          } else {
            const userIds = w.users.map((u) => u.userId);
            const withdrawn = w.users.filter((u) => !u.consent.personalization).map((u) => u.userId);
            await ctx.publish([{ kind: 'users', userIds, withdrawn }]);
          }
        },
        // A consent an import gives or withdraws is audited per user, as the API's PATCH is.
        onConsent: async (changed) => {
          for (const c of changed)
            await ctx.audit('user.consent', c.userId, { personalization: c.personalization, file });
        },
        // Imported clicks and purchases are credited like the API's (a recommendationId, or the window).
        attributor: await ctx.attributor(),
        latestEventAt: Date.now() + ctx.config.maxEventSkewMs,
        onProgress: (p) =>
          asJob
            ? ctx.out.write(
                JSON.stringify({
                  progress: {
                    stage: 'import',
                    percent: p.percent,
                  },
                }) + '\n',
              )
            : ctx.log.info(
                {
                  rows: p.rows,
                  stored: p.stored,
                  rejected: p.rejected,
                  percent: p.percent,
                },
                'importing',
              ),
      });
      if (summary.stored) {
        await ctx.audit(`${kind as ImportKind}.import`, null, {
          file: summary.file,
          stored: summary.stored,
        });
      }
      if (summary.ignoredColumns.length) {
        ctx.log.warn(
          { columns: summary.ignoredColumns },
          'ignored columns or fields that are no field of the record',
        );
      }
      ctx.out.write(json ? JSON.stringify(summary) + '\n' : formatSummary(summary));
      return 0;
    });
  },
};

export default command;
