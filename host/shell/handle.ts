// ShellHandle: one open stream to a shell session (output, input, resize, signals, detach).
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import {
  ShellDetachSchema,
  ShellRequestSchema,
  ShellResizeSchema,
  ShellTerminateSchema,
  type ShellRequest,
  type ShellResponse,
} from '../../proto/gen/runbox/v1/shell_pb.js';
import { InvalidArgumentError } from '../errors.js';
import { checkSize, type ShellExit } from './types.js';

export type ShellStream = grpc.ClientDuplexStream<ShellRequest, ShellResponse>;

/**
 * An open shell session. Output arrives as raw bytes through onData (bytes that arrive
 * before the first listener are kept for it). The stream ends with wait(): the exit of
 * the shell, or a rejection when the stream ended first (detach, dropped link, taken over
 * by another attach) — the session may then still be alive: attach again by `id`.
 */
export class ShellHandle {
  readonly id: string;
  readonly pid: number;
  /** On attach: recent output (at most 64 KiB) to redraw the screen with. */
  readonly replay: Uint8Array;
  /** Older output than `replay` was dropped. */
  readonly replayTruncated: boolean;
  readonly #stream: ShellStream;
  readonly #listeners = new Set<(data: Uint8Array) => void>();
  #early: Uint8Array[] = [];
  #closed = false;
  readonly #ended: Promise<ShellExit>;

  /** @internal Built by ShellApi once the agent confirmed the session. */
  constructor(
    stream: ShellStream,
    opened: { sessionId: string; pid: number; replay: Uint8Array; replayTruncated: boolean },
    ended: Promise<ShellExit>,
    onOutput: (deliver: (data: Uint8Array) => void) => void,
  ) {
    this.id = opened.sessionId;
    this.pid = opened.pid;
    this.replay = opened.replay;
    this.replayTruncated = opened.replayTruncated;
    this.#stream = stream;
    this.#ended = ended;
    ended.then(
      () => (this.#closed = true),
      () => (this.#closed = true),
    );
    onOutput((data) => {
      if (this.#listeners.size === 0) this.#early.push(data);
      else for (const listener of this.#listeners) listener(data);
    });
  }

  /** Calls `listener` with every chunk of output; returns a function that removes it. */
  onData(listener: (data: Uint8Array) => void): () => void {
    this.#listeners.add(listener);
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) listener(chunk);
    return () => this.#listeners.delete(listener);
  }

  #send(event: ShellRequest['event'], what: string): void {
    if (this.#closed)
      throw new InvalidArgumentError(
        `shell ${this.id}: ${what} after the stream ended (the shell exited or was detached); attach again to continue`,
        { reason: 'SHELL_STREAM_ENDED' },
      );
    this.#stream.write(create(ShellRequestSchema, { event }));
  }

  /** Types into the terminal: strings are sent as UTF-8. */
  write(data: string | Uint8Array): void {
    this.#send({ case: 'input', value: typeof data === 'string' ? new TextEncoder().encode(data) : data }, 'write');
  }

  /** Resizes the pty (cols 1-2000, rows 1-1000; InvalidArgumentError otherwise, nothing sent). */
  resize(cols: number, rows: number): void {
    checkSize(cols, rows);
    this.#send({ case: 'resize', value: create(ShellResizeSchema, { cols, rows }) }, 'resize');
  }

  /**
   * Sends a signal to the terminal's foreground process group: the running job, or the
   * shell itself at its prompt. `signal('SIGINT')` is what Ctrl-C does.
   */
  signal(name: string): void {
    this.#send({ case: 'signal', value: name }, 'signal');
  }

  /**
   * Ends the whole session now: every process in it gets SIGHUP (and SIGCONT), then SIGKILL
   * shortly after, whatever is in the foreground. `wait()` then resolves with the exit.
   */
  kill(): void {
    this.#send({ case: 'terminate', value: create(ShellTerminateSchema) }, 'kill');
  }

  /** Resolves with the shell's exit; rejects if the stream ends first (see the class comment). */
  wait(): Promise<ShellExit> {
    return this.#ended;
  }

  /** Ends this stream and leaves the session running for the agent's grace period. */
  async detach(): Promise<void> {
    if (this.#closed) return;
    this.#stream.write(create(ShellRequestSchema, { event: { case: 'detach', value: create(ShellDetachSchema) } }));
    this.#stream.end();
    await this.#ended.catch(() => undefined);
  }
}
