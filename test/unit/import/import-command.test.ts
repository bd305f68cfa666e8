import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import command from '../../../src/cli/commands/import.ts';
import type { CommandContext } from '../../../src/cli/command.ts';
import { createContext } from '../../../src/cli/command-context.ts';
import { loadConfig } from '../../../src/config.ts';
import { InputError } from '../../../src/errors.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';

const T0 = Date.UTC(2026, 0, 1);
let dir: string;
let csv: string;
let store: Store;
let output: string;
let ctx: CommandContext;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shelf-import-cli-'));
  csv = join(dir, 'events.csv');
  const rows = ['eventId,type,userId,itemId,timestamp'];
  for (let i = 0; i < 10; i++) rows.push(`e${i},view,u1,i${i},${T0 + i}`);
  rows.push('bad,view,u1,,nope');
  await writeFile(csv, rows.join('\n') + '\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  store = await openSqliteStore(':memory:');
  output = '';
  ctx = createContext({
    config: loadConfig({}),
    log: pino({ level: 'silent' }),
    openStore: async () => store,
    out: new Writable({
      write(chunk, _enc, done) {
        output += String(chunk);
        done();
      },
    }),
  }).ctx;
});
afterEach(async () => {
  await store.close();
});

describe('shelf import', () => {
  it('prints the summary as one JSON object with --json', async () => {
    expect(await command.run(['events', csv, '--json', '--batch-size', '3'], ctx)).toBe(0);
    expect(output.trim().split('\n')).toHaveLength(1);
    const summary = JSON.parse(output);
    expect(summary).toMatchObject({ stored: 10, duplicates: 0, rejected: 1, errorsOmitted: 0 });
    expect(summary.errors).toEqual([
      { line: 12, field: 'itemId', reason: 'is required' },
      { line: 12, field: 'timestamp', reason: expect.stringContaining('ISO-8601') },
    ]);
  });

  it('prints a human summary, and all duplicates on the second run', async () => {
    await command.run(['events', csv], ctx);
    expect(output).toMatch(/rows read\s+11/);
    expect(output).toMatch(/line 12: itemId: is required/);
    output = '';
    await command.run(['events', csv, '--format=csv'], ctx);
    expect(output).toMatch(/stored\s+0\n/);
    expect(output).toMatch(/duplicates\s+10/);
  });

  it('names the option in errors about option values', async () => {
    await expect(command.run(['events', csv, '--encoding', 'ebcdic'], ctx)).rejects.toThrow(
      new InputError('--encoding must be one of utf-8, latin1; got "ebcdic"'),
    );
    await expect(command.run(['events', csv, '--format', 'xml'], ctx)).rejects.toThrow(
      /--format must be one of/,
    );
    await expect(command.run(['events', csv, '--batch-size', '0'], ctx)).rejects.toThrow(/--batch-size/);
    await expect(command.run(['events', csv, '--fast'], ctx)).rejects.toThrow(/unknown option --fast/);
  });

  it('answers a usage error with exit code 2', async () => {
    expect(await command.run(['orders', csv], ctx)).toBe(2);
    expect(await command.run(['events'], ctx)).toBe(2);
    expect(output).toContain('usage: shelf import items|events|users FILE');
  });
});
