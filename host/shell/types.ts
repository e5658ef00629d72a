// Public types of the shell capability and the terminal-size rule both sides share.
import { InvalidArgumentError } from '../errors.js';

/** The agent's limit on terminal columns (enforced by the agent too). */
export const SHELL_MAX_COLS = 2000;
/** The agent's limit on terminal rows (enforced by the agent too). */
export const SHELL_MAX_ROWS = 1000;

/** Options of `sb.shells.open()`. */
export interface ShellOptions {
  /** Terminal size (default 80×24). */
  cols?: number;
  rows?: number;
  /** argv to run instead of the user's login shell. */
  command?: string[];
  env?: Record<string, string>;
  /** Working directory (default: the user's home). */
  cwd?: string;
  /** TERM (default xterm-256color). */
  term?: string;
  /** Aborting ends this stream; the session lives on for the agent's grace period. */
  signal?: AbortSignal;
}

/** Options of `sb.shells.attach()`. */
export interface AttachOptions {
  signal?: AbortSignal;
}

/** How a shell session's program ended. */
export interface ShellExit {
  exitCode: number;
  /** Signal name when the shell died of a signal, else ''. */
  signal: string;
}

/** A live session as `sb.shells.list()` reports it. */
export interface ShellSessionInfo {
  id: string;
  pid: number;
  cols: number;
  rows: number;
  attached: boolean;
  command: string[];
}

/** Refuses a terminal size the agent would refuse, before anything is sent. */
export function checkSize(cols: number, rows: number): void {
  if (!Number.isInteger(cols) || cols < 1 || cols > SHELL_MAX_COLS) {
    throw new InvalidArgumentError(`shell: cols ${cols}: must be an integer 1-${SHELL_MAX_COLS}`, {
      reason: 'TERMINAL_SIZE_INVALID',
      metadata: { field: 'cols' },
    });
  }
  if (!Number.isInteger(rows) || rows < 1 || rows > SHELL_MAX_ROWS) {
    throw new InvalidArgumentError(`shell: rows ${rows}: must be an integer 1-${SHELL_MAX_ROWS}`, {
      reason: 'TERMINAL_SIZE_INVALID',
      metadata: { field: 'rows' },
    });
  }
}
