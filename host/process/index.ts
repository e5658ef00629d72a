// Host side of ProcessService: run source code (`runCode`) or an argv command (`exec`) in
// a sandbox, in the foreground (a Promise of the result) or in the background (a handle to
// stream stdin, send signals and wait). A program that fails is a RunResult; errors are
// thrown only when the run could not be made (see errors.ts).
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { bidiCall } from '../../proto/grpc.js';
import {
  ExecRequestSchema,
  ExecStartSchema,
  OutputStream,
  ProcessInputSchema,
  ProcessService,
  RunCodeRequestSchema,
  RunCodeStartSchema,
  RunLimitsSchema,
  Stage,
  Status,
  type ExecResponse,
  type ProcessInput,
  type RunCodeResponse,
  type RunLimits,
  type StageResult as StageResultMessage,
  type Started,
} from '../../proto/gen/runbox/v1/process_pb.js';
import { cancelCall, cancelOnAbort, throwIfAborted, type Connection } from '../transport/connection.js';
import { AbortError, AgentError } from '../errors.js';
import { fromGrpcError } from '../transport/grpc-errors.js';

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
 */
export type OutputListener = (text: string, chunk: OutputChunk) => void;

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

const STATUS: Record<Status, RunStatus> = {
  [Status.UNSPECIFIED]: 'internal_error',
  [Status.EXITED]: 'exited',
  [Status.SIGNALED]: 'signaled',
  [Status.TIMED_OUT]: 'timed_out',
  [Status.MEMORY_LIMIT]: 'memory_limit',
  [Status.COMPILE_ERROR]: 'compile_error',
  [Status.CANCELLED]: 'cancelled',
  [Status.INTERNAL_ERROR]: 'internal_error',
};

const encoder = new TextEncoder();
const toBytes = (data: string | Uint8Array) => (typeof data === 'string' ? encoder.encode(data) : data);

