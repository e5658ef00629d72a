// Sets the guest's wall clock: a clone restored from a snapshot wakes with the time the
// snapshot was taken. Timers are unaffected (Node and the kernel time them on the monotonic
// clock); only CLOCK_REALTIME moves.
import { runTool } from './tool.js';

export const DATE = '/bin/date';

export type ClockOutcome = { ok: true; stepMs: number } | { ok: false; error: string };

/** date(1)'s `-s` argument for a time in ms since the epoch: `@SECONDS.MMM`. */
export function dateStamp(unixTimeMs: number): string {
  return `@${Math.floor(unixTimeMs / 1000)}.${String(unixTimeMs % 1000).padStart(3, '0')}`;
}

/**
 * Sets the clock to `unixTimeMs` plus the time since the request arrived (`receivedAt`, a
 * performance.now() reading), so the host's send time is corrected for Claim's own delay.
 * Never throws.
 */
export async function setWallClock(unixTimeMs: number, receivedAt: number): Promise<ClockOutcome> {
  const before = Date.now();
  const target = Math.round(unixTimeMs + (performance.now() - receivedAt));
  try {
    await runTool(DATE, ['-u', '-s', dateStamp(target)]);
    return { ok: true, stepMs: target - before };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}
