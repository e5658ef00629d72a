// Shell input a program does not read waits in the client, not in the agent: the agent stops
// reading the stream above a bound (HTTP/2 flow control pushes back), the SDK's write() says
// so and drained() says when to go on, and every byte arrives, in order, once the program reads.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main as shellMain } from '../../host/cli/shell.js';
import type { ShellHandle } from '../../host/index.js';
import { useAgent, type AgentFixture } from '../helpers/agent.js';
import { memoryIo } from '../helpers/cli-io.js';
import { eventually, screen } from '../helpers/shell.js';

const MiB = 1 << 20;
const TOTAL = 64 * MiB;
const CHUNK = 64 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const data = randomBytes(TOTAL);
const digest = createHash('sha256').update(data).digest('hex');

/** CPU time (user + system) process `pid` used so far, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

let flags = 0;

/** A shell that reads nothing until `go()`, then hashes TOTAL bytes of raw input and exits. */
async function stalledReader(fixture: AgentFixture): Promise<{ sh: ShellHandle; go: () => void; hash: Promise<string> }> {
  const flag = path.join(fixture.agent.dir, `go-${process.pid}-${flags++}`);
  const sh = await fixture.sb.shells.open({
    command: [
      '/bin/sh',
      '-c',
      `stty raw -echo; echo ready; while [ ! -e "$1" ]; do sleep 0.05; done; head -c ${TOTAL} | sha256sum`,
      'sh',
      flag,
    ],
  });
  const out = screen(sh);
  await out.waitFor(/ready/);
  return { sh, go: () => writeFileSync(flag, ''), hash: out.waitFor(/([0-9a-f]{64})/, 120_000).then((m) => m[1]!) };
}

/** An agent of its own per block: RSS an earlier test grew (and freed) would hide new growth. */
function ownAgent(): AgentFixture {
  const fixture = useAgent();
  afterAll(() => expect(fixture.agent.log.join('\n')).not.toContain('shell.input_unbounded'));
  return fixture;
}

describe('shell input from a client that honours backpressure', () => {
  const fixture = ownAgent();

  it('a writer that honours write()/drained() is held back; the agent stays small; every byte arrives', { timeout: 180_000 }, async () => {
    const { sh, go, hash } = await stalledReader(fixture);
    const rssBefore = fixture.agent.rssBytes();
    let handed = 0;
    const writer = (async () => {
      while (handed < TOTAL) {
        const chunk = data.subarray(handed, handed + CHUNK);
        handed += chunk.length;
        if (!sh.write(chunk)) await sh.drained();
      }
    })();
    // The writer stops by itself: wait until it has not moved for a second.
    let seen = -1;
    await eventually(
      async () => {
        const still = handed === seen;
        seen = handed;
        if (!still) await sleep(1_000);
        return still;
      },
      'the writer to be held back',
      60_000,
    );
    const grown = fixture.agent.rssBytes() - rssBefore;
    const heldMs = 1_000;
    const cpuHeld = cpuMs(fixture.agent.process.pid!);
    await sleep(heldMs);
    const idleCpu = cpuMs(fixture.agent.process.pid!) - cpuHeld;
    // Bounded on both sides: a few MiB in flight (agent bound, read-ahead, HTTP/2 windows).
    expect(handed, `the SDK let ${handed} bytes through while nothing was read`).toBeLessThan(TOTAL / 8);
    expect(grown, `the agent grew by ${grown} bytes holding unread input`).toBeLessThan(TOTAL / 8);
    // Waiting for the pty to take input is a back-off, not a spinning retry loop.
    expect(idleCpu, `the agent used ${idleCpu} ms of CPU in ${heldMs} ms of waiting`).toBeLessThan(heldMs / 4);
    go();
    await writer;
    expect(await hash).toBe(digest);
    expect(await sh.wait()).toEqual({ exitCode: 0, signal: '' });
  });

  it('runbox shell reads piped stdin only as fast as the program takes it; every byte arrives', { timeout: 180_000 }, async () => {
    const flag = path.join(fixture.agent.dir, `go-${process.pid}-${flags++}`);
    // Nothing on stdin until the remote pty is raw: a cooked one would take a random 0x03 as Ctrl-C.
    let pulled = 0;
    let released = false;
    let asked = false;
    const pump = (stream: Readable) => {
      const chunk = data.subarray(pulled, pulled + CHUNK);
      pulled += chunk.length;
      stream.push(chunk.length > 0 ? chunk : null);
    };
    const stdin = new Readable({
      read() {
        if (released) pump(this);
        else asked = true;
      },
    });
    const io = { ...memoryIo(), stdin };
    const script = `stty raw -echo; echo ready; while [ ! -e "$1" ]; do sleep 0.05; done; head -c ${TOTAL} | sha256sum`;
    const exit = shellMain(['--target', fixture.agent.unixTarget, '--', '/bin/sh', '-c', script, 'sh', flag], io);
    await eventually(() => io.out().includes('ready') && asked, 'the remote shell to be raw and the CLI to read stdin');
    released = true;
    pump(stdin);
    await sleep(3_000);
    expect(pulled, `the CLI read ${pulled} bytes of stdin while nothing was read remotely`).toBeLessThan(TOTAL / 8);
    writeFileSync(flag, '');
    expect(await exit).toBe(0);
    expect(io.out()).toContain(digest);
  });
});

describe('shell input from a client that ignores backpressure', () => {
  const fixture = ownAgent();

  it(
    'a client that ignores backpressure holds its input itself: the agent stays small; every byte arrives',
    { timeout: 180_000 },
    async () => {
      const { sh, go, hash } = await stalledReader(fixture);
      const rssBefore = fixture.agent.rssBytes();
      expect(sh.write(data)).toBe(false);
      await sleep(3_000);
      const grown = fixture.agent.rssBytes() - rssBefore;
      expect(grown, `the agent grew by ${grown} bytes holding unread input`).toBeLessThan(TOTAL / 8);
      go();
      expect(await hash).toBe(digest);
      expect(await sh.wait()).toEqual({ exitCode: 0, signal: '' });
    },
  );

  it('detach() behind input the program never reads returns; the session lives on and can be killed', { timeout: 60_000 }, async () => {
    const sh = await fixture.sb.shells.open({ command: ['/bin/sh', '-c', 'stty raw -echo; echo ready; sleep 1000'] });
    await screen(sh).waitFor(/ready/);
    sh.write(data.subarray(0, 16 * MiB));
    await sh.detach();
    await expect(sh.wait()).rejects.toThrow();
    expect((await fixture.sb.shells.list()).find((s) => s.id === sh.id)).toMatchObject({ attached: false });
    // A new stream has no input ahead of its kill.
    const again = await fixture.sb.shells.attach(sh.id);
    again.kill();
    expect((await again.wait()).signal).toBe('SIGHUP');
  });
});
