/** The `shelf` command's own output and errors, as a terminal or a pipe sees them. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../../src/registry/model-registry.ts';

const BIN = fileURLToPath(new URL('../../../src/cli/bin.mjs', import.meta.url));

/** Runs `shelf args`; `closeStdout`: its reader goes away at once (`shelf … | head -0`). */
function shelf(args: string[], env: NodeJS.ProcessEnv, closeStdout = false) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
  let [stdout, stderr] = ['', ''];
  if (closeStdout) child.stdout.destroy();
  else child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
}

describe('shelf on the command line', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-cli-'));
    env = { SHELF_DATA_DIR: dir, SHELF_LOG_LEVEL: 'warn', SHELF_API_KEYS: 'admin:admin-key-cli-0123456789' };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Seen in a trial: two versions' NDCG of splits minutes apart (0.2033, 0.3539) read as a ranking.
  it('lists versions with the split each was scored on, and says scores of two cutoffs do not compare', async () => {
    const registry = new ModelRegistry(join(dir, 'models'));
    const version = (cutoff: string, ndcg: number, testUsers: number) =>
      registry.create(
        {
          kind: 'als',
          params: {},
          seed: 1,
          data: { from: 0, to: 1, users: 9, items: 9, interactions: 9 },
          metrics: {
            'recall@20': 0.5,
            'ndcg@20': ndcg,
            'coverage@20': 1,
            testUsers,
            split: { kind: 'newest', cutoff, testFraction: null },
          },
          codeVersion: 'test',
        },
        {},
        new Date(cutoff),
      );
    await version('2026-12-07T04:02:00.000Z', 0.2033, 87);
    await version('2026-12-07T04:07:30.000Z', 0.3539, 571);
    const r = await shelf(['models', 'list'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('test users  split cutoff');
    expect(r.stdout).toMatch(/0\.2033\s+0\.5000\s+87\s+2026-12-07 04:02 /);
    expect(r.stdout).toMatch(/0\.3539\s+0\.5000\s+571\s+2026-12-07 04:07 /);
    expect(r.stdout).toContain('scores of different cutoffs do not compare');
    await rm(join(dir, 'models'), { recursive: true });
  });

  // Seen with `shelf jobs | head -5`: an unhandled EPIPE and its stack.
  it('stops quietly when its reader goes away', async () => {
    const r = await shelf(['--help'], env, true);
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
    expect(r.code).toBe(0);
  });

  // Seen: `shelf jobs add import --data '{"kind":"events"}'` printed PayloadError's stack.
  it('says in one line what a job payload lacks', async () => {
    const r = await shelf(['jobs', 'add', 'import', '--data', '{"kind":"events"}'], env);
    expect(r.stderr.trim()).toBe(
      'shelf jobs: --data: bad import payload: data/file Expected required property; data/file Expected string',
    );
    expect(r.code).toBe(1);
    // A misspelt kind: the kinds, not TypeBox's "Expected union value".
    const kind = await shelf(['jobs', 'add', 'import', '--data', '{"kind":"evnts","file":"/x.csv"}'], env);
    expect(kind.stderr.trim()).toBe(
      'shelf jobs: --data: bad import payload: data/kind must be one of "items", "events", "users"',
    );
    expect(kind.code).toBe(1);
  });
});
