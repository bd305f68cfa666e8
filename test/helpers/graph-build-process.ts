/**
 * A process building a graph on its thread as a train job does, watching its parent as a job's
 * child does (`exitWithParent` with `endGraphBuilds`, as `shelf train --as-job`): writes
 * `building` once the thread is started and `ended` once, its parent gone, the build is stopped;
 * then exits. For test/unit/cli/exit-with-parent.test.ts.
 * Run with `node --import tsx test/helpers/graph-build-process.ts`.
 */
import { exitWithParent } from '../../src/cli/exit-with-parent.ts';
import { annIndexFilesOnThread, endGraphBuilds } from '../../training/ann-index-files.ts';
import { clustered } from './describe-ann-index.ts';

const { vectors } = clustered(60_000, 32, 16, 6);
exitWithParent(3, async () => {
  await endGraphBuilds();
  process.stdout.write('ended\n');
});
void annIndexFilesOnThread({ vectors, seed: 3, exactMaxFloats: 1000 }).catch(() => {});
process.stdout.write('building\n');
