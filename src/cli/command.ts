import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { Logger } from 'pino';
import type { Actor, AuditAction } from '../changes/audit-log.ts';
import type { ShelfConfig } from '../config.ts';
import type { Attributor } from '../feedback/attributor.ts';
import { InputError } from '../errors.ts';
import type { AttributeValue, Change, Store } from '../store/types.ts';

/** What every CLI command gets: the config, a logger, and the store opened on demand. */
export interface CommandContext {
  config: Readonly<ShelfConfig>;
  log: Logger;
  /** Opens (and migrates) the configured store once; closed by the CLI after the command. */
  store(): Promise<Store>;
  /** Human-facing output (tables, summaries); logs go to `log`. */
  out: NodeJS.WritableStream;
  /** Publishes changes on the change feed, so running servers apply them (src/changes/). */
  publish(changes: readonly Change[]): Promise<void>;
  /** Credits stored events to the lists that showed their items (the configured windows). */
  attributor(): Promise<Attributor>;
  /** Writes to the audit log as the command line (or as `actor`: the train job run as a child). */
  audit(
    action: AuditAction,
    target: string | null,
    detail?: Record<string, AttributeValue | null>,
    actor?: Actor,
  ): Promise<void>;
}

/** A `shelf NAME` command, loaded from `src/cli/commands/NAME.ts`. */
export interface Command {
  summary: string;
  usage: string;
  /** Returns the process exit code. */
  run(args: string[], ctx: CommandContext): Promise<number>;
}

/** `node:util` parseArgs, with a bad option reported as an `InputError` that shows the usage. */
export function parseOptions<T extends ParseArgsConfig>(
  config: T,
  usage: string,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new InputError(`${(err as Error).message}\nusage: ${usage}`);
  }
}

/** A numeric option: undefined when absent, else a finite number ≥ `min` (whole when `integer`). */
export function numberOption(
  name: string,
  raw: string | undefined,
  min: number,
  integer = false,
): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new InputError(`--${name} must be ${integer ? 'a whole number' : 'a number'} ≥ ${min}, got ${raw}`);
  }
  return n;
}
