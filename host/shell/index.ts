// Host side of ShellService: `sb.shells.open()` starts a session on a pty, `sb.shells.attach(id)`
// re-attaches after a dropped link (with a replay of recent output), `sb.shells.list()`.
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { bidiCall } from '../../proto/grpc.js';
import {
  ListShellsRequestSchema,
  ShellAttachSchema,
  ShellRequestSchema,
  ShellService,
  ShellStartSchema,
  type ShellRequest,
  type ShellResponse,
} from '../../proto/gen/runbox/v1/shell_pb.js';
import { AbortError, AgentError, type RunboxError } from '../errors.js';
import { cancelOnAbort, throwIfAborted } from '../transport/calls.js';
import type { CallOptions, Connection } from '../transport/connection.js';
import { fromGrpcError } from '../transport/grpc-errors.js';
import { ShellHandle } from './handle.js';
import { checkSize, type AttachOptions, type ShellExit, type ShellOptions, type ShellSessionInfo } from './types.js';

export type * from './types.js';
export { SHELL_MAX_COLS, SHELL_MAX_ROWS } from './types.js';
export { ShellHandle } from './handle.js';

/** The shell capability of a Sandbox: `sb.shells.open()`, `sb.shells.attach()`, `sb.shells.list()`. */
export class ShellApi {
  readonly #connection: Connection;

  /** Not public: a Sandbox has one. */
  constructor(internal: never);
  /** @internal Created by Sandbox. */
  constructor(connection: Connection);
  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /** Opens a new session: `const sh = await sb.shells.open({ cols: 120, rows: 40 })`. */
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
    const r = await this.#connection.unary(ShellService.method.listShells, create(ListShellsRequestSchema), 'shell list', options);
    return r.sessions.map((s) => ({
      id: s.sessionId,
      pid: s.pid,
      cols: s.cols,
      rows: s.rows,
      attached: s.attached,
      command: [...s.command],
    }));
  }

  #connect(what: string, signal: AbortSignal | undefined, first: ShellRequest['event']): Promise<ShellHandle> {
    throwIfAborted(signal, what);
    const stream = this.#connection.track(bidiCall(this.#connection.client, ShellService.method.shell, this.#connection.context()));
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
      else
        settleEnd.reject(
          new AgentError(`${what}: the stream ended before the shell exited (detached); the session can be attached again by id`),
        );
      if (!handle) settleOpen.reject(new AgentError(`${what}: the agent ended the stream without opening a session`));
    });
    stream.write(create(ShellRequestSchema, { event: first }));
    return opened;
  }
}
