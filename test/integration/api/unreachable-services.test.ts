/**
 * `shelf start` and `shelf worker` pointed at a PostgreSQL or a Redis that does not answer: one
 * line naming the variable, exit code 1, no stack and no ioredis retry noise.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/server-process.ts';
import { POSTGRES_URL, REDIS_URL, servicesAvailable } from '../../helpers/services.ts';

const BIN = fileURLToPath(new URL('../../../src/cli/bin.mjs', import.meta.url));
const available = await servicesAvailable();

/** Runs `shelf args…` with `env`; its exit code and stderr. */
function shelf(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...env }, timeout: 30_000 },
      (err, _out, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

describe.runIf(available)('processes started against services that do not answer', () => {
  let dir: string;
  let closed: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shelf-unreachable-'));
    closed = String(await freePort());
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('names DATABASE_URL when PostgreSQL refuses, and REDIS_URL when Redis does', async () => {
    const pgDown = new URL(POSTGRES_URL);
    pgDown.port = closed;
    const redisDown = new URL(REDIS_URL);
    redisDown.port = closed;
    const base = { SHELF_DATA_DIR: dir, SHELF_LOG_LEVEL: 'warn' };
    for (const [args, env, variable] of [
      [['start'], { ...base, DATABASE_URL: pgDown.toString() }, 'DATABASE_URL'],
      [['start'], { ...base, DATABASE_URL: POSTGRES_URL, REDIS_URL: redisDown.toString() }, 'REDIS_URL'],
      [['worker'], { ...base, DATABASE_URL: POSTGRES_URL, REDIS_URL: redisDown.toString() }, 'REDIS_URL'],
    ] as const) {
      const { code, stderr } = await shelf([...args], env);
      expect(code, stderr).toBe(1);
      const lines = stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(
        new RegExp(
          `^shelf ${args[0]}: ${variable}: cannot (open PostgreSQL|reach Redis) at 127\\.0\\.0\\.1:${closed}`,
        ),
      );
      expect(stderr).not.toContain('Unhandled error event');
      expect(stderr).not.toMatch(/^\s+at /m);
    }
  }, 120_000);
});
