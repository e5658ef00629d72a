// ProcessHandle: a run in progress (background runs): stdin, signals, output listeners, wait().
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import {
  ProcessInputSchema,
  type ExecResponse,
  type ProcessInput,
  type RunCodeResponse,
  type Started,
} from '../../proto/gen/runbox/v1/process_pb.js';
import { cancelCall } from '../transport/calls.js';
import { toBytes } from './request.js';
import { effectiveLimits } from './result.js';
import type { EffectiveLimits, OutputChunk, OutputListener, RunResult } from './types.js';

export type RunResponse = RunCodeResponse | ExecResponse;
/** @internal The call a ProcessHandle wraps (grpc-js: not part of the public types). */
export type RunCall = grpc.ClientDuplexStream<unknown, RunResponse>;

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
  readonly #call: RunCall;
  readonly #input: (value: ProcessInput) => unknown;
  readonly #done: Promise<RunResult>;

  /** Not public: `runCode`/`exec` with `background: true` give a ProcessHandle. */
  constructor(...internal: [never, never, never, never]);
  /** @internal Created by ProcessApi. */
  constructor(call: RunCall, input: (value: ProcessInput) => unknown, started: Started, done: Promise<RunResult>);
  constructor(call: RunCall, input: (value: ProcessInput) => unknown, started: Started, done: Promise<RunResult>) {
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

  /** @internal Calls the listeners; a Promise when one of them asked to hold output until it settles. */
  emit(stream: 'stdout' | 'stderr', text: string, chunk: OutputChunk): Promise<unknown> | undefined {
    let held: Promise<unknown>[] | undefined;
    for (const listener of this.#listeners[stream]) {
      const result = listener(text, chunk);
      if (result instanceof Promise) (held ??= []).push(result);
    }
    return held && Promise.allSettled(held);
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

/** Streams an async source into the program's stdin, then closes it. */
export async function pump(handle: ProcessHandle, source: AsyncIterable<string | Uint8Array>): Promise<void> {
  try {
    for await (const chunk of source) await handle.sendStdin(chunk);
  } catch {
    /* the source failed: give the program end-of-file rather than hang */
  }
  handle.closeStdin();
}
