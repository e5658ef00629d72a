// ShellService: interactive shells on a pty, as the run-as user. Sessions outlive their
// streams for a grace period (re-attach by id, with a replay of recent output); after it
// they are hung up. Attaching to a session that another stream holds takes it over: the
// older stream ends with ABORTED (a user reconnecting over a flaky link must win against
// their own half-dead connection).
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import type { ImplementationOf } from '../../proto/grpc.js';
import {
  ListShellsResponseSchema,
  ShellExitedSchema,
  ShellOpenedSchema,
  ShellResponseSchema,
  ShellSessionSchema,
  type ShellRequest,
  type ShellResponse,
  type ShellService,
} from '../../proto/gen/runbox/v1/shell_pb.js';
import type { AgentContext, Killable } from '../core/context.js';
import { ShellSession, type ShellSink } from './session.js';
import { checkSignal, checkSize, checkStart } from './validate.js';
import { StatusError, invalidArgument, notFound, resourceExhausted, toServiceError } from '../server/errors.js';
import { log } from '../core/log.js';


type Call = grpc.ServerDuplexStream<ShellRequest, ShellResponse>;

/** The agent's sessions, their grace timers and their place in ctx.live. */
class ShellRegistry {
  readonly #sessions = new Map<string, { session: ShellSession; killable: Killable; grace?: NodeJS.Timeout }>();
  constructor(private readonly ctx: AgentContext) {}

  list(): ShellSession[] {
    return [...this.#sessions.values()].map((e) => e.session);
  }

  start(request: Parameters<typeof checkStart>[0]): ShellSession {
    checkStart(request);
    if (this.#sessions.size >= this.ctx.config.maxShells) {
      throw resourceExhausted(`${this.#sessions.size} shell sessions are open, the most this agent keeps (--max-shells); close or detach-and-expire one`);
    }
    let session: ShellSession;
    try {
      session = new ShellSession(this.ctx.runAs, this.ctx.userEnv, request, (s) => this.#exited(s));
    } catch (error) {
      throw new StatusError(grpc.status.FAILED_PRECONDITION, `start.command ${JSON.stringify(request.command)}: could not start on a pty: ${(error as Error).message}`);
    }
    const killable: Killable = { kill: () => this.remove(session, 'agent stopping') };
    this.#sessions.set(session.id, { session, killable });
    this.ctx.live.add(killable);
    log.info('shell.started', { session: session.id, pid: session.pid, cols: request.cols, rows: request.rows });
    return session;
  }

  get(id: string): ShellSession {
    const entry = this.#sessions.get(id);
    if (!entry) throw notFound(`shell session ${JSON.stringify(id)} does not exist (it exited, or its ${this.ctx.config.shellGraceMs} ms grace period ran out); ListShells shows the live ones`);
    return entry.session;
  }

  attached(session: ShellSession): void {
    const entry = this.#sessions.get(session.id);
    if (entry?.grace) clearTimeout(entry.grace);
    if (entry) entry.grace = undefined;
  }

  /** No client any more: the session lives on for the grace period. */
  detached(session: ShellSession): void {
    const entry = this.#sessions.get(session.id);
    if (!entry || session.attached) return;
    if (entry.grace) clearTimeout(entry.grace);
    entry.grace = setTimeout(() => this.remove(session, 'grace period over'), this.ctx.config.shellGraceMs);
    log.info('shell.detached', { session: session.id, grace_ms: this.ctx.config.shellGraceMs });
  }

  #exited(session: ShellSession): void {
    log.info('shell.exited', { session: session.id, exit_code: session.exit?.exitCode, signal: session.exit?.signal || undefined });
    // An exit seen by its client is final; one nobody saw stays for re-attach until the grace runs out.
    if (session.attached) this.remove(session, 'exited');
  }

  remove(session: ShellSession, reason: string): void {
    const entry = this.#sessions.get(session.id);
    if (!entry) return;
    if (entry.grace) clearTimeout(entry.grace);
    this.#sessions.delete(session.id);
    this.ctx.live.delete(entry.killable);
    session.hangUp();
    log.info('shell.closed', { session: session.id, reason });
  }
}

const response = (event: ShellResponse['event']) => create(ShellResponseSchema, { event });

/** One Shell stream: the first message starts or attaches, later ones drive the session. */
function serveStream(call: Call, registry: ShellRegistry): void {
  let session: ShellSession | undefined;
  let ended = false;

  const sink: ShellSink = {
    output: (chunk) => call.write(response({ case: 'output', value: chunk })),
    exited: (exitCode, signal) => {
      if (ended) return;
      call.write(response({ case: 'exited', value: create(ShellExitedSchema, { exitCode, signal }) }));
      finish();
    },
    stolen: () => finish(new StatusError(grpc.status.ABORTED, `shell session ${session?.id}: attached by another client`), false),
  };
  call.on('drain', () => session?.resumeOutput());

  /** Ends this stream (OK or with `error`); the session, if any, goes on without it. */
  function finish(error?: StatusError, detach = true): void {
    if (ended) return;
    ended = true;
    if (session && detach) {
      session.detach(sink);
      registry.detached(session);
    }
    if (error) call.emit('error', toServiceError(error));
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
      throw invalidArgument(`the first ShellRequest must be start or attach, got ${event.case ?? 'an empty event'}`);
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
        s.signal(checkSignal(event.value));
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
        throw invalidArgument(`${event.case ?? 'an empty event'}: only the first ShellRequest may start or attach; later ones are input, resize, signal, detach or terminate`);
    }
  }

  call.on('data', (request: ShellRequest) => {
    if (ended) return;
    try {
      if (session) next(session, request);
      else first(request);
    } catch (error) {
      finish(error instanceof StatusError ? error : new StatusError(grpc.status.INTERNAL, (error as Error).message));
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

export function shellService(ctx: AgentContext): ImplementationOf<typeof ShellService> {
  const registry = new ShellRegistry(ctx);
  return {
    shell: (call) => serveStream(call, registry),
    listShells: (_call, callback) => {
      callback(
        null,
        create(ListShellsResponseSchema, {
          sessions: registry.list().map((s) =>
            create(ShellSessionSchema, { sessionId: s.id, pid: s.pid, cols: s.cols, rows: s.rows, attached: s.attached, command: s.command }),
          ),
        }),
      );
    },
  };
}
