// One gRPC channel to one agent, plus what every call needs: the token, deadlines,
// AbortSignal wiring and error mapping. Capability modules (exec, shell, files) use this.
import * as grpc from '@grpc/grpc-js';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { unaryCall, type CallContext } from '../../proto/grpc.js';
import type { DescMethodUnary } from '@bufbuild/protobuf';
import { AbortError } from '../errors.js';
import { cancelCall, cancelOnAbort, throwIfAborted } from './calls.js';
import { fromGrpcError } from './grpc-errors.js';
import type { Target } from './target.js';
import { startVsockProxy, type VsockProxy } from './vsock.js';

/** Options every unary call takes. */
export interface CallOptions {
  /** Cancels the call; the promise rejects with AbortError. */
  signal?: AbortSignal;
  /** Request timeout for unary calls (default: the connection's requestTimeoutMs). */
  requestTimeoutMs?: number;
}

/** Options of a connection (see SandboxOptions). */
export interface ConnectionOptions {
  /** Sent as `authorization: Bearer <token>` on every call; needed when the agent has --token-file. */
  token?: string;
  /** Default request timeout of unary calls, ms (default 30000). Runs have their own timeoutMs. */
  requestTimeoutMs?: number;
}

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 64 << 20,
  'grpc.max_send_message_length': 64 << 20,
  // HTTP/2's default 64 KiB receive window makes the agent wait for a WINDOW_UPDATE every
  // 64 KiB of output; a larger window lets a flood stream at the link's speed.
  'grpc-node.flow_control_window': 8 << 20,
  // A VM that is still booting refuses connections: retry quickly instead of grpc's 1 s..120 s
  // backoff. At most 250 ms apart: a 1 s cap made a boot's readiness show up to a second late.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 250,
  'grpc.min_reconnect_backoff_ms': 100,
  // Keep long quiet runs and idle shells alive through NATs and notice dead peers.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
};

/** One gRPC channel to one agent (and, for vsock targets, its local proxy). Used by Sandbox. */
export class Connection {
  readonly client: grpc.Client;
  /** Replaced by useToken after a Claim; read by every call as it starts. */
  #token: string | undefined;
  readonly #requestTimeoutMs: number;
  readonly #proxy: VsockProxy | undefined;
  /** Streaming calls in flight; close() cancels them, since grpc-js lets calls outlive a closed client. */
  readonly #open = new Set<{ cancel(): void }>();
  #closed = false;

  private constructor(address: string, options: ConnectionOptions, proxy: VsockProxy | undefined) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.#token = options.token;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#proxy = proxy;
  }

  /** Opens a channel to `target`; for vsock it first starts the local handshake proxy. Does not wait for the agent. */
  static async open(target: Target, options: ConnectionOptions = {}): Promise<Connection> {
    switch (target.kind) {
      case 'tcp':
        return new Connection(`${target.host}:${target.port}`, options, undefined);
      case 'unix':
        return new Connection(`unix://${target.path}`, options, undefined);
      case 'vsock': {
        // grpc-js cannot hand-shake Firecracker's CONNECT line itself: a local proxy does it per connection.
        const proxy = await startVsockProxy(target.path, target.port);
        return new Connection(`unix://${proxy.socketPath}`, options, proxy);
      }
    }
  }

  /**
   * Sends `token` on every call from now on (calls already started keep theirs). For Claim
   * (host/lifecycle), which gives the agent a new token.
   */
  useToken(token: string): void {
    this.#token = token;
  }

  /** Metadata (token) and call options; `deadlineMs` undefined = no deadline (streams). */
  context(deadlineMs?: number): CallContext {
    const metadata = new grpc.Metadata();
    if (this.#token !== undefined) metadata.set('authorization', `Bearer ${this.#token}`);
    const options: grpc.CallOptions = {};
    if (deadlineMs !== undefined) options.deadline = Date.now() + deadlineMs;
    return { metadata, options };
  }

  /** A unary call with the request timeout, AbortSignal and typed errors. */
  async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageShape<I>,
    what: string,
    options: CallOptions = {},
  ): Promise<MessageShape<O>> {
    throwIfAborted(options.signal, what);
    const { call, response } = unaryCall(this.client, method, request, this.context(options.requestTimeoutMs ?? this.#requestTimeoutMs));
    const detach = cancelOnAbort(options.signal, call);
    try {
      return await response;
    } catch (error) {
      if (options.signal?.aborted) throw new AbortError(`${what}: aborted`, { cause: error });
      throw fromGrpcError(error, what);
    } finally {
      detach();
    }
  }

  /** Registers a streaming call so close() cancels it; it unregisters itself when it ends. */
  track<C extends { cancel(): void; once(event: 'status', listener: () => void): unknown }>(call: C): C {
    this.#open.add(call);
    call.once('status', () => this.#open.delete(call));
    return call;
  }

  /** close() was called: calls that end now were cut by it. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Cancels open streams, closes the channel and stops the vsock proxy. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const call of [...this.#open]) cancelCall(call);
    this.#open.clear();
    // Let the deferred cancels go out before the channel closes.
    await new Promise((resolve) => setImmediate(resolve));
    this.client.close();
    await this.#proxy?.close();
  }
}
