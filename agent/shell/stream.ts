// One Shell stream: the first message starts or attaches, later ones drive the session; the
// stream ends on exit, detach, takeover (ABORTED) or a refused message, the session lives on.
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { ShellExitedSchema, ShellOpenedSchema, ShellResponseSchema, type ShellRequest, type ShellResponse } from '../../proto/gen/runbox/v1/shell_pb.js';
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
  let session: ShellSession | undefined;
  let ended = false;

  const sink: ShellSink = {
    output: (chunk) => call.write(response({ case: 'output', value: chunk })),
    exited: (exitCode, signal) => {
      if (ended) return;
      call.write(response({ case: 'exited', value: create(ShellExitedSchema, { exitCode, signal }) }));
      finish();
    },
    stolen: () => finish(rpcError('SHELL_TAKEN_OVER', `shell session ${session?.id}: attached by another client`, { session: session?.id ?? '' }), false),
  };
  call.on('drain', () => session?.resumeOutput());

  /** Ends this stream (OK or with `error`); the session, if any, goes on without it. */
  function finish(error?: RpcError, detach = true): void {
    if (ended) return;
    ended = true;
    if (session && detach) {
      session.detach(sink);
      registry.detached(session);
    }
    if (error) failCall(call, error);
    else call.end();
  }

  function open(s: ShellSession, replay?: { replay: Buffer; truncated: boolean }): void {
    session = s;
    call.write(
      response({
        case: 'opened',
        value: create(ShellOpenedSchema, {
          sessionId: s.id,
          pid: s.pid,
          replay: replay?.replay ?? new Uint8Array(),
          replayTruncated: replay?.truncated ?? false,
        }),
      }),
    );
  }

  function first(request: ShellRequest): void {
    const event = request.event;
    if (event.case === 'start') {
      const s = registry.start({ ...event.value, command: [...event.value.command], env: { ...event.value.env } });
      open(s);
      s.attach(sink);
      registry.attached(s);
    } else if (event.case === 'attach') {
      const s = registry.get(event.value.sessionId);
      const replay = s.attach(sink);
      registry.attached(s);
      open(s, replay);
      // It ended while nobody watched: the client learns how, and the session is done.
      if (s.exit) {
        registry.remove(s, 'exit collected');
        sink.exited(s.exit.exitCode, s.exit.signal);
      }
    } else {
      throw rpcError('MESSAGE_UNEXPECTED', `the first ShellRequest must be start or attach, got ${event.case ?? 'an empty event'}`, { field: 'start' });
    }
  }

  function next(s: ShellSession, request: ShellRequest): void {
    const event = request.event;
    switch (event.case) {
      case 'input':
        s.write(event.value);
        return;
      case 'resize':
        checkSize('resize', event.value.cols, event.value.rows);
        s.resize(event.value.cols, event.value.rows);
        return;
      case 'signal':
        s.signal(checkSignal('signal', event.value));
        return;
      case 'detach':
        finish();
        return;
      case 'terminate':
        // The pty's exit then ends this stream with `exited`, like any other exit.
        log.info('shell.terminate', { session: s.id });
        s.hangUp();
        return;
      default:
        throw rpcError('MESSAGE_UNEXPECTED', `${event.case ?? 'an empty event'}: only the first ShellRequest may start or attach; later ones are input, resize, signal, detach or terminate`, {
          field: event.case ?? 'event',
        });
    }
  }

  call.on('data', (request: ShellRequest) => {
    if (ended) return;
    try {
      if (session) next(session, request);
      else first(request);
    } catch (error) {
      finish(asRpcError(error));
    }
  });
  // The client half-closed or vanished: same as a detach, the session waits for a re-attach.
  call.on('end', () => finish());
  call.on('cancelled', () => {
    if (ended) return;
    ended = true;
    if (session) {
      session.detach(sink);
      registry.detached(session);
    }
  });
  // grpc-js emits 'error' on the call when we end it with a status; nothing more to do then.
  call.on('error', () => {
    if (!ended && session) {
      ended = true;
      session.detach(sink);
      registry.detached(session);
    }
  });
}
