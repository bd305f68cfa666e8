/**
 * `shelf train` with SHELF_ALS_SHARDS (no Redis: the shards run over worker threads of the
 * training process) publishes the same factors, byte for byte, as without, and leaves no shard
 * files behind.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../../src/cli/command-context.ts';
import train from '../../../src/cli/commands/train.ts';
import { loadConfig } from '../../../src/config.ts';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';
import { VERSION_FILES } from '../../../src/registry/version-files.ts';
import type { Store } from '../../../src/store/types.ts';
import { oneDepartmentStore } from '../../helpers/one-department-store.ts';

const ARGS = ['--factors', '8', '--iterations', '4', '--no-tune-rules', '--no-promote', '--seed', '7'];

describe('shelf train with SHELF_ALS_SHARDS', () => {
  let dataDir: string;
  let store: Store;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'shelf-sharded-train-'));
    store = await oneDepartmentStore();
  });
  afterAll(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Trains with `env` into its own models dir; the published version's directory. */
  async function trained(name: string, env: Record<string, string>): Promise<string> {
    const modelsDir = join(dataDir, name);
    const { ctx } = createContext({
      config: loadConfig({ SHELF_DATA_DIR: dataDir, SHELF_MODELS_DIR: modelsDir, ...env }, dataDir),
      log: pino({ level: 'silent' }),
      out: new PassThrough(),
      openStore: async () => store,
    });
    expect(await train.run(ARGS, ctx)).toBe(0);
    const versions = await new ModelRegistry(modelsDir).versions();
    expect(versions).toHaveLength(1);
    return join(modelsDir, versions[0]!);
  }

  it('publishes factors identical to the unsharded fit', async () => {
    const plain = await trained('plain', {});
    const sharded = await trained('sharded', { SHELF_ALS_SHARDS: '3', SHELF_ALS_SHARD_THREADS: '2' });
    for (const file of [VERSION_FILES.userFactors, VERSION_FILES.itemFactors]) {
      const a = await readFile(join(plain, file));
      const b = await readFile(join(sharded, file));
      expect(a.length).toBeGreaterThan(0);
      expect(b.equals(a)).toBe(true);
    }
    expect(await readdir(join(dataDir, 'sharded', 'als-shards'))).toEqual([]);
  });
});
