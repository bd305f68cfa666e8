/**
 * Lua scripts run by their SHA: ioredis's `defineCommand` sends EVALSHA (loading the text once,
 * on first use), where EVAL sends the whole text with every call.
 */
import type { Redis } from 'ioredis';

export interface ScriptDefinition {
  lua: string;
  /** Omitted: the caller passes the key count first. */
  numberOfKeys?: number;
  readOnly?: boolean;
}

/** `redis` with each definition as a command of its name (defined once per connection). */
export function withScripts<T extends object>(
  redis: Redis,
  definitions: { [K in keyof T]: ScriptDefinition },
): T {
  const defined = redis as unknown as Partial<T>;
  for (const name of Object.keys(definitions) as (keyof T & string)[])
    if (!defined[name]) redis.defineCommand(name, definitions[name]);
  return redis as unknown as T;
}
