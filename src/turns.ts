/**
 * Calls that take turns: each task starts once the one before it has ended, however that
 * ended (a failure is its caller's, and does not stop the next). For work that must not
 * overlap: loading model versions, one read at a time on a worker thread.
 */
export class Turns {
  private last: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every task given before it; its result. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.last.then(task, task);
    this.last = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every task given so far has ended. */
  async idle(): Promise<void> {
    await this.last;
  }
}
