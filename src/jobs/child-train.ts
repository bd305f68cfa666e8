/**
 * The train job in a child process (`shelf train --json`). Fitting, scoring, tuning and the gate
 * are CPU-bound for seconds to minutes; on the serving process's event loop they would stop the
 * API answering. The child opens the same store and data dir, publishes, promotes through the
 * gate, and announces the version on the change feed, which brings it to this process (and to
 * every replica). Used when Shelf opened its store and data dir from the config, which a child
 * process can open too.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Verdict } from './train-processor.ts';

const BIN = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));
/** Of the child's stderr, the tail kept for a failure's message. */
const STDERR_TAIL = 4000;

/** A processor running `shelf train --json` with `env` (the config's variables); its verdict. */
export function childTrainProcessor(env: Readonly<Record<string, string>>): () => Promise<Verdict> {
  return () =>
    new Promise<Verdict>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'train', '--json', '--as-job'], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-STDERR_TAIL)));
      child.once('error', reject);
      child.once('exit', (code) => {
        // Exit 1 with a verdict: the gate refused the version (a result, not a failure).
        const line = out.trim().split('\n').at(-1) ?? '';
        try {
          const parsed = JSON.parse(line) as { verdict: Verdict | null };
          if ((code === 0 || code === 1) && parsed.verdict) return resolve(parsed.verdict);
        } catch {
          // Not JSON: the failure's reason is on stderr.
        }
        reject(new Error(`shelf train exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      });
    });
}
