/** `shelf train` publishing tuned serving rules (or not), and `shelf evaluate --served` scoring them. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandContext } from '../../../src/cli/command.ts';
import { createContext } from '../../../src/cli/command-context.ts';
import evaluate from '../../../src/cli/commands/evaluate.ts';
import train from '../../../src/cli/commands/train.ts';
import { loadConfig } from '../../../src/config.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import type { Store } from '../../../src/store/types.ts';
import type { ServedVersionScore } from '../../../training/publish.ts';
import { oneDepartmentStore, START } from '../../helpers/one-department-store.ts';

const FAST = ['--factors', '8', '--iterations', '6'];
const DAY = 86_400_000;

describe('shelf train and shelf evaluate --served', () => {
  let dataDir: string;
  let store: Store;
  let registry: ModelRegistry;
  let text = '';
  let ctx: CommandContext;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'shelf-rules-cli-'));
    store = await oneDepartmentStore();
    registry = new ModelRegistry(join(dataDir, 'models'));
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    ctx = createContext({
      config: loadConfig({ SHELF_DATA_DIR: dataDir }, dataDir),
      log: pino({ level: 'silent' }),
      out,
      openStore: async () => store,
    }).ctx;
  });
  afterAll(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Runs a command, returning its exit code and what it printed. */
  const run = async (command: typeof train, args: string[]) => {
    text = '';
    const code = await command.run(args, ctx);
    await new Promise((resolve) => setImmediate(resolve));
    return { code, output: text };
  };
  let untuned: string;
  let tuned: string;

  it('publishes no rules with --no-tune-rules', async () => {
    const { code, output } = await run(train, [...FAST, '--no-tune-rules']);
    expect(code).toBe(0);
    expect(output).toContain('serving rules: not tuned, turned off (tuneRules false)');
    untuned = (await registry.current())!;
    expect(await readdir(join(dataDir, 'models', untuned))).not.toContain('serving-rules.json');
  });

  it('tunes the rules on the newest split by default and says what they gained', async () => {
    const { code, output } = await run(train, FAST);
    expect(code).toBe(0);
    expect(output).toMatch(/serving rules tuned on (\d+) of the split's \1 test users in [\d.]+ s/);
    expect(output).toMatch(
      / {2}personalized: NDCG@20 0\.\d{4} → 0\.\d{4}, coverage@20 0\.\d{4} → 0\.\d{4}\n/,
    );
    expect(output).toMatch(/ {2}homepage: NDCG@20 /);
    tuned = (await registry.current())!;
    expect(tuned).not.toBe(untuned);
    expect(await readdir(join(dataDir, 'models', tuned))).toContain('serving-rules.json');
  });

  it('prints the tiers as served with the current version’s rules', async () => {
    const { code, output } = await run(evaluate, ['--served']);
    expect(code).toBe(0);
    const lines = output.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^${tuned} as served on events from \\S+ \\(\\d+ test users, its tuned serving rules; ` +
          'refitted on the events before, as it was trained on the test window\\):$',
      ),
    );
    for (const [i, tier] of ['personalized', 'homepage'].entries())
      expect(lines[i + 1]).toMatch(
        new RegExp(
          `^ {2}${tier} +NDCG@20 0\\.\\d{4} {2}Recall@20 [01]\\.\\d{4} {2}coverage@20 0\\.\\d{4} {2}` +
            'mean length 20\\.00 {2}short 0\\.0%$',
        ),
      );
  });

  it('scores the tuned rules above the defaults of the same recipe', async () => {
    const scores = async (version: string) =>
      JSON.parse((await run(evaluate, [version, '--served', '--json'])).output) as ServedVersionScore;
    const [a, b] = [await scores(tuned), await scores(untuned)];
    expect(a).toMatchObject({ tunedRules: true, refitted: true });
    expect(b).toMatchObject({ tunedRules: false, refitted: true });
    expect(a.tiers.personalized!['ndcg@20']).toBeGreaterThan(b.tiers.personalized!['ndcg@20'] + 0.05);
  });

  it('serves a version that never saw the test window as it is', async () => {
    // Later events: from day 51, after everything the versions were trained on.
    await store.insertEvents(
      Array.from({ length: 160 }, (_, k) => ({
        eventId: `later-${k}`,
        type: 'purchase' as const,
        userId: `u${k % 80}`,
        itemId: `d${k % 8}-${(k * 7) % 40}`,
        timestamp: START + (51 + k / 40) * DAY,
      })),
    );
    const cutoff = new Date(START + 51 * DAY).toISOString();
    const { code, output } = await run(evaluate, [tuned, '--served', '--cutoff', cutoff]);
    expect(code).toBe(0);
    expect(output).toContain(`${tuned} as served on events from ${cutoff} (`);
    expect(output).toContain('its tuned serving rules):');
    expect(output).toMatch(/ {2}personalized +NDCG@20 /);
  });
});
