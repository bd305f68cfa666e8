import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import command from '../../../src/cli/commands/generate.ts';
import type { CommandContext } from '../../../src/cli/command.ts';
import { createContext } from '../../../src/cli/command-context.ts';
import { loadConfig } from '../../../src/config.ts';
import { InputError } from '../../../src/errors.ts';
import { readPlanted } from '../../../src/demo/planted.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';

const SMALL = ['--items', '150', '--users', '80', '--events', '3000', '--now', '2025-03-01T00:00:00Z'];
const dirs: string[] = [];
const stores: Store[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function context(): Promise<{ ctx: CommandContext; output: () => string; opened: () => Store | null }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'shelf-generate-'));
  dirs.push(dataDir);
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  let store: Store | null = null;
  const { ctx } = createContext({
    config: loadConfig({ SHELF_DATA_DIR: dataDir }, dataDir),
    log: pino({ level: 'silent' }),
    out,
    async openStore() {
      stores.push((store = await openSqliteStore(':memory:')));
      return store;
    },
  });
  return { ctx, output: () => text, opened: () => store };
}

describe('shelf generate', () => {
  it('writes the files into <dataDir>/demo by default and does not touch the store', async () => {
    const { ctx, output, opened } = await context();
    expect(await command.run(SMALL, ctx)).toBe(0);
    const dir = join(ctx.config.dataDir, 'demo');
    expect((await readdir(dir)).sort()).toEqual([
      'events.jsonl',
      'items.jsonl',
      'planted.json',
      'users.jsonl',
    ]);
    expect(opened()).toBeNull();
    expect(output()).toMatch(/generated seed 42 .*: 150 items, 80 users, \d+ events \(view \d+/);
    const planted = await readPlanted(dir);
    expect(planted.now).toBe('2025-03-01T00:00:00.000Z');
    expect(planted.options).toMatchObject({ items: 150, users: 80, events: 3000 });
  });

  it('imports into the configured store with --import and reports counts as JSON', async () => {
    const { ctx, output, opened } = await context();
    const out = join(ctx.config.dataDir, 'elsewhere');
    expect(await command.run([...SMALL, '--seed', '9', '--out', out, '--import', '--json'], ctx)).toBe(0);
    const summary = JSON.parse(output()) as { events: number; dir: string; seed: number; imported: unknown };
    expect(summary.seed).toBe(9);
    expect(summary.dir).toBe(out);
    expect(summary.imported).toEqual({ items: 150, users: 80, events: summary.events, duplicates: 0 });
    const stats = await opened()!.stats();
    expect([stats.items, stats.users, stats.events]).toEqual([150, 80, summary.events]);
    const lines = (await readFile(join(out, 'events.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines.length).toBe(summary.events);
    expect(JSON.parse(lines[0]!)).toMatchObject({ eventId: 'gen-9-1' });
  });

  it('skips the JSONL files with --import --no-files', async () => {
    const { ctx, opened } = await context();
    expect(await command.run([...SMALL, '--import', '--no-files'], ctx)).toBe(0);
    expect(await readdir(join(ctx.config.dataDir, 'demo'))).toEqual(['planted.json']);
    expect((await opened()!.stats()).events).toBeGreaterThan(2000);
  });

  it('rejects bad options with an InputError', async () => {
    const { ctx } = await context();
    await expect(command.run(['--items', 'many'], ctx)).rejects.toThrow(InputError);
    await expect(command.run(['--items', '10'], ctx)).rejects.toThrow(/items must be/);
    await expect(command.run(['--now', 'yesterday'], ctx)).rejects.toThrow(/--now/);
    await expect(command.run(['--frobnicate'], ctx)).rejects.toThrow(InputError);
    await expect(command.run(['--no-files'], ctx)).rejects.toThrow(/--import/);
    expect(command.usage).toContain('--import');
  });
});
