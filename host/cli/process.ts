// What `runbox run` and `runbox exec` share: limit flags, stdin wiring, streaming output as
// raw bytes, Ctrl-C forwarding, and turning a result into the exit code scripts rely on.
import { readFileSync } from 'node:fs';
import { printable } from './printable.js';
import { constants } from 'node:os';
import { EXIT, UsageError, intFlag } from './common.js';
import type { CliEvent, CliIo, CliOutput } from './io.js';
import type { ProcessHandle, RunResult, StdinSource } from '../process/index.js';

export const PROCESS_OPTIONS = {
  'timeout-ms': { type: 'string' },
  'output-limit-bytes': { type: 'string' },
  'memory-bytes': { type: 'string' },
  'max-processes': { type: 'string' },
  'stdin-file': { type: 'string' },
  env: { type: 'string', short: 'e', multiple: true },
  cwd: { type: 'string' },
} as const;

/** `runbox run` only: Exec has no compile stage, so `exec` rejects the flag as unknown. */
export const COMPILE_OPTIONS = {
  'compile-timeout-ms': { type: 'string' },
} as const;

export const PROCESS_USAGE = `      --timeout-ms N          wall-clock limit of the run (default: the agent's, 30000)
      --output-limit-bytes N  cut each stream after N bytes (default: no cut; output is
                              streamed, never held)
      --memory-bytes N        memory limit (agents with cgroup v2 only)
      --max-processes N       process/thread limit (agents with cgroup v2 only)
      --stdin-file F          the program's stdin (default: ours when it is not a terminal)
  -e, --env K=V               add an environment variable; repeatable
      --cwd DIR               absolute working directory in the sandbox
                              (default: a private directory removed afterwards)

Exit status: the program's own; 124 when it timed out; 128+N when signal N killed it
(137 for the memory limit); 1 for a compile error; 125 when runbox itself failed;
141 when our stdout or stderr was closed (the run is cancelled); 2 for a usage error.`;

type ProcessValues = {
  'timeout-ms'?: string;
  'compile-timeout-ms'?: string;
  'output-limit-bytes'?: string;
  'memory-bytes'?: string;
  'max-processes'?: string;
  'stdin-file'?: string;
  env?: string[];
  cwd?: string;
};

/** Limits, env and cwd from the flags. */
export function processOptions(values: ProcessValues) {
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env ${pair}: expected NAME=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return {
    timeoutMs: intFlag('timeout-ms', values['timeout-ms']),
    compileTimeoutMs: intFlag('compile-timeout-ms', values['compile-timeout-ms']),
    outputLimitBytes: intFlag('output-limit-bytes', values['output-limit-bytes']),
    memoryBytes: intFlag('memory-bytes', values['memory-bytes']),
    maxProcesses: intFlag('max-processes', values['max-processes']),
    env,
    ...(values.cwd !== undefined ? { cwd: values.cwd } : {}),
  };
}

/**
 * The program's stdin: --stdin-file, else our stdin when it is not a terminal (streamed as
 * it comes), else nothing. `stdinTaken` is true when our stdin already held the source.
 */
export function stdinFor(values: ProcessValues, stdinTaken: boolean, io: CliIo): StdinSource | undefined {
  if (values['stdin-file'] !== undefined) {
    try {
      return readFileSync(values['stdin-file']);
    } catch (error) {
      throw new UsageError(`--stdin-file ${values['stdin-file']}: ${(error as Error).message}`);
    }
  }
  if (stdinTaken || io.stdin.isTTY) return undefined;
  return io.stdin;
}

/** Settles when `out` can take more (or will never: closed, failed). */
function drained(out: CliOutput): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done).off('close', done).off('error', done);
      resolve();
    };
    out.on('drain', done).on('close', done).on('error', done);
  });
}

/**
 * Writes output bytes to our stdout/stderr as they come, keeping none: so nothing is cut at
 * the agent's default output limit (only --output-limit-bytes caps), and a stdout that takes
 * bytes slowly (a pipe, a slow disk) holds the call until it drained, which stops the program
 * through the agent, as ssh does. No text is decoded.
 */
export function streamOutput(io: CliIo) {
  const sink = (out: CliOutput) => (_text: string, chunk: { bytes: Uint8Array }) => (out.write(chunk.bytes) ? undefined : drained(out));
  return { keepOutput: false, decodeOutput: false, onStdout: sink(io.stdout), onStderr: sink(io.stderr) };
}

/** Forwards Ctrl-C / SIGTERM / SIGHUP to the program's process group; returns a detach function. */
export function forwardSignals(handle: ProcessHandle, io: CliIo): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (signal: CliEvent) => handle.kill(signal);
  for (const s of signals) io.events.on(s, forward);
  return () => {
    for (const s of signals) io.events.off(s, forward);
  };
}

/** Our exit code for a result, printing a one-line reason on stderr when it is not a plain exit. */
export function exitCodeOf(result: RunResult, io: CliIo): number {
  const say = (line: string) => io.stderr.write(`runbox: ${printable(line)}\n`);
  const note = result.message ? `: ${result.message}` : '';
  switch (result.status) {
    case 'exited':
      if (result.message) say(result.message);
      else if (result.run?.processLimitHit) say('the process-count limit (--max-processes) refused at least one fork');
      return result.exitCode;
    case 'compile_error':
      say(`compile error (${result.language} ${result.version}, compiler exit ${result.exitCode})`);
      return 1;
    case 'timed_out':
      say(`timed out${note}`);
      return EXIT.timeout;
    case 'signaled':
      say(`killed by ${result.signal ?? 'a signal'}${note}`);
      return 128 + ((constants.signals as Record<string, number | undefined>)[result.signal ?? ''] ?? 0);
    case 'memory_limit':
      say(`memory limit${note}`);
      return 128 + 9;
    case 'cancelled':
      say(`cancelled${note}`);
      return EXIT.runbox;
    case 'internal_error':
      say(`internal error${note}`);
      return EXIT.runbox;
  }
}

/** Waits for the run, with output streamed and signals forwarded, then releases our stdin. */
export async function finish(handle: ProcessHandle, io: CliIo): Promise<number> {
  const detach = forwardSignals(handle, io);
  // Whoever read our stdout or stderr went away (`runbox run ... | head`): the run is
  // cancelled, as a program writing to a closed pipe is ended by SIGPIPE.
  let broken = false;
  const onBroken = () => {
    if (!broken) handle.cancel();
    broken = true;
  };
  io.stdout.on('error', onBroken);
  io.stderr.on('error', onBroken);
  try {
    return exitCodeOf(await handle.wait(), io);
  } catch (error) {
    if (broken) return EXIT.brokenPipe;
    throw error;
  } finally {
    io.stdout.off('error', onBroken);
    io.stderr.off('error', onBroken);
    detach();
    // Our stdin may still be open (a pipe nobody closes): stop reading so the CLI can exit.
    io.stdin.destroy();
  }
}
