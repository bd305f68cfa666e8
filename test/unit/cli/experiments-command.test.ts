/** `shelf experiments`: the API's lifecycle from the command line (unship too), published and audited. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandContext } from '../../../src/cli/command.ts';
import { createContext } from '../../../src/cli/command-context.ts';
import experiments from '../../../src/cli/commands/experiments.ts';
import { loadConfig } from '../../../src/config.ts';
import { openSqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/types.ts';

describe('shelf experiments', () => {
  let dir: string;
  let store: Store;
  let ctx: CommandContext;
  let text = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-experiments-cli-'));
    store = await openSqliteStore(':memory:');
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    ctx = createContext({
      config: loadConfig({ SHELF_DATA_DIR: dir }, dir),
      log: pino({ level: 'silent' }),
      out,
      openStore: async () => store,
    }).ctx;
  });
  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (...args: string[]) => {
    text = '';
    const code = await experiments.run(args, ctx);
    await new Promise((resolve) => setImmediate(resolve));
    return { code, output: text };
  };

  it('creates from a file, runs the lifecycle, ships, and reads results', async () => {
    const file = join(dir, 'x.json');
    const body = {
      id: 'x1',
      name: 'mmr',
      tiers: ['personalized'],
      unit: 'session',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'diverse', share: 0.5, config: { rules: { mmrLambda: 0.5 } } },
      ],
    };
    await writeFile(file, JSON.stringify({ ...body, unit: 'device' }));
    await expect(run('create', file)).rejects.toThrow(/body\/unit/);
    await writeFile(file, JSON.stringify(body));
    expect((await run('create', file)).output).toMatch(/^x1 +draft +session +personalized/);
    expect((await run('start', 'x1')).output).toMatch(/running/);
    const results = await run('results', 'x1', '--n-star', '1000');
    expect(results.output).toMatch(/x1 \(running\), control control/);
    expect(results.output).toMatch(/diverse vs control, ctr: lift —/);
    await expect(run('shares', 'x1', 'control=0.7', 'diverse')).rejects.toThrow(
      /shares 2: "diverse" is not NAME=SHARE/,
    );
    await expect(run('shares', 'x1', 'control=0.7', 'diverse=abc')).rejects.toThrow(
      /shares 2: "diverse=abc": the share is not a number/,
    );
    await expect(run('shares', 'x1', 'control=0.7', 'diverse=0.2')).rejects.toThrow(/shares must sum to 1/);
    expect((await run('shares', 'x1', 'control=0.7', 'diverse=0.3')).output).toMatch(
      /control:0.7 diverse:0.3/,
    );
    expect((await run('ship', 'x1', 'diverse')).output).toMatch(/shipped diverse/);
    const listed = JSON.parse((await run('list', '--json')).output) as { experiments: { state: string }[] };
    expect(listed.experiments.map((e) => e.state)).toEqual(['shipped']);
    expect((await store.changesSince(0, 10)).map((c) => c.change)).toEqual([
      { kind: 'experiment', id: 'x1' },
      { kind: 'experiment', id: 'x1' },
      { kind: 'experiment', id: 'x1' },
      { kind: 'experiment', id: 'x1' },
    ]);
    expect((await store.audit()).map((e) => [e.role, e.action])).toEqual([
      ['cli', 'experiment.ship'],
      ['cli', 'experiment.shares'],
      ['cli', 'experiment.start'],
      ['cli', 'experiment.create'],
    ]);
    await expect(run('pause', 'x1')).rejects.toThrow(/cannot pause experiment "x1": it is shipped/);
    expect((await run('frobnicate')).code).toBe(2);
  });

  it('unships a shipped variant, audited and published like the other steps', async () => {
    // x1 has `diverse` shipped (above).
    const before = (await store.changesSince(0, 100)).length;
    const unshipped = await run('unship', 'x1');
    expect(unshipped.code).toBe(0);
    expect(unshipped.output).toMatch(/^x1 +stopped /);
    expect(unshipped.output).not.toMatch(/shipped/);
    expect((await store.changesSince(0, 100)).map((c) => c.change).slice(before)).toEqual([
      { kind: 'experiment', id: 'x1' },
    ]);
    expect((await store.audit())[0]).toMatchObject({
      role: 'cli',
      action: 'experiment.unship',
      target: 'x1',
      detail: { state: 'stopped', variant: 'diverse' },
    });
    await expect(run('unship', 'x1')).rejects.toThrow(/cannot unship experiment "x1": it is stopped/);
    expect((await run('unship')).code).toBe(2);
  });
});
