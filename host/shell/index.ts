// Host side of ShellService: `sb.shell()` opens a session on a pty, `sb.shells.attach(id)`
// re-attaches after a dropped link (with a replay of recent output), `sb.shells.list()`.
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { bidiCall } from '../../proto/grpc.js';
import {
  ListShellsRequestSchema,
  ShellAttachSchema,
  ShellDetachSchema,
  ShellTerminateSchema,
  ShellRequestSchema,
  ShellResizeSchema,
  ShellService,
  ShellStartSchema,
  type ShellRequest,
  type ShellResponse,
} from '../../proto/gen/runbox/v1/shell_pb.js';
import { cancelOnAbort, throwIfAborted, type CallOptions, type Connection } from '../transport/connection.js';
import { AbortError, AgentError, InvalidArgumentError, RunboxError } from '../errors.js';
import { fromGrpcError } from '../transport/grpc-errors.js';

/** The agent's limit on terminal columns (agent/shell/validate.ts). */
export const SHELL_MAX_COLS = 2000;
/** The agent's limit on terminal rows (agent/shell/validate.ts). */
export const SHELL_MAX_ROWS = 1000;

/** Options of `sb.shell()`. */
export interface ShellOptions {
  /** Terminal size (default 80×24). */
  cols?: number;
  rows?: number;
  /** argv to run instead of the user's login shell. */
  command?: string[];
  env?: Record<string, string>;
  /** Working directory (default: the user's home). */
  cwd?: string;
  /** TERM (default xterm-256color). */
  term?: string;
  /** Aborting ends this stream; the session lives on for the agent's grace period. */
  signal?: AbortSignal;
}

/** Options of `sb.shells.attach()`. */
export interface AttachOptions {
  signal?: AbortSignal;
}

/** How a shell session's program ended. */
export interface ShellExit {
  exitCode: number;
  /** Signal name when the shell died of a signal, else ''. */
  signal: string;
}

/** A live session as `sb.shells.list()` reports it. */
export interface ShellSessionInfo {
  id: string;
  pid: number;
  cols: number;
  rows: number;
  attached: boolean;
  command: string[];
}

type Stream = grpc.ClientDuplexStream<ShellRequest, ShellResponse>;

function checkSize(cols: number, rows: number): void {
  if (!Number.isInteger(cols) || cols < 1 || cols > SHELL_MAX_COLS) {
    throw new InvalidArgumentError(`shell: cols ${cols}: must be an integer 1-${SHELL_MAX_COLS}`);
  }
  if (!Number.isInteger(rows) || rows < 1 || rows > SHELL_MAX_ROWS) {
    throw new InvalidArgumentError(`shell: rows ${rows}: must be an integer 1-${SHELL_MAX_ROWS}`);
  }
}

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
  readonly #stream: Stream;
  readonly #listeners = new Set<(data: Uint8Array) => void>();
  #early: Uint8Array[] = [];
  #closed = false;
  readonly #ended: Promise<ShellExit>;

  /** @internal Built by ShellApi once the agent confirmed the session. */
  constructor(stream: Stream, opened: { sessionId: string; pid: number; replay: Uint8Array; replayTruncated: boolean }, ended: Promise<ShellExit>, onOutput: (deliver: (data: Uint8Array) => void) => void) {
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
    if (this.#closed) throw new InvalidArgumentError(`shell ${this.id}: ${what} after the stream ended (the shell exited or was detached); attach again to continue`);
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

/** The shell capability of a Sandbox: `sb.shell()` (= open), `sb.shells.attach()`, `sb.shells.list()`. */
export class ShellApi {
  constructor(readonly connection: Connection) {}

  /** Opens a new session: `const sh = await sb.shell({ cols: 120, rows: 40 })`. */
  async open(options: ShellOptions = {}): Promise<ShellHandle> {
    const cols = options.cols ?? 80;
    const rows = options.rows ?? 24;
    checkSize(cols, rows);
    const start = create(ShellStartSchema, {
      cols,
      rows,
      command: options.command ?? [],
      env: options.env ?? {},
      cwd: options.cwd ?? '',
      term: options.term ?? '',
    });
    return this.#connect('shell', options.signal, { case: 'start', value: start });
  }

  /** Re-attaches to a live session by id; its `replay` holds the most recent output. */
  async attach(sessionId: string, options: AttachOptions = {}): Promise<ShellHandle> {
    return this.#connect(`shell attach ${sessionId}`, options.signal, {
      case: 'attach',
      value: create(ShellAttachSchema, { sessionId }),
    });
  }

  /** Live sessions, attached or waiting out their grace period. */
  async list(options: CallOptions = {}): Promise<ShellSessionInfo[]> {
    const r = await this.connection.unary(ShellService.method.listShells, create(ListShellsRequestSchema), 'shell list', options);
    return r.sessions.map((s) => ({ id: s.sessionId, pid: s.pid, cols: s.cols, rows: s.rows, attached: s.attached, command: [...s.command] }));
  }

  #connect(what: string, signal: AbortSignal | undefined, first: ShellRequest['event']): Promise<ShellHandle> {
    throwIfAborted(signal, what);
    const stream = this.connection.track(bidiCall(this.connection.client, ShellService.method.shell, this.connection.context()));
    const detachAbort = cancelOnAbort(signal, stream);
    let deliver: (data: Uint8Array) => void = () => {};
    let exit: ShellExit | undefined;
    let settleOpen!: { resolve: (h: ShellHandle) => void; reject: (e: RunboxError) => void };
    let settleEnd!: { resolve: (e: ShellExit) => void; reject: (e: RunboxError) => void };
    const opened = new Promise<ShellHandle>((resolve, reject) => (settleOpen = { resolve, reject }));
    const ended = new Promise<ShellExit>((resolve, reject) => (settleEnd = { resolve, reject }));
    ended.catch(() => undefined); // a caller that never waits must not see an unhandled rejection
    let handle: ShellHandle | undefined;

    const fail = (error: RunboxError) => {
      detachAbort();
      settleOpen.reject(error);
      settleEnd.reject(error);
    };
    stream.on('data', (response: ShellResponse) => {
      const event = response.event;
      if (event.case === 'opened') {
        handle = new ShellHandle(stream, event.value, ended, (d) => (deliver = d));
        settleOpen.resolve(handle);
      } else if (event.case === 'output') deliver(event.value);
      else if (event.case === 'exited') exit = { exitCode: event.value.exitCode, signal: event.value.signal };
    });
    stream.on('error', (error: grpc.ServiceError) => {
      if (signal?.aborted) fail(new AbortError(`${what}: aborted; the session lives on for the agent's grace period`, { cause: error }));
      else fail(fromGrpcError(error, what));
    });
    stream.on('end', () => {
      detachAbort();
      if (exit) settleEnd.resolve(exit);
      else settleEnd.reject(new AgentError(`${what}: the stream ended before the shell exited (detached); the session can be attached again by id`));
      if (!handle) settleOpen.reject(new AgentError(`${what}: the agent ended the stream without opening a session`));
    });
    stream.write(create(ShellRequestSchema, { event: first }));
    return opened;
  }
}
