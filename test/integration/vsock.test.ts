// Hybrid vsock against a peer that behaves like Firecracker's vsock Unix socket, in front of a REAL
// agent process. Behaviour of the peer, from Firecracker's docs/vsock.md ("Host-Initiated
// Connections"): the host connects to uds_path and sends "CONNECT PORT\n" (decimal port, ASCII LF);
// if a guest listener accepts, the VMM answers "OK <host-side port>\n" and the same socket then
// carries the guest connection; if nothing listens on that port, the VMM terminates the host
// connection (no OK). Here "the guest port" is the agent's Unix socket; the listener can be switched
// off to play a guest that is still booting.
import net from 'node:net';
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../helpers/agent.js';
import { Sandbox } from '../../host/sandbox.js';
import { connectVsock, startVsockProxy, VsockError } from '../../host/transport/vsock.js';

type Mode =
  /** OK followed by the guest's first bytes (the agent's HTTP/2 SETTINGS) in ONE write. */
  | 'ok-with-data'
  /** OK alone, then the stream. */
  | 'ok'
  /** The OK line dribbles in over three writes. */
  | 'split'
  /** OK only after a delay. */
  | 'slow'
  /** No listener on the guest port: close without OK. */
  | 'no-listener'
  /** Something that is not Firecracker. */
  | 'garbage'
  /** Accept, read CONNECT, never answer. */
  | 'silent';

const HOST_PORT_BASE = 1073741824; // Firecracker's docs show host-side ports from 2^30 upwards

class FakeFirecracker {
  readonly udsPath: string;
  mode: Mode = 'ok-with-data';
  /** Refuse (no listener) this many more connections before behaving per `mode`. */
  refuseNext = 0;
  /** First chunk of every connection, as received: proves CONNECT came in one write. */
  readonly firstChunks: string[] = [];
  /** Guest ports asked for. */
  readonly ports: number[] = [];
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #nextHostPort = HOST_PORT_BASE;

  constructor(
    dir: string,
    private readonly agentSocket: string,
    private readonly guestPort: number,
  ) {
    this.udsPath = path.join(dir, 'v.sock');
    this.#server = net.createServer((host) => this.#accept(host));
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(this.udsPath, resolve));
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #track(s: net.Socket) {
    this.#sockets.add(s);
    s.on('error', () => s.destroy());
    s.once('close', () => this.#sockets.delete(s));
  }

  #accept(host: net.Socket) {
    this.#track(host);
    let buffered = Buffer.alloc(0);
    let first = true;
    const onData = (chunk: Buffer) => {
      if (first) this.firstChunks.push(chunk.toString('latin1'));
      first = false;
      buffered = Buffer.concat([buffered, chunk]);
      const nl = buffered.indexOf(0x0a);
      if (nl < 0) return;
      host.removeListener('data', onData);
      host.pause();
      const match = /^CONNECT (\d+)$/.exec(buffered.subarray(0, nl).toString('latin1'));
      const after = buffered.subarray(nl + 1);
      if (!match) return void host.destroy();
      const port = Number(match[1]);
      this.ports.push(port);
      this.#answer(host, port, after);
    };
    host.on('data', onData);
  }

  #answer(host: net.Socket, port: number, after: Buffer) {
    if (this.refuseNext > 0 || this.mode === 'no-listener' || port !== this.guestPort) {
      this.refuseNext = Math.max(0, this.refuseNext - 1);
      return void host.destroy();
    }
    if (this.mode === 'silent') return;
    if (this.mode === 'garbage') return void host.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    const ok = `OK ${this.#nextHostPort++}\n`;
    const guest = net.connect(this.agentSocket);
    this.#track(guest);
    guest.pause();
    const bridge = () => {
      if (after.length > 0) guest.write(after);
      guest.pipe(host);
      host.pipe(guest);
      host.once('close', () => guest.destroy());
      guest.once('close', () => host.destroy());
    };
    guest.once('connect', () => {
      switch (this.mode) {
        case 'ok-with-data':
          // Wait for the agent's first bytes and send them in the same write as OK.
          guest.once('readable', () => {
            const head = guest.read() as Buffer | null;
            host.write(Buffer.concat([Buffer.from(ok), head ?? Buffer.alloc(0)]));
            bridge();
          });
          return;
        case 'ok':
          host.write(ok);
          return bridge();
        case 'slow':
          setTimeout(() => (host.write(ok), bridge()), 700);
          return;
        case 'split':
          host.write(ok.slice(0, 1));
          setTimeout(() => host.write(ok.slice(1, 5)), 50);
          setTimeout(() => (host.write(ok.slice(5)), bridge()), 100);
          return;
      }
    });
  }
}

