/**
 * For a command a job runs as a child process (`--as-job`): ends this process when its parent
 * dies, SIGKILL included. The parent holds this process's stdin open; when the parent is gone,
 * stdin ends. Returns the function that stops watching, so the process can exit when done.
 */
export function exitWithParent(code = 3): () => void {
  const onEnd = () => process.exit(code);
  process.stdin.on('end', onEnd).resume();
  return () => {
    process.stdin.off('end', onEnd);
    process.stdin.destroy();
  };
}
