/**
 * `shelf evaluate --off-policy`: logged lists with propensities in the store, clicks attributed to
 * some of them; IPS and SNIPS match the hand-worked values, the window and tiers are respected,
 * the version's offline NDCG@20 is printed beside, and bad options are refused by name.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandContext } from '../../../src/cli/command.ts';
import { createContext } from '../../../src/cli/command-context.ts';
import evaluate from '../../../src/cli/commands/evaluate.ts';
import { loadConfig } from '../../../src/config.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import type { Store, StoredImpression } from '../../../src/store/types.ts';
import { trainVersion } from '../../../training/publish.ts';
import { oneDepartmentStore } from '../../helpers/one-department-store.ts';

const T0 = Date.UTC(2025, 5, 1);
const log = pino({ level: 'silent' });

describe('shelf evaluate --off-policy', () => {
  let dataDir: string;
  let store: Store;
  let text = '';
  let ctx: CommandContext;
  let version: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'shelf-ope-cli-'));
    store = await oneDepartmentStore();
    const registry = new ModelRegistry(join(dataDir, 'models'));
    version = (await trainVersion({ store, registry, recipe: { factors: 4, iterations: 2 }, seed: 1, log }))
      .manifest.version;
    await registry.promote(version);
    // Homepage lists: pop (p 0.25) clicked twice, pop (0.25) not, default (0.75) clicked once,
    // default (0.75) not; one pop list outside the window; a similar-tier list (another tier).
    const imp = (
      id: string,
      tier: string,
      config: string,
      probability: number,
      at: number,
    ): StoredImpression => ({
      recommendationId: id,
      tier,
      userId: `u-${id}`,
      config,
      probability,
      modelVersion: version,
      itemIds: ['a', 'b', 'c'],
      timestamp: at,
    });
    await store.insertImpressions([
      imp('r1', 'homepage', 'adaptive:homepage:pop', 0.25, T0 + 1),
      imp('r2', 'homepage', 'adaptive:homepage:pop', 0.25, T0 + 2),
      imp('r3', 'homepage', 'adaptive:homepage:default', 0.75, T0 + 3),
      imp('r4', 'homepage', 'adaptive:homepage:default', 0.75, T0 + 4),
      imp('r5', 'homepage', 'adaptive:homepage:pop', 0.25, T0 + 86_400_000 * 3),
      imp('r6', 'similar', 'default', 1, T0 + 5),
    ]);
    const click = (eventId: string, recommendationId: string, position: number) => ({
      eventId,
      type: 'click' as const,
      itemId: 'a',
      userId: `u-${recommendationId}`,
      at: T0 + 100,
      recommendationId,
      position,
      units: 0,
      revenue: 0,
      tier: 'homepage',
      modelVersion: version,
      config: '',
      variant: '',
      day: '2025-06-01',
      visitor: `u:u-${recommendationId}`,
    });
    await store.insertAttributions([
      click('e1', 'r1', 0),
      click('e2', 'r1', 1),
      click('e3', 'r3', 0),
      click('e4', 'r5', 0),
    ]);
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    ctx = createContext({
      config: loadConfig({ SHELF_DATA_DIR: dataDir }, dataDir),
      log,
      out,
      openStore: async () => store,
    }).ctx;
  });
  afterAll(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const run = async (args: string[]) => {
    text = '';
    const code = await evaluate.run(args, ctx);
    await new Promise((resolve) => setImmediate(resolve));
    return { code, output: text };
  };
  const window = ['--from', '2025-06-01T00:00:00Z', '--to', '2025-06-02T00:00:00Z'];

  it('estimates a configuration’s clicks per list from the logged propensities', async () => {
    const json = await run([
      '--off-policy',
      'adaptive:homepage:pop',
      ...window,
      '--json',
      '--resamples',
      '500',
    ]);
    expect(json.code).toBe(0);
    const r = JSON.parse(json.output);
    // Rounds in the window on the homepage: w = [4, 4, 0, 0], r = [2, 0, 1, 0].
    // IPS = (8 + 0) / 4 = 2; SNIPS = 8 / 8 = 1.
    expect(r).toMatchObject({ lists: 4, targetLists: 2, tiers: ['homepage'], version });
    expect(r.ips.value).toBeCloseTo(2, 12);
    expect(r.snips.value).toBeCloseTo(1, 12);
    expect(r.ips.ci95[0]).toBeLessThanOrEqual(2);
    expect(typeof r.ndcgAt20).toBe('number');
    const plain = await run(['--off-policy', 'adaptive:homepage:pop', ...window]);
    expect(plain.output).toMatch(/IPS {3}2\.0000 {2}95% \[/);
    expect(plain.output).toMatch(/SNIPS 1\.0000/);
    expect(plain.output).toMatch(new RegExp(`${version} offline NDCG@20 0\\.\\d{4}`));
  });

  it('refuses bad options by name', async () => {
    await expect(run(['--off-policy', 'adaptive:homepage:pop', '--to', '2025-06-02'])).rejects.toThrow(
      /--from is required/,
    );
    await expect(run(['--off-policy', 'x', '--from', 'soon', '--to', '2025-06-02'])).rejects.toThrow(
      /--from must be ISO-8601/,
    );
    await expect(run(['--off-policy', 'nothing-served', ...window])).rejects.toThrow(
      /no list was served under/,
    );
    await expect(
      run(['--off-policy', 'adaptive:homepage:pop', ...window, '--resamples', '5']),
    ).rejects.toThrow(/--resamples must be an integer ≥ 100/);
  });
});
