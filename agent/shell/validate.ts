// Checks of ShellService requests. Each refusal names the field and what is allowed; argv, env
// and signal rules are the same as for runs (usercode/).
import path from 'node:path';
import { rpcError } from '../server/errors.js';
import { checkEnv, checkExecSize, checkStrings } from '../usercode/argv.js';

/** Terminal sizes the agent accepts; the kernel's winsize holds up to 65535, no screen needs more. */
export const MAX_COLS = 2000;
export const MAX_ROWS = 1000;

export function checkSize(field: string, cols: number, rows: number): void {
  if (cols < 1 || cols > MAX_COLS)
    throw rpcError('TERMINAL_SIZE_INVALID', `${field}.cols ${cols}: must be 1-${MAX_COLS}`, { field: `${field}.cols` });
  if (rows < 1 || rows > MAX_ROWS)
    throw rpcError('TERMINAL_SIZE_INVALID', `${field}.rows ${rows}: must be 1-${MAX_ROWS}`, { field: `${field}.rows` });
}

export interface StartRequest {
  cols: number;
  rows: number;
  command: string[];
  env: Record<string, string>;
  cwd: string;
  term: string;
}

/** `maxArgsBytes` is the agent's --max-source-bytes, as for a run's argv + env. */
export function checkStart(start: StartRequest, maxArgsBytes: number): void {
  checkSize('start', start.cols, start.rows);
  if (start.command.length > 0 && start.command[0] === '') {
    throw rpcError('FIELD_INVALID', 'start.command[0]: must name a program', { field: 'start.command[0]' });
  }
  checkStrings('start.command', start.command);
  checkEnv('start.env', start.env);
  checkExecSize('start.command', start.command, start.env, maxArgsBytes);
  if (start.cwd !== '' && (!path.isAbsolute(start.cwd) || start.cwd.includes('\0'))) {
    throw rpcError('CWD_INVALID', `start.cwd ${JSON.stringify(start.cwd)}: must be an absolute path`, { field: 'start.cwd' });
  }
  if (start.term.includes('\0') || start.term.length > 64)
    throw rpcError('FIELD_INVALID', 'start.term: at most 64 characters, no NUL', { field: 'start.term' });
}
