import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ENTRY = fileURLToPath(new URL('../../helpers/graph-build-process.ts', import.meta.url));

/** Starts the process; ends its stdin (its parent gone) `afterMs` after it says it is building. */
function orphan(afterMs: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], { stdio: ['pipe', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (d: Buffer) => {
    if (!stdout) setTimeout(() => child.stdin.end(), afterMs);
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}

describe('exitWithParent', () => {
  it('stops the graph build before it exits with its code when the parent goes', async () => {
    // Exiting at once ended the graph thread where it was: inside hnswlib's addPoint, that
    // aborted the process (SIGABRT, FATAL ERROR … napi_throw) instead of its exiting with 3.
    const runs = await Promise.all([orphan(600), orphan(900)]);
    for (const run of runs) {
      expect(run.stdout).toBe('building\nended\n');
      expect(run.stderr).not.toMatch(/FATAL/);
      expect(run).toMatchObject({ code: 3, signal: null });
    }
  }, 30_000);
});
