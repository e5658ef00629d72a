// Waiting for a booting agent below gRPC. The agent speaks first on every connection (its HTTP/2
// SETTINGS, agent/server/connections.ts), so a connection that receives a byte reached it. Each
// try is a fresh connection given a short time: under QEMU's user-mode network a connection made
// while the guest has no address yet is accepted on the host and then hangs until slirp resends
// the guest its SYN, seconds later; gRPC would sit on that one connection (it turns READY only
// on the server's SETTINGS), which made one boot in four or five ~6-8 s late.
import net from 'node:net';
import type { Target } from './target.js';

export interface FirstBytesOptions {
  /** Give up (resolve false) at this Date.now(). */
  deadline: number;
  signal?: AbortSignal;
  /** How long one connection may stay silent before it is dropped for a new one. */
  attemptMs?: number;
}

/** One connection: true once it receives a byte, false when it closes, fails or stays silent. */
function tryOnce(target: Target & { kind: 'tcp' | 'unix' }, attemptMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = target.kind === 'tcp' ? net.connect(target.port, target.host) : net.connect(target.path);
    const done = (reached: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reached);
    };
    const timer = setTimeout(() => done(false), attemptMs);
    socket.once('data', () => done(true));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/**
 * Resolves true once a fresh connection to `target` receives the agent's first bytes, false at
 * the deadline or on abort. vsock targets go through a handshake proxy: true at once (gRPC's own
 * retries then apply).
 */
export async function waitForFirstBytes(target: Target, options: FirstBytesOptions): Promise<boolean> {
  if (target.kind === 'vsock') return true;
  const attemptMs = options.attemptMs ?? 750;
  while (!options.signal?.aborted && Date.now() < options.deadline) {
    const started = Date.now();
    if (await tryOnce(target, Math.min(attemptMs, Math.max(1, options.deadline - started)))) return true;
    // A refused connection returns at once: do not spin on it.
    const pause = 100 - (Date.now() - started);
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  return false;
}
