import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import generate from '../../../src/cli/commands/generate.ts';
import { defaultStart } from '../../../src/app/simulate-storefront.ts';
import simulate from '../../../src/cli/commands/simulate.ts';
import type { CommandContext } from '../../../src/cli/command.ts';
import { createContext } from '../../../src/cli/command-context.ts';
import { loadConfig } from '../../../src/config.ts';
import { InputError } from '../../../src/errors.ts';
import type { SimulationResult } from '../../../src/demo/closed-loop.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';

describe('shelf simulate', () => {
  let dataDir: string;
  let store: Store;
  let ctx: CommandContext;
  let text = '';

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'shelf-simulate-'));
    store = await openSqliteStore(':memory:');
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    ({ ctx } = createContext({
      config: loadConfig({ SHELF_DATA_DIR: dataDir }, dataDir),
      log: pino({ level: 'silent' }),
      out,
      openStore: () => Promise.resolve(store),
    }));
    const small = ['--items', '150', '--users', '60', '--events', '3000', '--now', '2025-03-01T00:00:00Z'];
    expect(await generate.run([...small, '--import', '--no-files'], ctx)).toBe(0);
    text = '';
  });
  afterAll(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('continues the store’s history from the day after its last event, with the planted users of <dataDir>/demo', async () => {
    const args = [
      '--visitors',
      '30',
      '--days',
      '2',
      '--seed',
      '3',
      '--tiers',
      'homepage,personalized',
      '--json',
    ];
    expect(await simulate.run(args, ctx)).toBe(0);
    const r = JSON.parse(text) as SimulationResult & { files: string[]; aggregate: { impressions: number } };
    expect(r.from).toBe('2025-03-01');
    expect(r.to).toBe('2025-03-02');
    expect(Object.keys(r.byTier).sort()).toEqual(['homepage', 'personalized']);
    expect(r.totals.impressions).toBeGreaterThan(0);
    expect(r.aggregate.impressions).toBe(r.totals.impressions);
    expect(await readdir(join(dataDir, 'simulation', '2025-03-01-seed3'))).toEqual([
      'shown.jsonl',
      'summary.json',
    ]);
    // Its events are in the store: the next run starts after them.
    expect((await store.stats()).lastEventAt).toBeGreaterThanOrEqual(Date.parse('2025-03-02T00:00:00Z'));
  });

  it('starts after the history by default, but never runs past today', () => {
    const now = Date.parse('2026-12-02T21:00:00Z');
    const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`);
    expect(defaultStart(Date.parse('2026-11-20T10:00:00Z'), 2, now)).toBe(day('2026-11-21'));
    // A history reaching today (`shelf generate` dates it up to now): the last two whole days.
    expect(defaultStart(Date.parse('2026-12-02T19:00:00Z'), 2, now)).toBe(day('2026-11-30'));
    expect(defaultStart(null, 3, now)).toBe(day('2026-11-29'));
  });

  it('refuses more visitors than planted users, and unknown tiers', async () => {
    await expect(simulate.run(['--visitors', '61'], ctx)).rejects.toThrow(InputError);
    await expect(simulate.run(['--visitors', '61'], ctx)).rejects.toThrow(/at most the 60 planted users/);
    await expect(simulate.run(['--tiers', 'homepage,front'], ctx)).rejects.toThrow(/unknown tier "front"/);
  });
});
