// The signals a client may send to user code (runs and shells alike), by name: one allowlist,
// one case rule ("SIGINT", "sigint" and "INT" all name SIGINT).
import { constants } from 'node:os';
import { rpcError } from '../server/errors.js';

export const ALLOWED_SIGNALS = [
  'SIGINT',
  'SIGTERM',
  'SIGKILL',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGALRM',
  'SIGWINCH',
] as const satisfies readonly NodeJS.Signals[];

export type AllowedSignal = (typeof ALLOWED_SIGNALS)[number];

/** The allowed signal a name stands for, or undefined. */
export function parseSignal(name: string): AllowedSignal | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return (ALLOWED_SIGNALS as readonly string[]).includes(full) ? (full as AllowedSignal) : undefined;
}

/** parseSignal, or SIGNAL_UNKNOWN naming `field` and the allowed names. */
export function checkSignal(field: string, name: string): AllowedSignal {
  const signal = parseSignal(name);
  if (!signal) {
    const quoted = JSON.stringify(name);
    throw rpcError(
      'SIGNAL_UNKNOWN',
      `${field} ${quoted}: expected a signal name; ${quoted} is not allowed, use one of ${ALLOWED_SIGNALS.join(', ')}`,
      { field },
    );
  }
  return signal;
}

/** The signal name for a number (node-pty reports numbers), '' for none. */
export function signalName(signal: number | undefined): string {
  if (!signal) return '';
  const entry = Object.entries(constants.signals).find(([, n]) => n === signal);
  return entry ? entry[0] : `signal ${signal}`;
}
