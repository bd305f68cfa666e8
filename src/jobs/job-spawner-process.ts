/**
 * The job spawner's helper process (job-spawner.ts): starts job children when asked, relays
 * their output and exit, and ends when its parent does (its IPC channel closes), its children
 * then ending as their stdin does.
 */
import type { ChildProcess } from 'node:child_process';
import { startJobChild } from './child-job.ts';
import type { FromSpawner, ToSpawner } from './job-spawner.ts';

const children = new Map<number, ChildProcess>();
const send = (m: FromSpawner) => process.send?.(m);

process.on('message', (m: ToSpawner) => {
  if (m.kind === 'kill') {
    children.get(m.id)?.kill(m.signal);
    return;
  }
  const { id } = m;
  const child = startJobChild(m.args, m.spec);
  children.set(id, child);
  for (const stream of ['stdout', 'stderr'] as const) {
    // Decoded here, so a character split between two chunks reaches the parent whole.
    child[stream].setEncoding('utf8');
    child[stream].on('data', (data: string) => send({ kind: stream, id, data }));
  }
  child.once('error', (err) => send({ kind: 'error', id, message: err.message }));
  child.once('close', (code) => {
    children.delete(id);
    send({ kind: 'close', id, code });
  });
});
process.once('disconnect', () => process.exit(0));
