// Checks of ShellService requests. Each refusal names the field and what is allowed.
import { constants } from 'node:os';
import path from 'node:path';
import { invalidArgument } from '../server/errors.js';

/** Terminal sizes the agent accepts; the kernel's winsize holds up to 65535, no screen needs more. */
export const MAX_COLS = 2000;
export const MAX_ROWS = 1000;
const MAX_ARGS_BYTES = 256 * 1024;

export function checkSize(field: string, cols: number, rows: number): void {
  if (cols < 1 || cols > MAX_COLS) throw invalidArgument(`${field}.cols ${cols}: must be 1-${MAX_COLS}`);
  if (rows < 1 || rows > MAX_ROWS) throw invalidArgument(`${field}.rows ${rows}: must be 1-${MAX_ROWS}`);
}

const hasNul = (text: string) => text.includes('\0');

export interface StartRequest {
  cols: number;
  rows: number;
  command: string[];
  env: Record<string, string>;
  cwd: string;
  term: string;
}

export function checkStart(start: StartRequest): void {
  checkSize('start', start.cols, start.rows);
  if (start.command.length > 0 && start.command[0] === '') throw invalidArgument('start.command[0]: must name a program');
  let bytes = 0;
  start.command.forEach((arg, i) => {
    if (hasNul(arg)) throw invalidArgument(`start.command[${i}]: contains a NUL byte`);
    bytes += arg.length;
  });
  for (const [key, value] of Object.entries(start.env)) {
    if (key === '' || key.includes('=') || hasNul(key)) throw invalidArgument(`start.env key ${JSON.stringify(key)}: must be non-empty without '=' or NUL`);
    if (hasNul(value)) throw invalidArgument(`start.env[${key}]: contains a NUL byte`);
    bytes += key.length + value.length;
  }
  if (bytes > MAX_ARGS_BYTES) throw invalidArgument(`start.command + start.env: ${bytes} bytes, at most ${MAX_ARGS_BYTES}`);
  if (start.cwd !== '' && (!path.isAbsolute(start.cwd) || hasNul(start.cwd))) {
    throw invalidArgument(`start.cwd ${JSON.stringify(start.cwd)}: must be an absolute path`);
  }
  if (hasNul(start.term) || start.term.length > 64) throw invalidArgument('start.term: at most 64 characters, no NUL');
}

/** "SIGINT" or "INT" → "SIGINT"; anything else is refused with the accepted form. */
export function checkSignal(name: string): NodeJS.Signals {
  const full = (name.startsWith('SIG') ? name : `SIG${name}`) as NodeJS.Signals;
  if (!(full in constants.signals)) throw invalidArgument(`signal ${JSON.stringify(name)}: expected a signal name such as SIGINT, SIGTERM, SIGKILL`);
  return full;
}

/** The signal name for a number (node-pty reports numbers), '' for none. */
export function signalName(signal: number | undefined): string {
  if (!signal) return '';
  const entry = Object.entries(constants.signals).find(([, n]) => n === signal);
  return entry ? entry[0] : `signal ${signal}`;
}
