/**
 * The version being served, apart from the request path: loads a version beside the one in
 * use and replaces one reference, so a request keeps what it started with and none fails
 * during a swap.
 */
import type { Logger } from 'pino';
import { Turns } from '../turns.ts';
import { loadServed } from './served.ts';
import type { Served, ServedSource } from './served.ts';

export interface ModelHolderOptions extends ServedSource {
  log: Logger;
  /** Called with a loaded version before it is swapped in (the one in use still serving). */
  prepare?: (next: Served) => Promise<void>;
}

export class ModelHolder {
  private served: Served | null = null;
  /** The version last loaded (null: none; undefined: nothing loaded yet). */
  private version: string | null | undefined = undefined;
  private readonly swaps = new Turns();

  constructor(private readonly o: ModelHolderOptions) {}

  /** What is served now (null before the first swap). */
  get current(): Served | null {
    return this.served;
  }

  /**
   * Loads `version` (default: the registry's current one) and swaps it in atomically. Swaps take
   * turns, so the last one asked is the one served.
   */
  swap(version?: string | null): Promise<void> {
    const run = async () => {
      const target = version === undefined ? await this.o.registry.current() : version;
      const t0 = performance.now();
      this.served = await loadServed(this.o, target, this.o.prepare);
      // Said as it is: a load of the version already served refreshes its catalogue and
      // erasures, and a store without a version serves trending only (once it listens: a first
      // start trains before it does, and said "serving trending" a minute before answering).
      const what =
        target === null
          ? 'no model version yet: trending only, once serving'
          : target === this.version
            ? 'model reloaded'
            : 'model swapped in';
      this.version = target;
      this.o.log.info({ version: target, ms: Math.round(performance.now() - t0) }, what);
    };
    return this.swaps.run(run);
  }
}
