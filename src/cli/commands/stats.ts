import type { Command } from '../command.ts';

const iso = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString());

const stats: Command = {
  summary: 'counts of items, users and events by type and time span',
  usage: 'shelf stats [--json]',
  async run(args, ctx) {
    const s = await (await ctx.store()).stats();
    if (args.includes('--json')) {
      ctx.out.write(JSON.stringify(s) + '\n');
      return 0;
    }
    const lines = [
      `store        ${ctx.config.database.kind}`,
      `items        ${s.items} (${s.activeItems} active)`,
      `users        ${s.users}`,
      `events       ${s.events}`,
      ...Object.entries(s.eventsByType).map(([type, n]) => `  ${type.padEnd(16)} ${n}`),
      `first event  ${iso(s.firstEventAt)}`,
      `last event   ${iso(s.lastEventAt)}`,
    ];
    ctx.out.write(lines.join('\n') + '\n');
    return 0;
  },
};

export default stats;
