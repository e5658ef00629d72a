// Before any RPC: a peer cannot hold unbounded connections, a socket that never speaks is
// closed, and a flood of refused calls costs the log about five lines a second.
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { AuthenticationError, Sandbox } from '../../host/index.js';
import { useAgent } from '../helpers/agent.js';
import { failure } from '../helpers/assert.js';

const TOKEN = 'connections-test-token';
const MAX_PER_PEER = 128;

function tcpPort(target: string): number {
  return Number(/:(\d+)$/.exec(target)![1]);
}

/** Opens a raw TCP connection; resolves once connected, with a promise of its close. */
function rawSocket(port: number): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.resume(); // read (and drop) what the server sends, so its close is seen
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

describe('connections before authentication', () => {
  const fixture = useAgent({ token: TOKEN, args: ['--idle-timeout-ms', '1500'] });
  const sockets: net.Socket[] = [];
  afterAll(() => {
    for (const s of sockets) s.destroy();
  });

  it(`one peer holds at most ${MAX_PER_PEER} connections; the next is closed at once, other peers are served`, async () => {
    const port = tcpPort(fixture.agent.tcpTarget);
    const held = await Promise.all(Array.from({ length: MAX_PER_PEER }, () => rawSocket(port)));
    sockets.push(...held.map((h) => h.socket));
    const extra = await rawSocket(port);
    await extra.closed; // the agent closed it without a word
    expect(extra.socket.bytesRead).toBe(0);
    // The Unix socket is another peer: still served, with the token.
    expect((await fixture.sb.health()).version).toMatch(/^\d/);
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    const tcp = await fixture.connect('tcp');
    expect((await tcp.exec(['echo', 'back'])).stdout).toBe('back\n');
    expect(fixture.agent.log.some((l) => l.includes('event=agent.connection_refused') && l.includes('reason=too_many_connections'))).toBe(
      true,
    );
  });

  it('a socket that sends nothing is closed after --idle-timeout-ms; a client with calls is not', async () => {
    const silent = await rawSocket(tcpPort(fixture.agent.tcpTarget));
    sockets.push(silent.socket);
    await silent.closed;
    // A run longer than the idle timeout keeps its connection: only connections without calls go.
    const r = await fixture.sb.exec(['sleep', '3']);
    expect(r.exitCode).toBe(0);
    // An idle Sandbox whose connection was closed just reconnects on its next call.
    expect((await fixture.sb.exec(['echo', 'again'])).stdout).toBe('again\n');
  });

  it('a flood of calls without the token is refused and logged at about five lines a second', async () => {
    const started = Date.now();
    const intruder = await Sandbox.connect(fixture.agent.tcpTarget);
    try {
      const before = fixture.agent.log.filter((l) => l.includes('event=auth.rejected')).length;
      const refusals = await Promise.all(Array.from({ length: 300 }, () => failure(intruder.exec(['true']))));
      expect(refusals.every((e) => e instanceof AuthenticationError)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      await failure(intruder.exec(['true'])); // carries the count of what was held back
      const lines = fixture.agent.log.filter((l) => l.includes('event=auth.rejected')).slice(before);
      const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
      expect(lines.length).toBeLessThanOrEqual(5 * seconds);
      expect(lines.some((l) => /suppressed=\d+/.test(l))).toBe(true);
    } finally {
      await intruder.close();
    }
  });
});
