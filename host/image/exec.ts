// Runs build tools (argv only, never a shell string), appends their output to the build log and
// optionally hands each output line to a summarizer for the progress display.
import { spawn } from 'node:child_process';
import type { WriteStream } from 'node:fs';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Build log: every byte the tool prints is appended here. */
  log?: WriteStream;
  /** Called per complete output line (stdout and stderr). */
  onLine?: (line: string) => void;
  /** Keep stdout in memory and return it (for small outputs such as dpkg-query). */
  captureStdout?: boolean;
  input?: string | Buffer;
}

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly code: number | null, readonly signal: NodeJS.Signals | null, readonly tail: string) {
    super(`${argv[0]} failed (${signal ? `signal ${signal}` : `exit ${code}`}): ${argv.join(' ').slice(0, 300)}\n${tail}`);
    this.name = 'CommandError';
  }
}

/** Run argv; resolve with captured stdout (if asked) or reject with a CommandError carrying the last output lines. */
export function run(argv: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const tail: string[] = [];
    const feed = (stream: 'out' | 'err') => {
      let pending = '';
      return (chunk: Buffer) => {
        if (stream === 'out' && opts.captureStdout) out.push(chunk);
        opts.log?.write(chunk);
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) {
          tail.push(l);
          if (tail.length > 20) tail.shift();
          opts.onLine?.(l);
        }
      };
    };
    child.stdout!.on('data', feed('out'));
    child.stderr!.on('data', feed('err'));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    child.on('error', (e) => reject(new Error(`cannot start ${argv[0]}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise(Buffer.concat(out).toString('utf8'));
      else reject(new CommandError(argv, code, signal, tail.join('\n')));
    });
  });
}
