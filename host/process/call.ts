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
import { fromGrpcError } from '../transport/grpc-errors.js';
import { StreamCollector } from './collect.js';
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

const newStreams = (): Streams => ({
  compile: { stdout: new StreamCollector(), stderr: new StreamCollector() },
  run: { stdout: new StreamCollector(), stderr: new StreamCollector() },
});

/** Keeps at most `limit` bytes per stream and stage, as the agent promised (0: it named none). */
function limitStreams(streams: Streams, limit: number): void {
  if (limit <= 0) return;
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
  const { what } = spec;
  throwIfAborted(options.signal, what);
  const call = connection.track(spec.open());
  const detach = cancelOnAbort(options.signal, call);
  const streams = newStreams();
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
      const mapped = runError(error, what, options.signal, connection);
      if (handle) settle.reject(mapped);
      else rejectHandle(mapped);
    };

    call.on('data', (response: RunResponse) => {
      const event = response.event;
      switch (event.case) {
        case 'started':
          started = event.value;
          limitStreams(streams, Number(started.limits?.outputLimitBytes ?? 0n));
          handle = new ProcessHandle(call, spec.input, started, done);
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
    call.on('status', (status: StatusObject) => {
      if (status.code !== grpcStatus.OK) return; // 'error' reports it
      detach();
      if (!started || !finished) {
        fail(
          new AgentError(`${what}: the agent ended the call without a ${started ? 'Finished' : 'Started'} message`, {
            reason: 'AGENT_ANSWER_INVALID',
          }),
        );
        return;
      }
      const compile = finished.compile && stageResult(finished.compile, streams.compile);
      const run = finished.run && stageResult(finished.run, streams.run);
      settle.resolve(runResult(started, compile, run));
    });
    // The write side stays open after `start`: kill(), sendStdin() and closeStdin() may follow.
    call.write(spec.startRequest);
  });
}
