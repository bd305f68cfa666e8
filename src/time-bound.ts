/**
 * A wait with a bound: for work that may never end (a stalled store, a job that will not
 * finish) where the caller must go on regardless.
 */

/**
 * Waits for `work` at most `ms`: true when it settled in time, false when the bound came first
 * (`work` goes on). The timer is cleared either way; a rejection of `work` in time is thrown.
 */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true as const), bound]);
  } finally {
    clearTimeout(timer);
  }
}
