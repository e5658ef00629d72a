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

/** @internal The call a ShellHandle wraps (grpc-js: not part of the public types). */
export type ShellStream = grpc.ClientDuplexStream<ShellRequest, ShellResponse>;

/** Input goes out in messages of at most this: the agent reads ahead a few messages per stream. */
const INPUT_CHUNK_BYTES = 64 * 1024;
/** detach() waits this long for the agent to take the input ahead of it, then cancels the call. */
const DETACH_WAIT_MS = 5_000;

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
  /** drained() calls waiting for 'drain' or the end of the stream. */
  #drainWaiters = new Set<() => void>();

  /** Not public: `sb.shells.open()` or `attach()` makes a ShellHandle. */
  constructor(...internal: [never, never, never, never]);
  /** @internal Built by ShellApi once the agent confirmed the session. */
  constructor(
    stream: ShellStream,
    opened: { sessionId: string; pid: number; replay: Uint8Array; replayTruncated: boolean },
    ended: Promise<ShellExit>,
    onOutput: (deliver: (data: Uint8Array) => void) => void,
  );
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
    const close = () => {
      this.#closed = true;
      this.#releaseDrainWaiters();
    };
    ended.then(close, close);
    stream.on('drain', () => this.#releaseDrainWaiters());
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

  #checkOpen(what: string): void {
    if (this.#closed)
      throw new InvalidArgumentError(
        `shell ${this.id}: ${what} after the stream ended (the shell exited or was detached); attach again to continue`,
        { reason: 'SHELL_STREAM_ENDED' },
      );
  }

  #send(event: ShellRequest['event'], what: string): boolean {
    this.#checkOpen(what);
    return this.#stream.write(create(ShellRequestSchema, { event }));
  }

  #releaseDrainWaiters(): void {
    const waiters = [...this.#drainWaiters];
    this.#drainWaiters.clear();
    for (const resolve of waiters) resolve();
  }

  /**
   * Types into the terminal: strings are sent as UTF-8. Nothing is dropped; false means the
   * input backs up (the program is not reading it, or the link is slow): wait for drained()
   * before writing more, and memory stays bounded on both sides.
   */
  write(data: string | Uint8Array): boolean {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.#checkOpen('write');
    let more = !this.#stream.writableNeedDrain;
    for (let at = 0; at < bytes.length; at += INPUT_CHUNK_BYTES) {
      more = this.#send({ case: 'input', value: bytes.subarray(at, at + INPUT_CHUNK_BYTES) }, 'write');
    }
    return more;
  }

  /** Resolves when write() may go on (at once unless it returned false), or when the stream ended. */
  drained(): Promise<void> {
    if (this.#closed || !this.#stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.add(resolve));
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
   * Like resize() and signal(), it goes behind the input written before it: when the program
   * does not read that, kill from a new stream (`(await sb.shells.attach(id)).kill()`).
   */
  kill(): void {
    this.#send({ case: 'terminate', value: create(ShellTerminateSchema) }, 'kill');
  }

  /** Resolves with the shell's exit; rejects if the stream ends first (see the class comment). */
  wait(): Promise<ShellExit> {
    return this.#ended;
  }

  /**
   * Ends this stream and leaves the session running for the agent's grace period. The detach
   * goes behind the input written before it; if the agent has not taken that within 5 s (the
   * program is not reading), the call is cancelled instead and the input still in it is dropped.
   */
  async detach(): Promise<void> {
    if (this.#closed) return;
    this.#stream.write(create(ShellRequestSchema, { event: { case: 'detach', value: create(ShellDetachSchema) } }));
    this.#stream.end();
    const ended = this.#ended.then(
      () => true,
      () => true,
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), DETACH_WAIT_MS)));
    if (!(await Promise.race([ended, late]))) this.#stream.cancel();
    clearTimeout(timer);
    await ended;
  }
}
