/**
 * Wall-clock seconds per stage of a train job (snapshot, fit, evaluate, publish's sub-stages,
 * rule tuning, gate), reported as each stage ends: the job's progress and its `--json` output.
 */

/** One finished stage: its path (`publish/neighbours`) and its wall-clock seconds. */
export interface StageTiming {
  stage: string;
  seconds: number;
}

export class StageClock {
  /** Every stage finished so far, in the order they finished (sub-stages before their parent). */
  readonly stages: StageTiming[];

  constructor(
    private readonly onStage?: (t: StageTiming) => void,
    private readonly prefix = '',
    stages: StageTiming[] = [],
  ) {
    this.stages = stages;
  }

  /** Runs `fn` as stage `name`, recording its seconds when it settles successfully. */
  async time<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    const t0 = performance.now();
    const value = await fn();
    this.record(name, (performance.now() - t0) / 1000);
    return value;
  }

  /** Stages timed through the returned clock are recorded here as `name/…`. */
  child(name: string): StageClock {
    return new StageClock(this.onStage, `${this.prefix}${name}/`, this.stages);
  }

  /** Records a stage timed elsewhere. */
  record(name: string, seconds: number): void {
    const t: StageTiming = { stage: this.prefix + name, seconds: Math.round(seconds * 1000) / 1000 };
    this.stages.push(t);
    this.onStage?.(t);
  }
}
