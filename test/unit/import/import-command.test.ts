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
  it('credits imported clicks and purchases to the lists that showed them, once', async () => {
    const HOUR = 3_600_000;
    await store.insertImpressions([
      {
        recommendationId: 'rec-1',
        tier: 'personalized',
        config: 'default',
        probability: 1,
        modelVersion: 'v1',
        userId: 'u1',
        itemIds: ['i1', 'i2', 'i3'],
        timestamp: T0,
      },
    ]);
    const file = join(dir, 'credited.jsonl');
    const events = [
      // The list named: credited at the item's position.
      {
        eventId: 'c1',
        type: 'click',
        userId: 'u1',
        itemId: 'i2',
        recommendationId: 'rec-1',
        timestamp: T0 + 1000,
      },
      // An item the named list did not show: no credit.
      {
        eventId: 'c2',
        type: 'click',
        userId: 'u1',
        itemId: 'i9',
        recommendationId: 'rec-1',
        timestamp: T0 + 2000,
      },
      // No id, within the purchase window (7 days): the latest list with the item; 2 units.
      {
        eventId: 'p1',
        type: 'purchase',
        userId: 'u1',
        itemId: 'i3',
        quantity: 2,
        price: 7.5,
        timestamp: T0 + 3 * 24 * HOUR,
      },
      // No id, past the click window (24 h): none.
      { eventId: 'c3', type: 'click', userId: 'u1', itemId: 'i1', timestamp: T0 + 25 * HOUR },
    ];
    await writeFile(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    expect(await command.run(['events', file, '--json'], ctx)).toBe(0);
    expect(JSON.parse(output)).toMatchObject({ stored: 4, counts: { attributed: 2 } });
    const credited = await store.attributionsAfter(0, 100);
    expect(
      credited.map((a) => [a.eventId, a.type, a.recommendationId, a.position, a.units, a.revenue]),
    ).toEqual([
      ['c1', 'click', 'rec-1', 1, 0, 0],
      ['p1', 'purchase', 'rec-1', 2, 2, 15],
    ]);
    // The same file again: all duplicates, nothing credited twice.
    output = '';
    expect(await command.run(['events', file, '--json'], ctx)).toBe(0);
    expect(JSON.parse(output)).toMatchObject({ stored: 0, duplicates: 4, counts: {} });
    expect(await store.attributionsAfter(0, 100)).toHaveLength(2);
  });

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
