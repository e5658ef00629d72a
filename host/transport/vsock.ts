// Firecracker "hybrid vsock" on the host side. Firecracker (and Cloud Hypervisor) expose a guest's
// vsock device as ONE Unix socket: a host client connects, sends `CONNECT <port>\n`, and reads back
// `OK <host port>\n`; from then on the socket carries the guest connection's bytes. With no listener
// on that guest port the VMM closes the socket without an OK (the guest is still booting, or its
// bridge is down), so the handshake is retried with backoff until a deadline.
//
// grpc-js dials only TCP and Unix sockets and has no hook for a custom socket, so startVsockProxy
// runs a private local Unix-socket server: every connection grpc-js opens to it is handshaken with
// the VMM and then piped both ways. See docs/vsock.md.
import net from 'node:net';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SandboxUnavailableError } from '../errors.js';

export interface VsockProxy {
  /** A local Unix socket path; each connection to it is bridged to the guest's vsock port. */
  readonly socketPath: string;
  /** The most recent handshake failure (why the last bridged connection was refused), if any. */
  readonly lastError: VsockError | undefined;
  close(): Promise<void>;
}

export interface VsockProxyOptions {
  /** How long one connection keeps retrying a guest that has no listener yet (default 5000). */
  connectTimeoutMs?: number;
  /** How long one attempt waits for the `OK` line once `CONNECT` was sent (default 2000). */
  handshakeTimeoutMs?: number;
  /** Told about every connection that could not be bridged (the grpc client only sees it close). */
  onError?: (error: VsockError) => void;
}

export type VsockErrorKind =
  /** The VMM's socket is missing or refuses connections: no VM behind the path. */
  | 'no-vmm'
  /** The VMM closed the socket without `OK`: nothing listens on the guest port (yet). */
  | 'no-listener'
  /** No `OK` line within handshakeTimeoutMs. */
  | 'timeout'
  /** The answer was not `OK <port>\n`: not a hybrid-vsock socket, or a different protocol. */
  | 'protocol'
  | 'aborted';

/** A vsock connection could not be established; `kind` says why. */
export class VsockError extends SandboxUnavailableError {
  readonly kind: VsockErrorKind;
  readonly attempts: number;
  constructor(kind: VsockErrorKind, message: string, attempts: number, options?: { cause?: unknown }) {
    super(message, { reason: `VSOCK_${kind.replace('-', '_').toUpperCase()}`, ...options });
    this.kind = kind;
    this.attempts = attempts;
  }
}

/** An established hybrid-vsock stream: `socket` is paused and holds any bytes that followed `OK`. */
export interface VsockStream {
  socket: net.Socket;
  /** The host-side port number the VMM reported in `OK <port>`. */
  hostPort: number;
  attempts: number;
}

export interface VsockConnectOptions {
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  signal?: AbortSignal;
}

/** `OK <port>` is short; a longer line without a newline is not Firecracker talking. */
const MAX_ANSWER_BYTES = 64;
const OK_LINE = /^OK (\d{1,10})$/;

type Attempt = { ok: true; socket: net.Socket; hostPort: number } | { ok: false; kind: Exclude<VsockErrorKind, 'aborted'>; detail: string };

/** One connect + CONNECT/OK exchange. Never throws: the caller decides whether to retry. */
function attempt(udsPath: string, port: number, handshakeTimeoutMs: number, signal: AbortSignal | undefined): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = net.connect(udsPath);
    let answer = Buffer.alloc(0);
    let connected = false;
    let settled = false;
    const finish = (result: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      if (!result.ok) socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ ok: false, kind: 'timeout', detail: 'aborted' });
    const timer = setTimeout(
      () => finish({ ok: false, kind: 'timeout', detail: `no answer to CONNECT ${port} within ${handshakeTimeoutMs} ms` }),
      handshakeTimeoutMs,
    );
    const onData = (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      const newline = answer.indexOf(0x0a);
      if (newline < 0) {
        if (answer.length > MAX_ANSWER_BYTES) finish({ ok: false, kind: 'protocol', detail: `answer ${printable(answer)} has no newline` });
        return;
      }
      const line = answer.subarray(0, newline).toString('latin1');
      const match = OK_LINE.exec(line);
      if (!match) {
        finish({ ok: false, kind: 'protocol', detail: `expected "OK <port>", got ${printable(answer.subarray(0, newline + 1))}` });
        return;
      }
      // Whatever came behind the OK line is the guest's first bytes (HTTP/2 SETTINGS): keep it.
      socket.pause();
      const rest = answer.subarray(newline + 1);
      if (rest.length > 0) socket.unshift(rest);
      finish({ ok: true, socket, hostPort: Number(match[1]) });
    };
    const onError = (error: NodeJS.ErrnoException) => {
      if (!connected) finish({ ok: false, kind: 'no-vmm', detail: `${udsPath}: ${error.code ?? error.message}` });
      else finish({ ok: false, kind: 'no-listener', detail: `connection reset before OK (${error.code ?? error.message})` });
    };
    const onClose = () =>
      finish(
        answer.length > 0
          ? { ok: false, kind: 'protocol', detail: `closed after a partial answer ${printable(answer)}` }
          : { ok: false, kind: 'no-listener', detail: `closed without OK: nothing listens on guest port ${port}` },
      );
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once('connect', () => {
      connected = true;
      // One write: the VMM parses the command from the first bytes it reads.
      socket.write(`CONNECT ${port}\n`);
    });
  });
}