let agent: RunningAgent;
let dir: string;
let vmm: FakeFirecracker;

beforeAll(async () => {
  agent = await startAgent();
  dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-vsock-test-'));
  vmm = new FakeFirecracker(dir, agent.unixTarget.slice('unix://'.length), 5000);
  await vmm.listen();
});

afterAll(async () => {
  await vmm?.close();
  await agent?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function throughSandbox<T>(fn: (sb: Sandbox) => Promise<T>): Promise<T> {
  const sb = await Sandbox.connect(`vsock://${vmm.udsPath}:5000`);
  try {
    return await fn(sb);
  } finally {
    await sb.close();
  }
}

describe('connectVsock handshake', () => {
  it('sends CONNECT in one write and keeps the bytes that arrive with OK', async () => {
    vmm.mode = 'ok-with-data';
    const before = vmm.firstChunks.length;
    const { socket, hostPort } = await connectVsock(vmm.udsPath, 5000);
    try {
      expect(vmm.firstChunks[before]).toBe('CONNECT 5000\n');
      expect(hostPort).toBeGreaterThanOrEqual(HOST_PORT_BASE);
      // An HTTP/2 server speaks first: a SETTINGS frame (type 0x4) on stream 0. It came in the
      // same chunk as OK and must be the first thing the stream yields.
      const head = await new Promise<Buffer>((resolve) => socket.once('data', resolve).resume());
      expect(head.length).toBeGreaterThanOrEqual(9);
      expect(head[3]).toBe(0x04);
      expect(head.readUInt32BE(5) & 0x7fffffff).toBe(0);
    } finally {
      socket.destroy();
    }
  });

  it('reads an OK line split across chunks', async () => {
    vmm.mode = 'split';
    const { socket, hostPort } = await connectVsock(vmm.udsPath, 5000);
    socket.destroy();
    expect(hostPort).toBeGreaterThanOrEqual(HOST_PORT_BASE);
  });

  it('retries while the guest has no listener, then connects', async () => {
    vmm.mode = 'ok';
    vmm.refuseNext = 3;
    const { socket, attempts } = await connectVsock(vmm.udsPath, 5000, { connectTimeoutMs: 10_000 });
    socket.destroy();
    expect(attempts).toBe(4);
  });

  it('fails clearly when nothing ever listens on the guest port', async () => {
    vmm.mode = 'no-listener';
    const error = await connectVsock(vmm.udsPath, 5000, { connectTimeoutMs: 600 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VsockError);
    expect((error as VsockError).kind).toBe('no-listener');
    expect((error as VsockError).attempts).toBeGreaterThan(1);
    expect((error as VsockError).message).toMatch(/port 5000.*closed without OK.*runbox-vsock bridge/);
  });

  it('fails at once on an answer that is not OK', async () => {
    vmm.mode = 'garbage';
    const error = await connectVsock(vmm.udsPath, 5000, { connectTimeoutMs: 5_000 }).catch((e: unknown) => e);
    expect((error as VsockError).kind).toBe('protocol');
    expect((error as VsockError).attempts).toBe(1);
    expect((error as VsockError).message).toContain('HTTP/1.1 400');
  });

  it('gives up on a VMM that never answers', async () => {
    vmm.mode = 'silent';
    const error = await connectVsock(vmm.udsPath, 5000, { connectTimeoutMs: 800, handshakeTimeoutMs: 300 }).catch((e: unknown) => e);
    expect((error as VsockError).kind).toBe('timeout');
    expect((error as VsockError).message).toMatch(/no answer to CONNECT 5000/);
  });

  it('says so when there is no VMM socket at all', async () => {
    const error = await connectVsock(path.join(dir, 'missing.sock'), 5000, { connectTimeoutMs: 300 }).catch((e: unknown) => e);
    expect((error as VsockError).kind).toBe('no-vmm');
    expect((error as VsockError).message).toMatch(/ENOENT.*is the VM running/);
  });
});

describe('Sandbox over vsock', () => {
  it('does Health, SystemInfo and languages with OK and data in one chunk', async () => {
    vmm.mode = 'ok-with-data';
    const direct = await Sandbox.connect(agent.unixTarget);
    const expected = await direct.languages().finally(() => direct.close());
    await throughSandbox(async (sb) => {
      const health = await sb.waitReady({ timeoutMs: 10_000 });
      expect(health.version).toMatch(/\d+\.\d+\.\d+/);
      const info = await sb.systemInfo();
      expect(info.memory.totalBytes).toBeGreaterThan(0);
      const languages = await sb.languages();
      expect(languages).toEqual(expected);
    });
  });

  it.each(['ok', 'split', 'slow'] as const)('works when the VMM answers %s', async (mode) => {
    vmm.mode = mode;
    await throughSandbox(async (sb) => {
      await sb.waitReady({ timeoutMs: 10_000 });
      expect((await sb.systemInfo()).cpu.cores).toBeGreaterThan(0);
    });
  });

  it('waits for a guest that is still booting', async () => {
    vmm.mode = 'ok-with-data';
    vmm.refuseNext = 5;
    await throughSandbox(async (sb) => {
      const health = await sb.waitReady({ timeoutMs: 20_000 });
      expect(health.limitsBackend).toMatch(/cgroup_v2|none/);
    });
    expect(vmm.refuseNext).toBe(0);
  });

  it('runs many calls concurrently through the proxy', async () => {
    vmm.mode = 'ok-with-data';
    await throughSandbox(async (sb) => {
      const results = await Promise.all(Array.from({ length: 20 }, () => sb.health()));
      expect(results).toHaveLength(20);
    });
  });

  it('reports an unbridgeable guest as unavailable and keeps the reason', async () => {
    vmm.mode = 'no-listener';
    const proxy = await startVsockProxy(vmm.udsPath, 5000, { connectTimeoutMs: 1_000 });
    const sb = await Sandbox.connect(`unix://${proxy.socketPath}`);
    try {
      await expect(sb.health({ requestTimeoutMs: 3_000 })).rejects.toThrow(/not reachable|request timeout/);
      expect(proxy.lastError?.kind).toBe('no-listener');
    } finally {
      await sb.close();
      await proxy.close();
    }
  });
});

describe('startVsockProxy', () => {
  it('lives in a private directory and removes its socket on close', async () => {
    vmm.mode = 'ok';
    const proxy = await startVsockProxy(vmm.udsPath, 5000);
    expect(statSync(path.dirname(proxy.socketPath)).mode & 0o777).toBe(0o700);
    expect(existsSync(proxy.socketPath)).toBe(true);
    await proxy.close();
    expect(existsSync(proxy.socketPath)).toBe(false);
    expect(existsSync(path.dirname(proxy.socketPath))).toBe(false);
  });

  it('close() ends bridged connections', async () => {
    vmm.mode = 'ok';
    const proxy = await startVsockProxy(vmm.udsPath, 5000);
    const client = net.connect(proxy.socketPath);
    await new Promise((resolve) => client.once('connect', resolve));
    // An HTTP/2 peer sends SETTINGS first: once it arrives the bridge is up.
    await new Promise((resolve) => client.once('data', resolve));
    const closed = new Promise((resolve) => client.once('close', resolve));
    await proxy.close();
    await closed;
    expect(client.destroyed).toBe(true);
  });

  it('rejects a port that is not a 32-bit number', async () => {
    await expect(startVsockProxy(vmm.udsPath, -1)).rejects.toThrow(/vsock port -1/);
  });
});
