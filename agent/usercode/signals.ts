// Signals a client may send to a running process group, by name.
import { constants } from 'node:os';

/** The signals ProcessInput.signal accepts. */
export const ALLOWED_SIGNALS = [
  'SIGINT', 'SIGTERM', 'SIGKILL', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2',
  'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGALRM', 'SIGWINCH',
] as const satisfies readonly NodeJS.Signals[];

export type AllowedSignal = (typeof ALLOWED_SIGNALS)[number];

/** "SIGINT", "sigint" and "INT" all name SIGINT; undefined for anything else. */
export function parseSignal(name: string): AllowedSignal | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return (ALLOWED_SIGNALS as readonly string[]).includes(full) ? (full as AllowedSignal) : undefined;
}

/** The signal's number, e.g. 9 for SIGKILL (for 128+n exit codes). */
export function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number | undefined>)[name];
}
