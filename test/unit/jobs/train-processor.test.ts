import { describe, expect, it } from 'vitest';
import { progressOf, trainPercent } from '../../../src/jobs/train-processor.ts';
import type { TrainProgress } from '../../../src/jobs/train-processor.ts';

describe('train job progress', () => {
  it('follows the stages in the order the job runs them, each within its span', () => {
    const order: TrainProgress['stage'][] = [
      'snapshot',
      'holdout fit',
      'final fit',
      'publish',
      'holdout version',
      'serving rules',
      'gate',
    ];
    const starts = order.map((stage) => trainPercent(stage));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(trainPercent('holdout fit', 15, 15)).toBe(trainPercent('final fit'));
    expect(trainPercent('gate', 1, 1)).toBe(100);
  });

  it('never goes back when the fits run side by side and their iterations interleave', () => {
    const shown: TrainProgress[] = [];
    const show = progressOf((p) => shown.push(p));
    show('holdout fit');
    show('holdout fit', 1, 15);
    show('final fit', 1, 15);
    show('holdout fit', 2, 15); // behind the final fit's: not shown
    show('final fit', 2, 15);
    show('final fit', 2, 15); // the same percent again is shown
    show('publish');
    expect(shown.map((p) => p.stage)).toEqual([
      'holdout fit',
      'holdout fit',
      'final fit',
      'final fit',
      'final fit',
      'publish',
    ]);
    const percents = shown.map((p) => p.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
  });
});