function concat(chunks: Uint8Array[]): Uint8Array {
  // One piece (a run without a compile stage): a view, no copy — and a plain Uint8Array
  // even when gRPC handed us a Buffer.
  if (chunks.length === 1) return new Uint8Array(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.length);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/**
 * One stream's bytes. Text is decoded per chunk only while someone listens (a streaming
 * TextDecoder, so a character split across chunks comes out whole); the result's text is
 * decoded once, on first access. Decoding every chunk of a large output eagerly cost the
 * SDK three quarters of its throughput.
 */
class StreamCollector {
  readonly chunks: Uint8Array[] = [];
  #decoder: InstanceType<typeof TextDecoder> | undefined;

  /** Stores a chunk; returns its text when `decode` (listeners present), else ''. */
  push(bytes: Uint8Array, decode: boolean): string {
    if (decode && !this.#decoder) {
      // A listener arrived mid-stream: bring a decoder up to this point first.
      this.#decoder = new TextDecoder('utf-8');
      for (const chunk of this.chunks) this.#decoder.decode(chunk, { stream: true });
    }
    this.chunks.push(bytes);
    return this.#decoder ? this.#decoder.decode(bytes, { stream: true }) : '';
  }

  finish(): Uint8Array {
    return concat(this.chunks);
  }
}

/** UTF-8 text of bytes, computed on first read and kept. */
function lazyText(bytes: () => Uint8Array): () => string {
  let text: string | undefined;
  return () => (text ??= new TextDecoder('utf-8').decode(bytes()));
}

function isAsyncIterable(value: unknown): value is AsyncIterable<string | Uint8Array> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** The start fields RunCode and Exec share: env, cwd, stdin (bytes now, or a stream later), limits. */
function commonStart(options: ProcessOptions) {
  const { stdin } = options;
  const streamed = stdin !== undefined && isAsyncIterable(stdin);
  return {
    env: options.env ?? {},
    cwd: options.cwd ?? '',
    stdin: stdin === undefined || isAsyncIterable(stdin) ? new Uint8Array() : toBytes(stdin),
    keepStdinOpen: Boolean(options.keepStdinOpen) || streamed,
    limits: limitsRequest(options),
  };
}

function limitsRequest(options: RunLimitOptions): RunLimits {
  const n = (v: number | undefined, name: string) => {
    if (v === undefined) return 0;
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
    return v;
  };
  return create(RunLimitsSchema, {
    timeoutMs: BigInt(n(options.timeoutMs, 'timeoutMs')),
    compileTimeoutMs: BigInt(n(options.compileTimeoutMs, 'compileTimeoutMs')),
    outputLimitBytes: BigInt(n(options.outputLimitBytes, 'outputLimitBytes')),
    memoryBytes: BigInt(n(options.memoryBytes, 'memoryBytes')),
    maxProcesses: n(options.maxProcesses, 'maxProcesses'),
  });
}

type AnyResponse = RunCodeResponse | ExecResponse;
type Duplex = grpc.ClientDuplexStream<unknown, AnyResponse>;

/**
 * A run in progress. Returned by `runCode`/`exec` with `{ background: true }` once the agent
 * started the run. Output listeners given in the options (or added with onStdout/onStderr)
 * get output as it arrives; `wait()` gives the result.
 */
export class ProcessHandle {
  /** The agent's id of this run (in its logs, and RUNBOX_RUN_ID in the program's environment). */
  readonly runId: string;
  readonly language: string;
  readonly version: string;
  readonly compileCached: boolean;
  readonly limits: EffectiveLimits;
  readonly #call: Duplex;
  readonly #input: (value: ProcessInput) => unknown;
  readonly #done: Promise<RunResult>;

  /** @internal Created by ProcessApi. */
  constructor(call: Duplex, input: (value: ProcessInput) => unknown, started: Started, done: Promise<RunResult>) {
    this.#call = call;
    this.#input = input;
    this.runId = started.runId;
    this.language = started.language;
    this.version = started.version;
    this.compileCached = started.compileCached;
    this.limits = effectiveLimits(started.limits);
    this.#done = done;
  }

  /** Resolves with the result when the run ends; rejects with a RunboxError (AbortError on cancel). */
  wait(): Promise<RunResult> {
    return this.#done;
  }

  #send(value: ProcessInput): boolean {
    if (this.#call.writableEnded || this.#call.destroyed) return true;
    return this.#call.write(this.#input(value));
  }

  /** Sends a signal to the program's whole process group (default SIGKILL). */
  kill(signal: string = 'SIGKILL'): void {
    this.#send(create(ProcessInputSchema, { kind: { case: 'signal', value: signal } }));
  }

  /** Writes to the program's stdin (needs `keepStdinOpen`); resolves when the stream can take more. */
  async sendStdin(data: string | Uint8Array): Promise<void> {
    if (!this.#send(create(ProcessInputSchema, { kind: { case: 'stdin', value: toBytes(data) } }))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#call.off('drain', done).off('close', done);
          resolve();
        };
        this.#call.on('drain', done).on('close', done);
      });
    }
  }

  /** Closes the program's stdin: it reads end-of-file. */
  closeStdin(): void {
    this.#send(create(ProcessInputSchema, { kind: { case: 'closeStdin', value: {} } }));
  }

  /** Cancels the run: the agent kills the whole tree; wait() rejects with AbortError. */
  cancel(): void {
    cancelCall(this.#call);
  }

  #listeners: { stdout: Set<OutputListener>; stderr: Set<OutputListener> } = { stdout: new Set(), stderr: new Set() };

  /** @internal */
  listening(stream: 'stdout' | 'stderr'): boolean {
    return this.#listeners[stream].size > 0;
  }

  /** @internal */
  emit(stream: 'stdout' | 'stderr', text: string, chunk: OutputChunk): void {
    for (const listener of this.#listeners[stream]) listener(text, chunk);
  }

  /** Adds a stdout listener; returns a function that removes it. */
  onStdout(listener: OutputListener): () => void {
    this.#listeners.stdout.add(listener);
    return () => this.#listeners.stdout.delete(listener);
  }

  /** Adds a stderr listener; returns a function that removes it. */
  onStderr(listener: OutputListener): () => void {
    this.#listeners.stderr.add(listener);
    return () => this.#listeners.stderr.delete(listener);
  }
}

function effectiveLimits(limits: RunLimits | undefined): EffectiveLimits {
  return {
    timeoutMs: Number(limits?.timeoutMs ?? 0n),
    compileTimeoutMs: Number(limits?.compileTimeoutMs ?? 0n),
    outputLimitBytes: Number(limits?.outputLimitBytes ?? 0n),
    memoryBytes: Number(limits?.memoryBytes ?? 0n),
    maxProcesses: limits?.maxProcesses ?? 0,
  };
}

function stageResult(
  message: StageResultMessage,
  streams: { stdout: StreamCollector; stderr: StreamCollector },
): StageResult {
  const stdoutBytes = streams.stdout.finish();
  const stderrBytes = streams.stderr.finish();
  const stdout = lazyText(() => stdoutBytes);
  const stderr = lazyText(() => stderrBytes);
  return {
    stage: message.stage === Stage.COMPILE ? 'compile' : 'run',
    status: STATUS[message.status] ?? 'internal_error',
    exitCode: message.exitCode,
    signal: message.signal || undefined,
    durationMs: Number(message.wallMs),
    cpuMs: Number(message.cpuMs),
    peakMemoryBytes: Number(message.peakMemoryBytes),
    get stdout() {
      return stdout();
    },
    get stderr() {
      return stderr();
    },
    stdoutBytes,
    stderrBytes,
    stdoutTruncated: message.stdoutTruncated,
    stderrTruncated: message.stderrTruncated,
    stdoutTotalBytes: Number(message.stdoutBytes),
    stderrTotalBytes: Number(message.stderrBytes),
    processLimitHit: message.processLimitHit,
    message: message.message,
  };
}

function runResult(started: Started, compile: StageResult | undefined, run: StageResult | undefined): RunResult {
  const stages = [compile, run].filter((s): s is StageResult => s !== undefined);
  const last = run ?? compile;
  const stdoutBytes = concat(stages.map((s) => s.stdoutBytes));
  const stderrBytes = concat(stages.map((s) => s.stderrBytes));
  let stdout: string | undefined;
  let stderr: string | undefined;
  return {
    runId: started.runId,
    language: started.language,
    version: started.version,
    status: last?.status ?? 'internal_error',
    exitCode: last?.exitCode ?? -1,
    signal: last?.signal,
    // Each stage's text decodes on its own: a stage boundary never joins two characters.
    get stdout() {
      return (stdout ??= stages.map((s) => s.stdout).join(''));
    },
    get stderr() {
      return (stderr ??= stages.map((s) => s.stderr).join(''));
    },
    stdoutBytes,
    stderrBytes,
    stdoutTruncated: stages.some((s) => s.stdoutTruncated),
    stderrTruncated: stages.some((s) => s.stderrTruncated),
    durationMs: stages.reduce((n, s) => n + s.durationMs, 0),
    cpuMs: stages.reduce((n, s) => n + s.cpuMs, 0),
    peakMemoryBytes: Math.max(0, ...stages.map((s) => s.peakMemoryBytes)),
    message: stages.map((s) => s.message).filter(Boolean).join('; '),
    compileCached: started.compileCached,
    limits: effectiveLimits(started.limits),
    ...(compile ? { compile } : {}),
    ...(run ? { run } : {}),
  };
}

/** The process capability of a Sandbox: `sb.runCode(...)` and `sb.exec(...)`. */
export class ProcessApi {
  /** Calls in flight: cancelled when the channel shuts down (Sandbox.close), so the agent kills their runs. */
  /** Calls in flight, for cancelAll(). Closing the connection cancels them too (Connection.track). */
  readonly #active = new Set<Duplex>();

  constructor(readonly connection: Connection) {}

  /**
   * Cancels every run in flight (the agent kills their process trees); their promises reject
   * with AbortError. Closing the Sandbox does this too.
   */
  cancelAll(): void {
    for (const call of this.#active) cancelCall(call);
  }

  /**
   * Runs source code: writes it to a fresh private directory, compiles it if the language
   * needs it (go, rust, typescript; cached by source hash), runs it and resolves with the
   * result. A non-zero exit, a timeout or a compile error is a result, not a throw.
   *
   * ```ts
   * const r = await sb.runCode('python', 'print(input())', { stdin: 'hi\n', timeoutMs: 5_000 });
   * ```
   * @throws InvalidArgumentError (unknown language, oversized source...), ResourceExhaustedError
   *   (agent at --max-concurrent), AbortError (options.signal fired), SandboxUnavailableError.
   */
  runCode(language: string, source: string | Uint8Array, options: RunCodeOptions & { background: true }): Promise<ProcessHandle>;
  runCode(language: string, source: string | Uint8Array, options?: RunCodeOptions): Promise<RunResult>;
  async runCode(language: string, source: string | Uint8Array, options: RunCodeOptions = {}): Promise<RunResult | ProcessHandle> {
    const start = create(RunCodeStartSchema, { language, source: toBytes(source), args: options.args ?? [], ...commonStart(options) });
    const handle = await this.#open(
      'runCode',
      () => bidiCall(this.connection.client, ProcessService.method.runCode, this.connection.context()) as unknown as Duplex,
      create(RunCodeRequestSchema, { event: { case: 'start', value: start } }),
      (value) => create(RunCodeRequestSchema, { event: { case: 'input', value } }),
      options,
    );
    return options.background ? handle : handle.wait();
  }

  /**
   * Runs an argv command (argv[0] is looked up in the sandbox's PATH; no shell is involved
   * unless argv names one) and resolves with the result.
   *
   * ```ts
   * const r = await sb.exec(['ls', '-l', '/'], { timeoutMs: 5_000 });
   * const h = await sb.exec(['cat'], { background: true, keepStdinOpen: true });
   * await h.sendStdin('hi\n'); h.closeStdin(); const r2 = await h.wait();
   * ```
   * @throws InvalidArgumentError (empty argv, NUL bytes...), ResourceExhaustedError,
   *   AbortError (options.signal fired), SandboxUnavailableError.
   */
  exec(argv: string[], options: ExecOptions & { background: true }): Promise<ProcessHandle>;
  exec(argv: string[], options?: ExecOptions): Promise<RunResult>;
  async exec(argv: string[], options: ExecOptions = {}): Promise<RunResult | ProcessHandle> {
    const start = create(ExecStartSchema, { argv, ...commonStart(options) });
    const handle = await this.#open(
      'exec',
      () => bidiCall(this.connection.client, ProcessService.method.exec, this.connection.context()) as unknown as Duplex,
      create(ExecRequestSchema, { event: { case: 'start', value: start } }),
      (value) => create(ExecRequestSchema, { event: { case: 'input', value } }),
      options,
    );
    return options.background ? handle : handle.wait();
  }

  /** Opens the call, sends `start`, resolves with a handle on Started (or rejects with the agent's refusal). */
  #open(
    what: string,
    open: () => Duplex,
    startRequest: unknown,
    input: (value: ProcessInput) => unknown,
    options: ProcessOptions,
  ): Promise<ProcessHandle> {
    throwIfAborted(options.signal, what);
    const call = this.connection.track(open());
    this.#active.add(call);
    const abortDetach = cancelOnAbort(options.signal, call);
    const detach = () => {
      abortDetach();
      this.#active.delete(call);
    };
    const streams = {
      compile: { stdout: new StreamCollector(), stderr: new StreamCollector() },
      run: { stdout: new StreamCollector(), stderr: new StreamCollector() },
    };
    let handle: ProcessHandle | undefined;
    let started: Started | undefined;
    let compileMessage: StageResultMessage | undefined;
    let finished: { compile?: StageResultMessage; run?: StageResultMessage } | undefined;
    let settle!: { resolve: (r: RunResult) => void; reject: (e: unknown) => void };
    const done = new Promise<RunResult>((resolve, reject) => (settle = { resolve, reject }));
    done.catch(() => {
      /* a background caller may never call wait(); the rejection is theirs to observe */
    });

    return new Promise<ProcessHandle>((resolveHandle, rejectHandle) => {
      let failed = false;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        detach();
        const mapped = options.signal?.aborted
          ? new AbortError(`${what}: aborted; the agent kills the run's process tree`, { cause: error })
          : this.connection.closed
            ? new AbortError(`${what}: the Sandbox was closed while the run was in flight; the agent kills the run's process tree`, { cause: error })
            : fromGrpcError(error, what);
        if (handle) settle.reject(mapped);
        else rejectHandle(mapped);
      };

      call.on('data', (response: AnyResponse) => {
        const event = response.event;
        switch (event.case) {
          case 'started':
            started = event.value;
            handle = new ProcessHandle(call, input, started, done);
            if (options.onStdout) handle.onStdout(options.onStdout);
            if (options.onStderr) handle.onStderr(options.onStderr);
            resolveHandle(handle);
            if (isAsyncIterable(options.stdin)) void pump(handle, options.stdin);
            return;
          case 'output': {
            const stage = event.value.stage === Stage.COMPILE ? 'compile' : 'run';
            const stream = event.value.stream === OutputStream.STDERR ? 'stderr' : 'stdout';
            const bytes = event.value.data;
            const listening = handle?.listening(stream) ?? false;
            const text = streams[stage][stream].push(bytes, listening);
            if (listening) handle!.emit(stream, text, { stage, bytes });
            return;
          }
          case 'stageResult':
            compileMessage = event.value;
            return;
          case 'finished':
            finished = { compile: event.value.compile ?? compileMessage, run: event.value.run };
            if (!call.writableEnded) call.end();
            return;
        }
      });
      call.on('error', fail);
      call.on('status', (status: grpc.StatusObject) => {
        if (status.code !== 0) return; // 'error' reports it
        detach();
        if (!started || !finished) {
          fail(new AgentError(`${what}: the agent ended the call without a ${started ? 'Finished' : 'Started'} message`));
          return;
        }
        const compile = finished.compile && stageResult(finished.compile, streams.compile);
        const run = finished.run && stageResult(finished.run, streams.run);
        settle.resolve(runResult(started, compile, run));
      });
      // The write side stays open after `start`: kill(), sendStdin() and closeStdin() may follow.
      call.write(startRequest);
    });
  }
}

async function pump(handle: ProcessHandle, source: AsyncIterable<string | Uint8Array>): Promise<void> {
  try {
    for await (const chunk of source) await handle.sendStdin(chunk);
  } catch {
    /* the source failed: give the program end-of-file rather than hang */
  }
  handle.closeStdin();
}
