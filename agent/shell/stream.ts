// One Shell stream: the first message starts or attaches, later ones drive the session; the
// stream ends on exit, detach, takeover (ABORTED) or a refused message, the session lives on.
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import {
  ShellExitedSchema,
  ShellOpenedSchema,
  ShellResponseSchema,
  type ShellRequest,
  type ShellResponse,
} from '../../proto/gen/runbox/v1/shell_pb.js';
import { log } from '../core/log.js';
import { asRpcError, failCall, rpcError, type RpcError } from '../server/errors.js';
import { checkSignal } from '../usercode/signals.js';
import type { ShellRegistry } from './registry.js';
import type { ShellSession, ShellSink } from './session.js';
import { checkSize } from './validate.js';

type Call = grpc.ServerDuplexStream<ShellRequest, ShellResponse>;

const response = (event: ShellResponse['event']) => create(ShellResponseSchema, { event });

/** One Shell stream: the first message starts or attaches, later ones drive the session. */
export function serveStream(call: Call, registry: ShellRegistry): void {
  new ShellStream(call, registry).listen();
}

class ShellStream {
  #session: ShellSession | undefined;
  #ended = false;
  /** The program is behind on input: the call is not read (HTTP/2 flow control holds the client). */
  #inputPaused = false;
  readonly #sink: ShellSink = {
    output: (chunk) => this.call.write(response({ case: 'output', value: chunk })),
    inputResumed: () => {
      if (!this.#inputPaused) return;
      this.#inputPaused = false;
      this.call.resume();
    },
    exited: (exitCode, signal) => {
      if (this.#ended) return;
      this.call.write(response({ case: 'exited', value: create(ShellExitedSchema, { exitCode, signal }) }));
      this.#finish();
    },
    stolen: () => {
      const id = this.#session?.id ?? '';
      this.#finish(rpcError('SHELL_TAKEN_OVER', `shell session ${id}: attached by another client`, { session: id }), false);
    },
  };

  constructor(
    private readonly call: Call,
    private readonly registry: ShellRegistry,
  ) {}

  listen(): void {
    const { call } = this;
    call.on('drain', () => this.#session?.resumeOutput());
    call.on('data', (request: ShellRequest) => {
      if (this.#ended) return;
      try {
        if (this.#session) this.#next(this.#session, request);
        else this.#first(request);
      } catch (error) {
        this.#finish(asRpcError(error));
      }
    });
    // The client half-closed or vanished: same as a detach, the session waits for a re-attach.
    call.on('end', () => this.#finish());
    call.on('cancelled', () => this.#drop());
    // grpc-js emits 'error' on the call when we end it with a status; nothing more to do then.
    call.on('error', () => this.#drop());
  }

  /** The stream is gone without a word to send: the session waits for a re-attach. */
  #drop(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#detachSession();
  }

  #detachSession(): void {
    if (!this.#session) return;
    this.#session.detach(this.#sink);
    this.registry.detached(this.#session);
  }

  /** Ends this stream (OK or with `error`); the session, if any, goes on without it. */
  #finish(error?: RpcError, detach = true): void {
    if (this.#ended) return;
    this.#ended = true;
    if (detach) this.#detachSession();
    if (error) failCall(this.call, error);
    else this.call.end();
  }

  #open(s: ShellSession, replay?: { replay: Buffer; truncated: boolean }): void {
    this.#session = s;
    const value = create(ShellOpenedSchema, {
      sessionId: s.id,
      pid: s.pid,
      replay: replay?.replay ?? new Uint8Array(),
      replayTruncated: replay?.truncated ?? false,
    });
    this.call.write(response({ case: 'opened', value }));
  }

  #first(request: ShellRequest): void {
    const event = request.event;
    if (event.case === 'start') {
      const s = this.registry.start({ ...event.value, command: [...event.value.command], env: { ...event.value.env } });
      this.#open(s);
      s.attach(this.#sink);
      this.registry.attached(s);
    } else if (event.case === 'attach') {
      const s = this.registry.get(event.value.sessionId);
      const replay = s.attach(this.#sink);
      this.registry.attached(s);
      this.#open(s, replay);
      // It ended while nobody watched: the client learns how, and the session is done.
      if (s.exit) {
        this.registry.remove(s, 'exit collected');
        this.#sink.exited(s.exit.exitCode, s.exit.signal);
      }
    } else {
      throw rpcError('MESSAGE_UNEXPECTED', `the first ShellRequest must be start or attach, got ${event.case ?? 'an empty event'}`, {
        field: 'start',
      });
    }
  }

  #next(s: ShellSession, request: ShellRequest): void {
    const event = request.event;
    switch (event.case) {
      case 'input':
        if (!s.write(event.value) && !this.#inputPaused) {
          // Later messages (resize, signal, detach) wait behind the input, in order.
          this.#inputPaused = true;
          this.call.pause();
        }
        return;
      case 'resize':
        checkSize('resize', event.value.cols, event.value.rows);
        s.resize(event.value.cols, event.value.rows);
        return;
      case 'signal':
        s.signal(checkSignal('signal', event.value));
        return;
      case 'detach':
        this.#finish();
        return;
      case 'terminate':
        // The pty's exit then ends this stream with `exited`, like any other exit.
        log.info('shell.terminate', { session: s.id });
        s.hangUp();
        return;
      default:
        throw rpcError(
          'MESSAGE_UNEXPECTED',
          `${event.case ?? 'an empty event'}: only the first ShellRequest may start or attach; later ones are input, resize, signal, detach or terminate`,
          { field: event.case ?? 'event' },
        );
    }
  }
}
