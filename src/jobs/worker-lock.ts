/**
 * The job lock of a BullMQ worker. A worker renews its jobs' locks; killed outright, it stops,
 * and each lock lapses `lockMs` later. The stalled-job check, which every worker runs, puts a job
 * whose lock has lapsed back in the queue; so a job waits at most `lockMs` and one interval of
 * the check. At an interval of `lockMs` (the default 30 s), a SIGKILLed worker's job ran again
 * 57 s after the kill (67 s in a trial); at a quarter of it, 27 s: ≤ 1.25 × `lockMs`, for one
 * small script per worker that often.
 */
export function workerLock(lockMs: number): { lockDuration: number; stalledInterval: number } {
  return { lockDuration: lockMs, stalledInterval: Math.max(250, Math.round(lockMs / 4)) };
}
