// runbox shell: an interactive shell in the sandbox on this terminal. Raw mode passes every
// key through (Ctrl-C reaches the remote foreground job as \x03), window-size changes follow,
// the remote exit code becomes ours, and the terminal is restored on every way out.
import { constants } from 'node:os';
import { printable } from './printable.js';
import type { Sandbox } from '../sandbox.js';
import type { ShellHandle } from '../shell/index.js';
import { EXIT, TARGET_OPTIONS, TARGET_USAGE, UsageError, connect, parse, parseEnv, runVerb, targetOf } from './common.js';
import type { CliEvent, CliIo } from './io.js';

const USAGE = `Usage: runbox shell --target T [options] [-- COMMAND [ARG...]]

Opens an interactive shell in the sandbox (the user's login shell, or COMMAND) on a pty.
Exits with the remote exit code (128+N when it died of signal N). If the link drops, the
session stays alive for the agent's grace period: re-attach with --attach ID.

${TARGET_USAGE}
      --attach ID      re-attach to a live session (its recent output is replayed)
      --cwd DIR        working directory (default: the user's home)
  -e, --env K=V        environment variable for the shell; repeatable
`;

function terminalSize(io: CliIo): { cols: number; rows: number } {
  const cols = io.stdout.isTTY ? (io.stdout.columns ?? 0) : 0;
  const rows = io.stdout.isTTY ? (io.stdout.rows ?? 0) : 0;
  return { cols: cols > 0 ? cols : 80, rows: rows > 0 ? rows : 24 };
}

/** Puts the local terminal in raw mode; the returned function puts it back (idempotent). */
function rawTerminal(io: CliIo): () => void {
  const stdin = io.stdin;
  if (!stdin.isTTY || !stdin.setRawMode) return () => {};
  stdin.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      stdin.setRawMode?.(false);
    } catch {
      /* the terminal is gone */
    }
  };
  // Even a crash must not leave the user's terminal raw.
  io.events.once('exit', restore);
  return restore;
}

/** Bridges this process's stdio to `handle` until the shell exits or the stream ends. */
async function bridge(handle: ShellHandle, sessionHint: string, io: CliIo): Promise<number> {
  const restore = rawTerminal(io);
  let bridging = true;
  // A program that does not read (or a big paste into a slow one): stop reading our stdin too.
  const onInput = (chunk: Buffer) => {
    if (handle.write(chunk)) return;
    io.stdin.pause();
    void handle.drained().then(() => bridging && io.stdin.resume());
  };
  // Piped (not a terminal) input: its end is a Ctrl-D to the remote side.
  const onEnd = () => {
    try {
      handle.write('\x04');
    } catch {
      /* already ended */
    }
  };
  const onResize = () => {
    const { cols, rows } = terminalSize(io);
    try {
      handle.resize(cols, rows);
    } catch {
      /* the stream ended meanwhile */
    }
  };
  let leaving: NodeJS.Signals | undefined;
  const onSignal = (signal: CliEvent) => {
    leaving = signal as NodeJS.Signals;
    void handle.detach();
  };
  io.stdin.on('data', onInput);
  io.stdin.on('end', onEnd);
  io.stdin.resume();
  io.events.on('SIGWINCH', onResize);
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) io.events.on(signal, onSignal);
  handle.onData((data) => io.stdout.write(data));
  try {
    const exit = await handle.wait();
    const signal = exit.signal ? constants.signals[exit.signal as keyof typeof constants.signals] : undefined;
    return signal ? 128 + signal : exit.exitCode;
  } catch (error) {
    restore();
    if (leaving) {
      io.stderr.write(`\r\nrunbox: ${leaving}: detached; the session lives on for a while: ${sessionHint}\n`);
      return 128 + constants.signals[leaving];
    }
    io.stderr.write(`\r\nrunbox: ${printable((error as Error).message)}\r\nrunbox: to continue: ${sessionHint}\n`);
    return EXIT.runbox;
  } finally {
    bridging = false;
    restore();
    io.stdin.off('data', onInput);
    io.stdin.off('end', onEnd);
    io.stdin.pause();
    io.events.off('SIGWINCH', onResize);
    for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) io.events.off(signal, onSignal);
  }
}

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const { values, positionals } = parse(argv, {
      ...TARGET_OPTIONS,
      attach: { type: 'string' },
      cwd: { type: 'string' },
      env: { type: 'string', short: 'e', multiple: true },
    });
    if (values.help) return (io.stdout.write(USAGE), 0);
    if (values.attach !== undefined && (positionals.length > 0 || values.cwd !== undefined || values.env !== undefined)) {
      throw new UsageError('--attach joins an existing session: COMMAND, --cwd and --env only apply to new ones');
    }
    const env = parseEnv(values.env);
    const sandbox: Sandbox = await connect(values, io);
    try {
      const size = terminalSize(io);
      let handle: ShellHandle;
      if (values.attach !== undefined) {
        handle = await sandbox.shells.attach(values.attach);
        io.stdout.write(handle.replay);
        handle.resize(size.cols, size.rows);
      } else {
        handle = await sandbox.shells.open({
          ...size,
          command: positionals,
          env,
          ...(values.cwd !== undefined ? { cwd: values.cwd } : {}),
          // Like ssh: the remote side draws for the terminal we are actually on.
          ...(io.env.TERM ? { term: io.env.TERM } : {}),
        });
      }
      return await bridge(handle, `runbox shell --target ${targetOf(values, io)} --attach ${handle.id}`, io);
    } finally {
      await sandbox.close();
    }
  });
}
