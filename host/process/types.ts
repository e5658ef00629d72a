// Public types of the process capability: options of runCode/exec, output listeners, and
// the results. A program that fails is a RunResult (status, exitCode), never an exception.
/** How a stage (and so a run) ended. */
export type RunStatus =
  /** The program exited by itself; see exitCode. */
  | 'exited'
  /** The program died of a signal runbox did not send for a limit (e.g. one you sent with kill()); see signal. */
  | 'signaled'
  /** The wall-clock limit fired; the whole process tree was killed. */
  | 'timed_out'
  /** The memory limit was hit and the kernel's OOM killer ended the program (cgroup backend only). */
  | 'memory_limit'
  /** The compile stage failed; the compiler's output is in `compile.stderr`/`compile.stdout`. */
  | 'compile_error'
  /** The run was cancelled (client went away, agent shutting down); the tree was killed. */
  | 'cancelled'
  /** runbox itself failed; see message. */
  | 'internal_error';

/** Per-run limits. Omitted or 0 = the agent's default; larger values are clamped to its maximum. */
export interface RunLimitOptions {
  /** Wall-clock limit of the run stage, ms. */
  timeoutMs?: number;
  /** Wall-clock limit of the compile stage, ms. */
  compileTimeoutMs?: number;
  /** Bytes kept per stream (stdout, stderr) per stage; the rest is counted, not sent. */
  outputLimitBytes?: number;
  /** Memory limit of the run's process tree, bytes (cgroup backend only). */
  memoryBytes?: number;
  /** Limit on tasks (processes and threads) of the run's tree (cgroup backend only). */
  maxProcesses?: number;
}

/** The limits the agent applied, after defaults and clamping. 0 = not enforced by this agent. */
export interface EffectiveLimits {
  timeoutMs: number;
  compileTimeoutMs: number;
  outputLimitBytes: number;
  memoryBytes: number;
  maxProcesses: number;
}

/** One piece of output as it arrived, with the stage that wrote it. */
export interface OutputChunk {
  stage: 'compile' | 'run';
  /** The raw bytes of this piece. */
  bytes: Uint8Array;
}

/**
 * Receives output as it arrives. `text` is decoded incrementally per stream, so a UTF-8
 * character split across pieces comes out whole (possibly with the next call; `text` may
 * be '' for a piece that ends mid-character). `chunk.bytes` is exactly what was written.
 * A listener that returns a Promise (an async one does) holds the run's output until it settles: nothing more is
 * read from the call meanwhile, so a slow consumer slows the program (flow control end to
 * end, as `runbox run > file` does) instead of output piling up in memory.
 */
export type OutputListener = (text: string, chunk: OutputChunk) => unknown;

/** Data for a program's stdin: bytes, text (UTF-8), or a stream of either (sent as it comes, then closed). */
export type StdinSource = string | Uint8Array | AsyncIterable<string | Uint8Array>;

/** Options shared by runCode and exec. */
export interface ProcessOptions extends RunLimitOptions {
  /** Stdin: written first, then closed (unless `keepStdinOpen`). An AsyncIterable is streamed. */
  stdin?: StdinSource;
  /** Keep stdin open after `stdin` for `handle.sendStdin()` (background runs). */
  keepStdinOpen?: boolean;
  /** Environment added to the sandbox's base one (PATH, HOME, USER, LANG=C.UTF-8). */
  env?: Record<string, string>;
  /** Absolute working directory in the sandbox (default: a private directory removed afterwards). */
  cwd?: string;
  onStdout?: OutputListener;
  onStderr?: OutputListener;
  /**
   * false: the result keeps no output (stdout/stderr '' and their bytes empty; the totals and
   * truncation flags still say what was written): for a caller that only streams it through
   * onStdout/onStderr. Unless outputLimitBytes is given too, the agent then sends every byte
   * (no output limit), since nothing piles up here. Default true.
   */
  keepOutput?: boolean;
  /**
   * false: listeners get '' as `text` and only `chunk.bytes`, for a caller that passes output
   * on as bytes (decoding a flood as UTF-8 took half the SDK's time). Default true.
   */
  decodeOutput?: boolean;
  /** Cancels the run: the agent kills the whole process tree and the promise rejects with AbortError. */
  signal?: AbortSignal;
}

/** Options of `sb.runCode()`. */
export interface RunCodeOptions extends ProcessOptions {
  /** Command-line arguments for the program. */
  args?: string[];
  /** Return a ProcessHandle as soon as the run started instead of waiting for its end. */
  background?: boolean;
}

/** Options of `sb.exec()`. */
export interface ExecOptions extends ProcessOptions {
  /** Return a ProcessHandle as soon as the command started instead of waiting for its end. */
  background?: boolean;
}

/** How one stage (compile or run) ended, with its output. */
export interface StageResult {
  stage: 'compile' | 'run';
  status: RunStatus;
  /** Exit code when status is 'exited' or 'compile_error', else -1. */
  exitCode: number;
  /** The signal that ended the process, e.g. 'SIGKILL'; undefined when it exited. */
  signal: string | undefined;
  durationMs: number;
  /** CPU time of the whole tree; 0 when the agent cannot measure it (limits backend 'none'). */
  cpuMs: number;
  /** Peak memory of the whole tree; 0 when the agent cannot measure it. */
  peakMemoryBytes: number;
  /** Output decoded as UTF-8 (invalid sequences become U+FFFD; use stdoutBytes for binary). */
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
  stderrBytes: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** Bytes the process wrote to each stream, including what was cut. */
  stdoutTotalBytes: number;
  stderrTotalBytes: number;
  /** The process-count limit refused at least one fork. */
  processLimitHit: boolean;
  /** Which limit fired, why runbox failed, or what was cut; '' when nothing to say. */
  message: string;
}

/**
 * The result of a run. Top-level status/exitCode/signal are the run stage's, or the compile
 * stage's when the run stage never started (compile error). stdout/stderr hold everything
 * the run wrote, compile stage first; `compile` and `run` hold each stage's own.
 */
export interface RunResult {
  runId: string;
  /** Canonical language and toolchain version ('' for exec). */
  language: string;
  version: string;
  status: RunStatus;
  exitCode: number;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
  stderrBytes: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** Wall time of all stages. */
  durationMs: number;
  cpuMs: number;
  peakMemoryBytes: number;
  /** Messages of the stages, joined. */
  message: string;
  /** The compile stage was skipped: a binary of this exact source was cached. */
  compileCached: boolean;
  limits: EffectiveLimits;
  /** Present when the language compiles and the compile stage ran. */
  compile?: StageResult;
  /** Absent when the compile stage failed. */
  run?: StageResult;
}
