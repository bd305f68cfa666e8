/**
 * Model versions a train leaves in the models dir: `shelf train` and the train job keep the
 * newest `SHELF_MODEL_VERSIONS_KEPT`, and never the current one, its rollback or a version an
 * experiment not stopped names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandContext } from '../../../src/cli/command.ts';
import { createContext } from '../../../src/cli/command-context.ts';
import train from '../../../src/cli/commands/train.ts';
import { loadConfig } from '../../../src/config.ts';
import { runTrainJob } from '../../../src/jobs/train-processor.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import type { Store } from '../../../src/store/types.ts';
import { experimentOf } from '../../helpers/experiment-fixture.ts';
import { oneDepartmentStore } from '../../helpers/one-department-store.ts';

const FAST = ['--factors', '8', '--iterations', '4', '--no-tune-rules'];

describe('model versions kept by shelf train and the train job', () => {
  let dataDir: string;
  let store: Store;
  let registry: ModelRegistry;
  let ctx: CommandContext;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'shelf-retention-'));
    store = await oneDepartmentStore();
    registry = new ModelRegistry(join(dataDir, 'models'));
    ctx = createContext({
      config: loadConfig({ SHELF_DATA_DIR: dataDir, SHELF_MODEL_VERSIONS_KEPT: '2' }, dataDir),
      log,
      out: new PassThrough().resume(),
      openStore: async () => store,
    }).ctx;
  });
  afterAll(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const cli = async (...args: string[]) => {
    await train.run([...FAST, ...args], ctx);
    return registry.versions();
  };
  const job = async () => {
    await runTrainJob({ store, registry, log, keepVersions: 2, payload: { force: true } });
    return registry.versions();
  };

  it('keeps the newest, the current one, its rollback and what experiments name', async () => {
    const [a] = await cli('--force');
    const [, b] = await cli('--no-promote');
    const experiment = experimentOf({
      id: 'old-model',
      tiers: ['personalized'],
      layer: 'personalized',
      variants: [
        { name: 'control', share: 0.5, config: {} },
        { name: 'b', share: 0.5, config: { modelVersion: b! } },
      ],
    });
    await store.saveExperiment(experiment);
    const [, , c] = await cli('--force');
    expect(await registry.current()).toBe(c);
    // The newest 2 (c, d), the current one (c), its rollback (a), the draft's (b).
    const [, , , d] = await cli('--no-promote');
    expect(await registry.versions()).toEqual([a, b, c, d]);
    // The job promotes e: newest d and e, rollback c, the draft's b; a goes.
    const e = (await job()).at(-1);
    expect(await registry.versions()).toEqual([b, c, d, e]);
    expect(await registry.current()).toBe(e);
    // And f: c and d go.
    const f = (await job()).at(-1);
    expect(await registry.versions()).toEqual([b, e, f]);
    // Stopped, the experiment names b no more.
    await store.saveExperiment({ ...experiment, state: 'stopped', stoppedAt: 1 });
    const g = (await cli('--no-promote')).at(-1);
    expect(await registry.versions()).toEqual([e, f, g]);
    expect(await registry.rollback()).toBe(e);
  }, 120_000);
});
