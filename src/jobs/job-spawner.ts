/**
 * Job children started by a small helper process (job-spawner-process.ts) instead of by the
 * process that serves. Starting a process copies the page tables of the one that starts it, and
 * Node does it on the event loop: 5 ms from a 50 MB process, 26–55 ms from one of 0.5–1.5 GB
 * (measured here); a train and a segments job posted to a 220 MB server held its loop 27–37 ms.
 * The helper is started with the server, while it is small, and stays small: what it starts
 * costs it, not the requests.
 *
 * The helper relays each child's output and exit over its IPC channel and ends with its parent
 * (its channel closes); the children then see their stdin end and exit too (exit-with-parent.ts).
 * Should the helper be gone, children are started here again, as without it.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startJobChild } from './child-job.ts';
import type { JobChild, JobChildSpec } from './child-job.ts';

/** What the helper is asked. */
export type ToSpawner =
  | { kind: 'start'; id: number; args: readonly string[]; spec: Omit<JobChildSpec, 'spawner'> }
  | { kind: 'kill'; id: number; signal: NodeJS.Signals };

/** What the helper tells of child `id`. */
export type FromSpawner =
  | { kind: 'stdout' | 'stderr'; id: number; data: string }
  | { kind: 'error'; id: number; message: string }
  | { kind: 'close'; id: number; code: number | null };

const ENTRY = fileURLToPath(new URL('./job-spawner-process.ts', import.meta.url));

/** A child the helper runs, as `runChildJob` reads one. */
class RemoteChild extends EventEmitter implements JobChild {
  readonly stdout = new EventEmitter();
  readonly stderr = new EventEmitter();

  constructor(private readonly ask: (signal: NodeJS.Signals) => void) {
    super();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.ask(signal);
    return true;
  }
}

export class JobSpawner {
  private readonly children = new Map<number, RemoteChild>();
  private lastId = 0;
  private gone = false;

  private constructor(private readonly helper: ChildProcess) {
    helper.on('message', (m: FromSpawner) => this.heard(m));
    helper.once('exit', () => this.lost());
    helper.once('error', () => this.lost());
    // Neither the helper nor its channel keeps this process alive.
    helper.unref();
    helper.channel?.unref();
  }

  /** The helper's process id (undefined once it failed to start). */
  get pid(): number | undefined {
    return this.helper.pid;
  }

  /** Starts the helper: call it before this process grows (before models load). */
  static start(): JobSpawner {
    const tsx = import.meta.resolve('tsx');
    return new JobSpawner(
      fork(ENTRY, [], { execArgv: ['--import', tsx], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }),
    );
  }

  /** `shelf ...args` as `spec` says, started by the helper (by this process once it is gone). */
  start(args: readonly string[], spec: JobChildSpec): JobChild {
    if (this.gone) return startJobChild(args, spec);
    const id = ++this.lastId;
    const child = new RemoteChild((signal) => this.send({ kind: 'kill', id, signal }));
    this.children.set(id, child);
    this.send({ kind: 'start', id, args, spec: { env: spec.env, priority: spec.priority } });
    return child;
  }

  /** Ends the helper; the children it still runs end with it. */
  async close(): Promise<void> {
    if (this.gone) return;
    const exited = new Promise((resolve) => this.helper.once('exit', resolve));
    // Waited for: an unref'd helper left nothing to keep this process up meanwhile.
    this.helper.ref();
    this.helper.kill('SIGTERM');
    await exited;
  }

  private send(m: ToSpawner): void {
    // A helper gone between the check and the send: `lost` fails the child.
    if (!this.gone) this.helper.send(m, (err) => err && this.lost());
  }

  private heard(m: FromSpawner): void {
    const child = this.children.get(m.id);
    if (!child) return;
    if (m.kind === 'error') child.emit('error', new Error(m.message));
    else if (m.kind === 'close') {
      this.children.delete(m.id);
      child.emit('close', m.code);
    } else child[m.kind].emit('data', m.data);
  }

  /** The helper is gone: its children with it (failed as a child killed would be); later ones start here. */
  private lost(): void {
    if (this.gone) return;
    this.gone = true;
    for (const child of this.children.values()) child.emit('close', null);
    this.children.clear();
  }
}
