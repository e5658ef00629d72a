// Running host tools (QEMU's helpers, ip, mmdebstrap, mkfs, ...) for the image builder and the
// VM launcher: argv only, never a shell string; a failure names the command and quotes the
// last lines it printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, type WriteStream } from 'node:fs';
import { RunboxError, type ErrorCode } from '../errors.js';

export interface CommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the tool (SIGKILL) and fail after this long. Default: no limit (builds take minutes). */
  timeoutMs?: number;
  /** Every byte the tool prints is appended here (the build log). */
  log?: WriteStream;
  /** Called per complete output line, stdout and stderr (progress display). */
  onLine?: (line: string) => void;
  /** Keep stdout and return it. Default: true without `log`, false with it. */
  captureStdout?: boolean;
  input?: string | Buffer;
}

/** A host tool could not be started, exited non-zero, was killed, or ran past its timeout. */
export class CommandError extends RunboxError {
  static override readonly code: ErrorCode = 'command_failed';
  constructor(
    readonly argv: readonly string[],
    /** Exit code, or null when it did not exit by itself. */
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    /** The last lines it printed (stdout and stderr), or why it could not start. */
    readonly tail: string,
  ) {
    const how = signal ? `signal ${signal}` : exitCode === null ? 'could not start' : `exit ${exitCode}`;
    super(`${argv[0]} failed (${how}): ${argv.join(' ').slice(0, 300)}${tail ? `\n${tail}` : ''}`, {
      reason: 'COMMAND_FAILED',
      metadata: { command: argv[0] ?? '' },
    });
  }
}

const TAIL_LINES = 20;
/** What a quick host tool (ip, qemu-img, cp of a small file) gets before it counts as hung. */
export const TOOL_TIMEOUT_MS = 30_000;

/** Runs argv to completion; resolves with its stdout (when captured), rejects with a CommandError. */
export function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<string> {
  const capture = options.captureStdout ?? options.log === undefined;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const tail: string[] = [];
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), options.timeoutMs);
    const feed = (stream: 'out' | 'err') => {
      let pending = '';
      return (chunk: Buffer) => {
        if (stream === 'out' && capture) out.push(chunk);
        options.log?.write(chunk);
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          options.onLine?.(line);
        }
      };
    };
    child.stdout!.on('data', feed('out'));
    child.stderr!.on('data', feed('err'));
    if (options.input !== undefined) child.stdin!.end(options.input);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new CommandError(argv, null, null, `cannot start ${argv[0]}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      if (timedOut) tail.push(`(killed after ${options.timeoutMs} ms)`);
      reject(new CommandError(argv, code, signal, tail.join('\n')));
    });
  });
}

/** Starts argv as a daemon in its own process group, stdout and stderr appended to `logFile`. */
export function spawnDaemon(argv: readonly string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    return spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}
