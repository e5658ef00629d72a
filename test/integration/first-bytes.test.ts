// Waiting for a booting agent below gRPC (host/transport/first-bytes.ts), against real sockets:
// a connection that stays silent is dropped for a fresh one, so one that hangs (as a connection
// made before a QEMU guest has its address does under user-mode networking) cannot hold the
// wait; the first bytes on any connection end it.
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitForFirstBytes } from '../../host/transport/first-bytes.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A server whose first `silent` connections are accepted and never answered; later ones get a byte. */
function listen(silent: number, where: net.ListenOptions): Promise<{ server: net.Server; accepted: () => number }> {
  let accepted = 0;
  const held: net.Socket[] = [];
  const server = net.createServer((socket) => {
    accepted++;
    if (accepted <= silent) held.push(socket);
    else socket.end('x');
  });
  server.on('close', () => held.forEach((s) => s.destroy()));
  servers.push(server);
  return new Promise((resolve) => server.listen(where, () => resolve({ server, accepted: () => accepted })));
}

describe('waitForFirstBytes', () => {
  it('drops silent connections for fresh ones until one gets the server’s first bytes (TCP)', async () => {
    const { server, accepted } = await listen(3, { host: '127.0.0.1', port: 0 });
    const { port } = server.address() as net.AddressInfo;
    const reached = await waitForFirstBytes({ kind: 'tcp', host: '127.0.0.1', port }, { deadline: Date.now() + 60_000, attemptMs: 100 });
    expect(reached).toBe(true);
    expect(accepted()).toBe(4);
  });

  it('on a Unix socket too, and keeps trying while nothing listens yet', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-first-bytes-'));
    try {
      const socketPath = path.join(dir, 'agent.sock');
      const waiting = waitForFirstBytes({ kind: 'unix', path: socketPath }, { deadline: Date.now() + 60_000, attemptMs: 100 });
      await new Promise((resolve) => setTimeout(resolve, 300)); // refused (no socket) a few times first
      await listen(1, { path: socketPath });
      expect(await waiting).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a server that never speaks: false at the deadline; an abort ends the wait', async () => {
    const { server } = await listen(Number.POSITIVE_INFINITY, { host: '127.0.0.1', port: 0 });
    const { port } = server.address() as net.AddressInfo;
    const target = { kind: 'tcp', host: '127.0.0.1', port } as const;
    expect(await waitForFirstBytes(target, { deadline: Date.now() + 500, attemptMs: 100 })).toBe(false);
    const controller = new AbortController();
    const waiting = waitForFirstBytes(target, { deadline: Date.now() + 60_000, attemptMs: 100, signal: controller.signal });
    controller.abort();
    expect(await waiting).toBe(false);
  });
});
