// The agent's own listeners, handing admitted sockets to grpc-js (createConnectionInjector),
// so what happens before any RPC is bounded: a peer may hold at most MAX_PER_PEER connections.
// A connection with no call in flight (one that never sent a byte included) is closed by
// grpc-js after --idle-timeout-ms (grpc.max_connection_idle_ms, set in server.ts).
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { RateLimitedLog } from './rate-limited-log.js';

/** Connections one TCP address (or all Unix-socket clients together) may hold at once. */
export const MAX_PER_PEER = 128;

const refusals = new RateLimitedLog('agent.connection_refused', 5);

export class ConnectionGate {
  readonly #perPeer = new Map<string, number>();
  readonly #injector: ReturnType<grpc.Server['createConnectionInjector']>;
  readonly #servers: net.Server[] = [];

  constructor(server: grpc.Server) {
    this.#injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  }

  /** A listener whose sockets go through the gate; resolves once it listens. */
  listen(options: net.ListenOptions): Promise<net.Server> {
    const listener = net.createServer((socket) => this.#admit(socket));
    this.#servers.push(listener);
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(options, () => {
        listener.off('error', reject);
        resolve(listener);
      });
    });
  }

  /** Stops accepting; grpc-js's shutdown ends the connections already admitted. */
  close(): void {
    for (const listener of this.#servers) listener.close();
  }

  #admit(socket: net.Socket): void {
    const peer = socket.remoteAddress ?? 'unix';
    const held = this.#perPeer.get(peer) ?? 0;
    if (held >= MAX_PER_PEER) {
      refusals.write({ peer, reason: 'too_many_connections', limit: MAX_PER_PEER });
      socket.destroy();
      return;
    }
    this.#perPeer.set(peer, held + 1);
    socket.once('close', () => {
      const left = (this.#perPeer.get(peer) ?? 1) - 1;
      if (left <= 0) this.#perPeer.delete(peer);
      else this.#perPeer.set(peer, left);
    });
    socket.on('error', () => {}); // a reset by the peer: 'close' follows
    // The server speaks first (its HTTP/2 SETTINGS), as clients and VMMs may expect.
    this.#injector.injectConnection(socket);
  }
}
