/**
 * Linux's `/proc/PID/stat` as fields: those after the command name, so index 0 is field 3 (the
 * state: `Z` a zombie), index 1 the parent's pid, index `n - 3` field `n`. Null once the process
 * is gone.
 */
import { readFileSync } from 'node:fs';

export function procStat(pid: number): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself hold ') '.
  return text.slice(text.lastIndexOf(') ') + 2).split(' ');
}
