import { describe, expect, it } from 'vitest';
import {
  annIndexFiles,
  annIndexFilesOnThread,
  endGraphBuilds,
  GraphBuilds,
} from '../../../training/ann-index-files.ts';
import { VERSION_FILES as F } from '../../../src/registry/version-files.ts';
import { clustered } from '../../helpers/describe-ann-index.ts';

describe('annIndexFilesOnThread', () => {
  it('builds on a worker thread the very files the calling thread builds', async () => {
    const { vectors } = clustered(2000, 16, 8, 3);
    const task = { vectors, seed: 7, exactMaxFloats: 1000 };
    const [here, there] = [await annIndexFiles(task), await annIndexFilesOnThread(task)];
    expect(Object.keys(there).sort()).toEqual(Object.keys(here).sort());
    expect(Object.keys(there)).toContain(F.annIndex);
    for (const name of Object.keys(here))
      expect(Buffer.from(there[name]!).equals(Buffer.from(here[name]!))).toBe(true);
  });

  it('gives no files for a catalogue small enough for exact search, and reports a failed build', async () => {
    const { vectors } = clustered(100, 8, 2, 4);
    expect(await annIndexFilesOnThread({ vectors, seed: 1 })).toEqual({});
    const broken = { rows: 3000, cols: 8, data: new Float32Array(3000 * 8).fill(Number.NaN) };
    await expect(annIndexFilesOnThread({ vectors: broken, seed: 1, exactMaxFloats: 0 })).rejects.toThrow(
      /ANN index worker failed: .*non-finite/,
    );
  });

  it('ends the build when its signal aborts: the thread stops, is terminated, and the files never come', async () => {
    const { vectors } = clustered(60_000, 32, 16, 5);
    const reason = new Error('the train job failed');
    // Aborted at staggered moments of the build: a thread terminated inside hnswlib's addPoint
    // aborted this whole process (FATAL ERROR … napi_throw), in 5 runs of 5, at the 2nd, 4th,
    // 11th, 13th and 27th abort (~9% an abort: 24 of them catch it 9 times in 10).
    for (let r = 0; r < 24; r++) {
      const stop = new AbortController();
      const build = annIndexFilesOnThread({ vectors, seed: 3, exactMaxFloats: 1000 }, stop.signal);
      setTimeout(() => stop.abort(reason), 250 + r * 17);
      await expect(build).rejects.toBe(reason);
    }
    // Aborted before it starts: no thread at all.
    const stopped = AbortSignal.abort(reason);
    await expect(annIndexFilesOnThread({ vectors, seed: 3, exactMaxFloats: 1000 }, stopped)).rejects.toBe(
      reason,
    );
  });

  it("a job's graph builds end together, and ending them waits for their threads to stop", async () => {
    const { vectors } = clustered(60_000, 32, 16, 6);
    const graphs = new GraphBuilds();
    const settled: string[] = [];
    const builds = [3, 4].map((seed) =>
      graphs.build({ vectors, seed, exactMaxFloats: 1000 }).then(
        () => settled.push('built'),
        (err: unknown) => settled.push((err as Error).message),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    await graphs.end(new Error('the train job failed'));
    settled.push('ended');
    await Promise.all(builds);
    expect(settled).toEqual(['the train job failed', 'the train job failed', 'ended']);
    // Nothing left running: ending again is immediate and changes nothing.
    await graphs.end(new Error('again'));
  });

  it('endGraphBuilds stops every graph thread of the process, one not given a signal too', async () => {
    const { vectors } = clustered(60_000, 32, 16, 7);
    const settled: string[] = [];
    const builds = [5, 6].map((seed) =>
      annIndexFilesOnThread({ vectors, seed, exactMaxFloats: 1000 }).then(
        () => settled.push('built'),
        (err: unknown) => settled.push((err as Error).message),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    await endGraphBuilds();
    settled.push('ended');
    await Promise.all(builds);
    // Each thread answered "stopped" (its build's failure) before endGraphBuilds resolved.
    expect(settled.filter((s) => s !== 'ended')).toEqual([
      expect.stringMatching(/stopped/),
      expect.stringMatching(/stopped/),
    ]);
    // None left: ending again is immediate.
    await endGraphBuilds();
  });
});
