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
const withArms = (i: StoredImpression, masks: number[]): StoredImpression => ({
  ...i,
  positions: {
    arms: ['adaptive:category:default', 'adaptive:category:pop'],
    probabilities: [0.75, 0.25],
    masks,
  },
});

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
      // An experiment's homepage list: the target had no chance there, so it is left out.
      imp('r11', 'homepage', 'exp-1:b', 1, T0 + 6),
      // Category lists that logged both arms position by position (default 0.75, pop 0.25).
      withArms(imp('r7', 'category', 'adaptive:category:default', 0.75, T0 + 6), [3, 1, 1]),
      withArms(imp('r8', 'category', 'adaptive:category:pop', 0.25, T0 + 7), [2, 3, 2]),
      withArms(imp('r9', 'category', 'adaptive:category:default', 0.75, T0 + 8), [1, 1, 1]),
      withArms(imp('r10', 'category', 'adaptive:category:pop', 0.25, T0 + 9), [3, 3, 3]),
    ]);
    const click = (eventId: string, recommendationId: string, position: number, tier = 'homepage') => ({
      eventId,
      type: 'click' as const,
      // The item at that position of the list (one click-through per list item is credited).
      itemId: ['a', 'b', 'c'][position]!,
      userId: `u-${recommendationId}`,
      at: T0 + 100,
      recommendationId,
      position,
      units: 0,
      revenue: 0,
      tier,
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
      click('e5', 'r7', 0, 'category'),
      click('e6', 'r7', 1, 'category'),
      click('e7', 'r8', 2, 'category'),
      click('e8', 'r10', 1, 'category'),
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
  /** `--off-policy config` over `span` as JSON: the exit code and the parsed estimate. */
  const estimate = async (config: string, span = window, resamples = 500) => {
    const { code, output } = await run([
      '--off-policy',
      config,
      ...span,
      '--json',
      '--resamples',
      String(resamples),
    ]);
    return { code, r: JSON.parse(output) };
  };

  it('estimates a configuration’s clicks per list from the logged propensities', async () => {
    const { code, r } = await estimate('adaptive:homepage:pop');
    expect(code).toBe(0);
    // Rounds in the window on the homepage: w = [4, 4, 0, 0], r = [2, 0, 1, 0].
    // IPS = (8 + 0) / 4 = 2; SNIPS = 8 / 8 = 1.
    expect(r).toMatchObject({
      lists: 4,
      targetLists: 2,
      deterministicOthers: 1,
      tiers: ['homepage'],
      version,
    });
    expect(r.ips.value).toBeCloseTo(2, 12);
    expect(r.snips.value).toBeCloseTo(1, 12);
    expect(r.ips.ci95[0]).toBeLessThanOrEqual(2);
    expect(typeof r.ndcgAt20).toBe('number');
    const plain = await run(['--off-policy', 'adaptive:homepage:pop', ...window]);
    expect(plain.output).toMatch(/IPS {3}2\.0000 {2}95% \[/);
    expect(plain.output).toMatch(/SNIPS 1\.0000/);
    expect(plain.output).toMatch(
      /note: 1 list served for certain \(propensity 1\) under another configuration left out/,
    );
    expect(plain.output).toMatch(new RegExp(`${version} offline NDCG@20 0\\.\\d{4}`));
  });

  it('weighs each position by its own propensity where the lists logged every arm', async () => {
    const { code, r } = await estimate('adaptive:category:pop');
    expect(code).toBe(0);
    // List level, from the arms set at every position: r8 (only pop: w = 4, 1 click) and r10
    // (both arms: w = 1, 1 click) are the target's; r7 and r9 weigh 0. IPS 5/4, SNIPS 5/5.
    expect(r).toMatchObject({ lists: 4, targetLists: 2, tiers: ['category'] });
    expect(r.ips.value).toBeCloseTo(1.25, 12);
    expect(r.snips.value).toBeCloseTo(1, 12);
    // Item-position, w = 1 / (chance of the arms set): position 0 w·r = [1, 0, 0, 0], w = [1, 4, 0, 1];
    // position 1 w·r = [0, 0, 0, 1], w = [0, 1, 0, 1]; position 2 w·r = [0, 4, 0, 0], w = [0, 4, 0, 1].
    // IPS = (1 + 1 + 4) / 4 = 1.5; SNIPS = 1/6 + 1/2 + 4/5.
    expect(r.itemPosition.ips.value).toBeCloseTo(1.5, 12);
    expect(r.itemPosition.snips.value).toBeCloseTo(1 / 6 + 1 / 2 + 4 / 5, 12);
    expect(r.itemPosition.ips.n).toBe(4);
    const plain = await run(['--off-policy', 'adaptive:category:pop', ...window]);
    expect(plain.output).toMatch(/item-position, over the 4 lists[^\n]*\n {4}IPS {3}1\.5000 {2}95% \[/);
    expect(plain.output).toMatch(/ {4}SNIPS 1\.4667/);
    // Only r9 in the window: pop never shows its whole list, but its positions still weigh.
    const alone = await estimate(
      'adaptive:category:pop',
      ['--from', String(T0 + 8), '--to', String(T0 + 9)],
      100,
    );
    expect(alone.r).toMatchObject({
      lists: 1,
      targetLists: 0,
      itemPosition: { ips: { n: 1 } },
    });
    // The homepage's lists logged no arms: no item-position estimate there.
    expect((await run(['--off-policy', 'adaptive:homepage:pop', ...window])).output).toMatch(
      /item-position: no list logged its arms/,
    );
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
