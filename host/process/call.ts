// One RunCode/Exec call from `start` to its status: Started makes the handle, Output goes to
// the collectors (and listeners), StageResult/Finished make the result. The call's status
// settles everything; a refusal before Started rejects the handle itself.
import { status as grpcStatus, type StatusObject } from '@grpc/grpc-js';
import {
  OutputStream,
  Stage,
  type ProcessInput,
  type StageResult as StageResultMessage,
  type Started,
} from '../../proto/gen/runbox/v1/process_pb.js';
import { AbortError, AgentError } from '../errors.js';
import { cancelOnAbort, throwIfAborted } from '../transport/calls.js';
import type { Connection } from '../transport/connection.js';
import { keptBytes } from '../transport/options.js';
import { fromGrpcError } from '../transport/grpc-errors.js';
import { StreamCollector } from '../transport/collect.js';
import { ProcessHandle, pump, type RunCall, type RunResponse } from './handle.js';
import { isAsyncIterable } from './request.js';
import { runResult, stageResult } from './result.js';
import type { ProcessOptions, RunResult } from './types.js';

export interface RunCallSpec {
  /** Names the call in error messages: 'runCode' or 'exec'. */
  what: string;
  open: () => RunCall;
  startRequest: unknown;
  /** Wraps a ProcessInput in the RPC's request message. */
  input: (value: ProcessInput) => unknown;
}

type Streams = Record<'compile' | 'run', Record<'stdout' | 'stderr', StreamCollector>>;

const newStreams = (keep: boolean): Streams => ({
  compile: { stdout: new StreamCollector(Infinity, keep), stderr: new StreamCollector(Infinity, keep) },
  run: { stdout: new StreamCollector(Infinity, keep), stderr: new StreamCollector(Infinity, keep) },
});

/** Keeps at most `limit` bytes per stream and stage (keptBytes: what was asked and announced). */
function limitStreams(streams: Streams, limit: number): void {
  for (const stage of Object.values(streams)) for (const collector of Object.values(stage)) collector.limit = limit;
}

/** Why a run's call failed: the caller's abort, the Sandbox closing under it, or what the agent said. */
function runError(error: unknown, what: string, signal: AbortSignal | undefined, connection: Connection): Error {
  if (signal?.aborted)
    return new AbortError(`${what}: aborted; the agent kills the run's process tree`, { cause: error, reason: 'ABORTED' });
  if (connection.closed) {
    return new AbortError(`${what}: the Sandbox was closed while the run was in flight; the agent kills the run's process tree`, {
      cause: error,
      reason: 'SANDBOX_CLOSED',
    });
  }
  return fromGrpcError(error, what);
}

/** Opens the call, sends `start`, resolves with a handle on Started (or rejects with the agent's refusal). */
export function openRun(connection: Connection, spec: RunCallSpec, options: ProcessOptions): Promise<ProcessHandle> {
  throwIfAborted(options.signal, spec.what);
  const call = connection.track(spec.open());
  return new Promise<ProcessHandle>((resolveHandle, rejectHandle) => {
    const receiver = new RunReceiver(call, spec, options, connection, { resolve: resolveHandle, reject: rejectHandle });
    call.on('data', (response: RunResponse) => receiver.onResponse(response));
    call.on('error', (error: unknown) => receiver.fail(error));
    call.on('end', () => receiver.onEnd());
    call.on('status', (status: StatusObject) => receiver.onStatus(status));
    // The write side stays open after `start`: kill(), sendStdin() and closeStdin() may follow.
    call.write(spec.startRequest);
  });
}

/** What one call has received so far, and how it settles the handle and the result. */
class RunReceiver {
  readonly #streams: Streams;
  readonly #done: Promise<RunResult>;
  readonly #detach: () => void;
  #settle!: { resolve: (r: RunResult) => void; reject: (e: unknown) => void };
  #handle: ProcessHandle | undefined;
  #started: Started | undefined;
  #compileMessage: StageResultMessage | undefined;
  #finished: { compile?: StageResultMessage; run?: StageResultMessage } | undefined;
  #failed = false;
  #statusOk = false;
  #ended = false;

