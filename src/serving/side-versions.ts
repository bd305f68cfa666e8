/**
 * Versions served beside the current one: an experiment variant may name another registered
 * version (`modelVersion`), so two versions answer side by side. A small bounded set keyed by
 * version id, loaded when the experiments that want them are (re)loaded, never on a request;
 * a version no longer wanted is let go. Each is an immutable version with its own catalogue,
 * kept current with item changes like the current one.
 */
import type { Logger } from 'pino';
import { Turns } from '../turns.ts';
import { loadServed } from './served.ts';
import type { Served, ServedSource } from './served.ts';

export interface SideVersionsOptions extends ServedSource {
  log: Logger;
  /**
   * At most this many versions beside the current one (each holds its vectors and catalogue).
   * @defaultValue 2
   */
  max?: number;
  /** Told of each version loaded and let go (trending keeps their counters filled). */
  onLoad?: (s: Served) => void;
  onDrop?: (s: Served) => void;
}

export const DEFAULT_SIDE_VERSIONS = 2;

export class SideVersions {
  private readonly loaded = new Map<string, Served>();
  private readonly turns = new Turns();

  constructor(private readonly o: SideVersionsOptions) {}

  /** The loaded version `version`, or undefined. */
  get(version: string): Served | undefined {
    return this.loaded.get(version);
  }

  /** Every version held now. */
  all(): IterableIterator<Served> {
    return this.loaded.values();
  }

  /**
   * Holds exactly `versions` (the first `max` of them): loads the missing ones, lets go of the
   * others. A version that cannot be loaded is logged and left out (its variant is then served
   * by the current version, and its impressions say so). Calls take turns.
   */
  want(versions: readonly string[]): Promise<void> {
    const run = async () => {
      const max = this.o.max ?? DEFAULT_SIDE_VERSIONS;
      const wanted = [...new Set(versions)];
      if (wanted.length > max)
        this.o.log.warn({ wanted, max }, 'more model versions wanted beside the current one than held');
      const keep = new Set(wanted.slice(0, max));
      for (const [v, s] of this.loaded) {
        if (keep.has(v)) continue;
        this.loaded.delete(v);
        this.o.onDrop?.(s);
      }
      for (const v of keep) {
        if (this.loaded.has(v)) continue;
        try {
          const s = await loadServed(this.o, v);
          this.loaded.set(v, s);
          this.o.onLoad?.(s);
          this.o.log.info({ version: v }, 'model version loaded beside the current one');
        } catch (err) {
          this.o.log.error(
            { err, version: v },
            'a model version wanted beside the current one could not be loaded',
          );
        }
      }
    };
    return this.turns.run(run);
  }
}
