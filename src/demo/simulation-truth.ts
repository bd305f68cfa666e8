/**
 * Writes a simulation's ground truth beside the data: `shown.jsonl`, one line per list served
 * (its recommendation id, tier, visitor, time, and each item's position with the true click and
 * purchase chances the visitor drew against, and whether it was clicked), and `summary.json` (the
 * options, the simulator's own counts in total and per tier, and the true CTR and conversion per
 * tier — expected clicks and purchases per list). Written under temporary names, renamed when whole.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ShownList, SimulationCounts, SimulationResult } from './closed-loop.ts';

export const TRUTH_FILES = { shown: 'shown.jsonl', summary: 'summary.json' } as const;

/** A counts row as written: revenue in currency units beside the cents, and the true rates. */
function described(c: SimulationCounts) {
  const per = (n: number) => (c.impressions ? n / c.impressions : 0);
  return {
    ...c,
    revenue: c.revenueCents / 100,
    trueCtr: per(c.expectedClicks),
    trueConversionRate: per(c.expectedPurchases),
  };
}

export class SimulationTruth {
  private readonly stream: WriteStream;
  private readonly tmp: string;

  private constructor(readonly dir: string) {
    this.tmp = join(dir, `${TRUTH_FILES.shown}.tmp`);
    this.stream = createWriteStream(this.tmp, { encoding: 'utf8' });
  }

  /** Opens `dir` (created if missing) for a run's files. */
  static async open(dir: string): Promise<SimulationTruth> {
    await mkdir(dir, { recursive: true });
    return new SimulationTruth(dir);
  }

  /** `runClosedLoop`'s `onShown`: appends a line, waiting for the disk only when it pushes back. */
  readonly shown = async (list: ShownList): Promise<void> => {
    if (!this.stream.write(JSON.stringify(list) + '\n')) await once(this.stream, 'drain');
  };

  /** Ends shown.jsonl and writes summary.json; `extra` goes into the summary as is. */
  async finish(result: SimulationResult, extra: Record<string, unknown> = {}): Promise<string[]> {
    this.stream.end();
    await once(this.stream, 'finish');
    const shown = join(this.dir, TRUTH_FILES.shown);
    await rename(this.tmp, shown);
    const summary = join(this.dir, TRUTH_FILES.summary);
    const byTier = Object.fromEntries(Object.entries(result.byTier).map(([t, c]) => [t, described(c)]));
    const body = { ...result, totals: described(result.totals), byTier, ...extra };
    await writeFile(`${summary}.tmp`, JSON.stringify(body, null, 2) + '\n');
    await rename(`${summary}.tmp`, summary);
    return [shown, summary];
  }

  /** Abandons a half-written run. */
  async discard(): Promise<void> {
    this.stream.destroy();
    await rm(this.tmp, { force: true });
  }
}
