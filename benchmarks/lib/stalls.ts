/**
 * The serving thread's event-loop stalls while a load runs (the server shares this thread): a
 * timer due every `everyMs` notes each time it ran `atLeastMs` or more late, and when. A p99
 * outlier that coincides with a stall of its size was the serving thread's; one without, the
 * CPU's or the client's.
 */
export interface Stall {
  /** Seconds from the trace's start to the stall's start. */
  atS: number;
  ms: number;
}

export interface StallTrace {
  longestMs: number;
  stalls: Stall[];
}

/** Starts tracing; the returned function stops it and tells what it saw. */
export function traceStalls(everyMs = 10, atLeastMs = 50): () => StallTrace {
  const t0 = performance.now();
  let last = t0;
  let longestMs = 0;
  const stalls: Stall[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - last - everyMs;
    longestMs = Math.max(longestMs, late);
    if (late >= atLeastMs) stalls.push({ atS: Math.round(last - t0) / 1000, ms: Math.round(late) });
    last = now;
  }, everyMs);
  return () => {
    clearInterval(timer);
    return { longestMs: Math.round(longestMs), stalls };
  };
}
