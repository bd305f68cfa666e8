/**
 * For a command a job runs as a child process (`--as-job`): ends this process when its parent
 * dies, SIGKILL included. The parent holds this process's stdin open; when the parent is gone,
 * stdin ends. `first` runs before the exit (ending what must not be cut short), for at most
 * `FIRST_MS`: an orphan does not outlive its parent for long. Returns the function that stops
 * watching, so the process can exit when done.
 */
export function exitWithParent(code = 3, first: () => Promise<unknown> = async () => {}): () => void {
  const onEnd = () => {
    const bound = new Promise((resolve) => setTimeout(resolve, FIRST_MS).unref());
    void Promise.race([first().catch(() => {}), bound]).finally(() => process.exit(code));
  };
  process.stdin.on('end', onEnd).resume();
  return () => {
    process.stdin.off('end', onEnd);
    process.stdin.destroy();
  };
}

/** How long `first` may hold the exit. */
const FIRST_MS = 5000;

/**
 * Runs `work` while `exitWithParent` watches (when `watch`: the command runs as a job's child),
 * and stops watching however `work` ends. Stopped only on success, a watch left on stdin after a
 * failure kept the process, and the worker's job with it, alive for good (an import job naming a
 * file that cannot be read).
 */
export async function watchingParent<T>(
  watch: boolean,
  work: () => Promise<T>,
  first?: () => Promise<unknown>,
): Promise<T> {
  const unwatch = watch ? exitWithParent(3, first) : () => {};
  try {
    return await work();
  } finally {
    unwatch();
  }
}