function printable(bytes: Buffer): string {
  return JSON.stringify(bytes.subarray(0, MAX_ANSWER_BYTES).toString('latin1'));
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * Opens one stream to `port` in the guest behind the VMM socket `udsPath`. A VMM that is not
 * there yet or a guest port without a listener is retried with backoff (50 ms doubling to 1 s)
 * until connectTimeoutMs; an answer that is not `OK <port>` fails at once.
 */
export async function connectVsock(udsPath: string, port: number, options: VsockConnectOptions = {}): Promise<VsockStream> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 2_000;
  const deadline = Date.now() + connectTimeoutMs;
  const where = `vsock ${udsPath} port ${port}`;
  let last: Attempt | undefined;
  let attempts = 0;
  for (;;) {
    attempts++;
    if (options.signal?.aborted) throw new VsockError('aborted', `${where}: aborted`, attempts - 1);
    const waitMs = Math.max(1, Math.min(handshakeTimeoutMs, deadline - Date.now()));
    const result = await attempt(udsPath, port, waitMs, options.signal);
    if (result.ok) return { socket: result.socket, hostPort: result.hostPort, attempts };
    if (options.signal?.aborted) throw new VsockError('aborted', `${where}: aborted`, attempts);
    // A last attempt the deadline cut short says nothing about the guest: an earlier
    // definite answer (no VMM, no listener) is the better diagnosis.
    const cutShort = result.kind === 'timeout' && waitMs < handshakeTimeoutMs;
    if (!(cutShort && last)) last = result;
    if (result.kind === 'protocol') {
      throw new VsockError('protocol', `${where}: ${result.detail}; is this a Firecracker/Cloud Hypervisor vsock socket?`, attempts);
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(50 * 2 ** (attempts - 1), 1_000, left), options.signal);
    if (Date.now() >= deadline) break;
  }
  const hint: Record<string, string> = {
    'no-vmm': 'is the VM running and is this its vsock uds_path?',
    'no-listener': 'the guest has no listener on that port: is it still booting, and is the runbox-vsock bridge running?',
    timeout: 'the VMM accepted the connection but never answered',
  };
  const kind = last && !last.ok ? last.kind : 'timeout';
  const detail = last && !last.ok ? last.detail : '';
  throw new VsockError(
    kind,
    `${where}: gave up after ${attempts} attempts in ${connectTimeoutMs} ms (${detail}); ${hint[kind] ?? ''}`,
    attempts,
  );
}

/**
 * Starts a local Unix-socket server (in a private 0700 temp dir) whose every connection is bridged
 * to `port` in the guest behind `udsPath`. close() stops it, ends every bridged connection and
 * removes the socket.
 */
export async function startVsockProxy(udsPath: string, port: number, options: VsockProxyOptions = {}): Promise<VsockProxy> {
  if (!Number.isInteger(port) || port < 0 || port > 0xffffffff) {
    throw new VsockError('protocol', `vsock port ${port}: expected an integer 0-4294967295`, 0);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'runbox-vsock-'));
  await chmod(dir, 0o700);
  const socketPath = path.join(dir, 'proxy.sock');
  const sockets = new Set<net.Socket>();
  const closing = new AbortController();
  let lastError: VsockError | undefined;

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const server = net.createServer({ pauseOnConnect: true }, (local) => {
    track(local);
    local.on('error', () => local.destroy());
    // The client may hang up while we are still handshaking: stop retrying for it.
    const gone = new AbortController();
    const onGone = () => gone.abort();
    local.once('close', onGone);
    closing.signal.addEventListener('abort', onGone, { once: true });
    connectVsock(udsPath, port, {
      connectTimeoutMs: options.connectTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      signal: gone.signal,
    }).then(
      ({ socket: remote }) => {
        closing.signal.removeEventListener('abort', onGone);
        if (local.destroyed || closing.signal.aborted) return void remote.destroy();
        track(remote);
        remote.on('error', () => local.destroy());
        local.on('error', () => remote.destroy());
        remote.once('close', () => local.destroy());
        local.once('close', () => remote.destroy());
        // pipe() resumes both paused sockets; bytes kept behind OK go out first.
        remote.pipe(local);
        local.pipe(remote);
      },
      (error: VsockError) => {
        closing.signal.removeEventListener('abort', onGone);
        if (error.kind !== 'aborted') {
          lastError = error;
          options.onError?.(error);
        }
        local.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });

  let closed: Promise<void> | undefined;
  return {
    socketPath,
    get lastError() {
      return lastError;
    },
    close() {
      closed ??= (async () => {
        closing.abort();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await stopped;
        await rm(dir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