  constructor(
    private readonly call: RunCall,
    private readonly spec: RunCallSpec,
    private readonly options: ProcessOptions,
    private readonly connection: Connection,
    private readonly handleSettle: { resolve: (h: ProcessHandle) => void; reject: (e: unknown) => void },
  ) {
    this.#streams = newStreams(options.keepOutput !== false);
    this.#detach = cancelOnAbort(options.signal, call);
    this.#done = new Promise<RunResult>((resolve, reject) => (this.#settle = { resolve, reject }));
    this.#done.catch(() => {
      /* a background caller may never call wait(); the rejection is theirs to observe */
    });
  }

  onResponse(response: RunResponse): void {
    const event = response.event;
    switch (event.case) {
      case 'started':
        return this.#onStarted(event.value);
      case 'output': {
        const stage = event.value.stage === Stage.COMPILE ? 'compile' : 'run';
        const stream = event.value.stream === OutputStream.STDERR ? 'stderr' : 'stdout';
        return this.#onOutput(stage, stream, event.value.data);
      }
      case 'stageResult':
        this.#compileMessage = event.value;
        return;
      case 'finished':
        this.#finished = { compile: event.value.compile ?? this.#compileMessage, run: event.value.run };
        if (!this.call.writableEnded) this.call.end();
        return;
    }
  }

  #onStarted(started: Started): void {
    const { options } = this;
    this.#started = started;
    limitStreams(this.#streams, keptBytes(options.outputLimitBytes, Number(started.limits?.outputLimitBytes ?? 0n)));
    const handle = (this.#handle = new ProcessHandle(this.call, this.spec.input, started, this.#done));
    if (options.onStdout) handle.onStdout(options.onStdout);
    if (options.onStderr) handle.onStderr(options.onStderr);
    this.handleSettle.resolve(handle);
    if (isAsyncIterable(options.stdin)) void pump(handle, options.stdin);
  }

  #onOutput(stage: 'compile' | 'run', stream: 'stdout' | 'stderr', bytes: Uint8Array): void {
    const listening = this.#handle?.listening(stream) ?? false;
    const text = this.#streams[stage][stream].push(bytes, listening && this.options.decodeOutput !== false);
    const held = listening ? this.#handle!.emit(stream, text, { stage, bytes }) : undefined;
    if (!held) return;
    // A listener is not done with it yet: read nothing more until it is (flow control).
    this.call.pause();
    void held.then(() => this.call.resume());
  }

  fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#detach();
    const mapped = runError(error, this.spec.what, this.options.signal, this.connection);
    if (this.#handle) this.#settle.reject(mapped);
    else this.handleSettle.reject(mapped);
  }

  // The result needs both the OK status and every message read: a held listener can leave
  // messages buffered past the status, and 'end' comes once they are all through.
  onEnd(): void {
    this.#ended = true;
    if (this.#statusOk) this.#finish();
  }

  onStatus(status: StatusObject): void {
    if (status.code !== grpcStatus.OK) return; // 'error' reports it
    this.#statusOk = true;
    if (this.#ended) this.#finish();
  }

  #finish(): void {
    this.#detach();
    const started = this.#started;
    const finished = this.#finished;
    if (!started || !finished) {
      const missing = started ? 'Finished' : 'Started';
      this.fail(
        new AgentError(`${this.spec.what}: the agent ended the call without a ${missing} message`, { reason: 'AGENT_ANSWER_INVALID' }),
      );
      return;
    }
    const compile = finished.compile && stageResult(finished.compile, this.#streams.compile);
    const run = finished.run && stageResult(finished.run, this.#streams.run);
    this.#settle.resolve(runResult(started, compile, run));
  }
}
