/** The human-readable import summary printed by `shelf import` without `--json`. */
import type { ImportSummary } from './types.ts';

const n = (x: number) => x.toLocaleString('en-US');

export function formatSummary(s: ImportSummary, maxErrors = 20): string {
  const lines = [
    `Imported ${s.kind} from ${s.file} (${s.format}, ${s.encoding}) in ${s.seconds.toFixed(1)} s`,
  ];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(12)} ${value}`);
  row('rows read', n(s.rows));
  row('stored', n(s.stored));
  row('duplicates', `${n(s.duplicates)}${s.kind === 'events' ? '' : ' (identical to the stored row)'}`);
  row('rejected', n(s.rejected));
  if (s.skipped) {
    const why = Object.entries(s.skippedReasons).map(([r, c]) => `${r}: ${n(c)}`);
    row('skipped', `${n(s.skipped)} (${why.join('; ')})`);
  }
  for (const [name, c] of Object.entries(s.flagged)) row('flagged', `${n(c)} ${name}`);
  for (const [kind, c] of Object.entries(s.also))
    row(kind, `${n(c.stored)} stored, ${n(c.duplicates)} unchanged`);
  const counts = Object.entries(s.counts);
  if (counts.length) row('counts', counts.map(([k, c]) => `${k} ${n(c)}`).join(', '));
  if (s.ignoredColumns.length)
    row('ignored', `${s.format === 'jsonl' ? 'field(s)' : 'column(s)'} ${s.ignoredColumns.join(', ')}`);
  const total = s.errors.length + s.errorsOmitted;
  if (total) {
    const shown = s.errors.slice(0, maxErrors);
    lines.push(`Errors (${shown.length} of ${n(total)} shown; --json lists up to ${n(s.errors.length)}):`);
    for (const e of shown) lines.push(`  line ${e.line}: ${e.field}: ${e.reason}`);
  }
  return lines.join('\n') + '\n';
}
