// ShellService against the real agent process: shells on a pty as the `runbox` user, several
// at once, resize and signals, detach / re-attach with replay, the grace period hanging up
// abandoned sessions with everything they started, and precise errors for bad input.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { bidiCall } from '../../proto/grpc.js';
import {
  ShellAttachSchema,
  ShellRequestSchema,
  ShellResizeSchema,
  ShellService,
  ShellStartSchema,
  type ShellRequest,
  type ShellResponse,
} from '../../proto/gen/runbox/v1/shell_pb.js';
import { AbortError, InvalidArgumentError, NotFoundError, Sandbox } from '../../host/index.js';
import { startAgent, runboxUserExists, type RunningAgent, useAgent } from '../helpers/agent.js';
import { eventually, foregroundCommand, processAlive, screen } from '../helpers/shell.js';
import { cuttableLink } from '../helpers/proxy.js';
import { failure } from '../helpers/assert.js';
import { requireInCi } from '../helpers/required.js';

const asRoot = process.getuid?.() === 0 && runboxUserExists();

/** Sends raw requests, bypassing the SDK's own checks, and returns the stream's status. */
function rawShell(
  target: string,
  requests: ShellRequest['event'][],
): Promise<{ status: grpc.status; details: string; responses: ShellResponse[] }> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  return new Promise<{ status: grpc.status; details: string; responses: ShellResponse[] }>((resolve) => {
    const call = bidiCall(client, ShellService.method.shell, { metadata: new grpc.Metadata(), options: {} });
    const responses: ShellResponse[] = [];
    call.on('data', (r: ShellResponse) => responses.push(r));
    call.on('error', (e: grpc.ServiceError) => resolve({ status: e.code, details: e.details, responses }));
    call.on('end', () => resolve({ status: grpc.status.OK, details: '', responses }));
    for (const event of requests) call.write(create(ShellRequestSchema, { event }));
  }).finally(() => client.close());
}

describe('shell', () => {
  let agent: RunningAgent;
  let sb: Sandbox;
  const fixture = useAgent();
  beforeAll(() => {
    ({ agent, sb } = fixture);
  });

  it('opens a login shell on a pty as the run-as user, follows resizes, passes exit codes', async () => {
    const sh = await sb.shells.open({ cols: 100, rows: 30 });
    const out = screen(sh);
    expect(sh.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(sh.pid).toBeGreaterThan(1);
    sh.write('echo "user=$(id -un) groups=$(id -G) term=$TERM cwd=$(pwd) size=$(stty size) tty=$(tty)" "E$((40+2))"\n');
    const line = (await out.waitFor(/(user=.*) E42/))[1]!;
    expect(line).toContain('term=xterm-256color');
    expect(line).toContain('size=30 100');
    expect(line).toMatch(/tty=\/dev\/pts\/\d+/);
    if (asRoot) {
      expect(line).toContain('user=runbox');
      expect(line).toContain('cwd=/home/runbox');
      // Only the user's own groups: never root's (node-pty alone would leave them).
      const groups = /groups=([\d ]+?) term=/.exec(line)![1]!;
      expect(groups.split(' ')).not.toContain('0');
    }
    sh.resize(132, 43);
    const mark = out.mark();
    sh.write('stty size; echo "R$((1+1))"\n');
    await out.waitForAfter(mark, /43 132\r?\n.*R2/s);
    sh.write('exit 7\n');
    expect(await sh.wait()).toEqual({ exitCode: 7, signal: '' });
    expect((await sb.shells.list()).map((s) => s.id)).not.toContain(sh.id);
    // Input after the exit is refused with a clear error, not silently dropped.
    expect(() => sh.write('echo late\n')).toThrow(InvalidArgumentError);
    expect(() => sh.write('echo late\n')).toThrow(/after the stream ended/);
  });

  it('runs a given command with env, cwd and TERM, and carries raw bytes', async () => {
    const sh = await sb.shells.open({
      command: ['/bin/sh', '-c', 'printf "%s|%s|%s|" "$GREETING" "$(pwd)" "$TERM"; printf "\\377\\376"; exit 3'],
      env: { GREETING: 'hi there' },
      cwd: '/tmp',
      term: 'vt100',
    });
    const out = screen(sh);
    expect(await sh.wait()).toEqual({ exitCode: 3, signal: '' });
    expect(out.text()).toContain('hi there|/tmp|vt100|');
    const bytes = out.bytes();
    expect(bytes.includes(Buffer.from([0xff, 0xfe]))).toBe(true);
  });

  it('enters cwd as the user: a directory only root may enter is refused, not entered as root', async (ctx) => {
    requireInCi(ctx, asRoot, 'root with the runbox user (the agent must drop privileges)');
    // /root is 0700 root: node-pty's own chdir (done as root) would have entered it.
    const sh = await sb.shells.open({ command: ['/bin/sh', '-c', 'pwd; ls'], cwd: '/root' });
    const out = screen(sh);
    expect(await sh.wait()).toEqual({ exitCode: 126, signal: '' });
    expect(out.text()).toMatch(/can't cd to \/root|Permission denied/);
    expect(out.text()).not.toMatch(/^\/root$/m);
  });

  // Four round trips through bash and the pty: slow on a loaded 2-core machine (CI boots VMs meanwhile).
  it('signals go to the foreground process group; Ctrl-C as input works too', { timeout: 180_000 }, async () => {
    const sh = await sb.shells.open();
    const out = screen(sh);
    // (bash drops the rest of a command line whose job died of SIGINT: the status is asked for separately)
    sh.write('sleep 100\n');
    await eventually(() => foregroundCommand(sh.pid) === 'sleep', 'sleep to be in the foreground');
    sh.signal('SIGINT');
    sh.write('echo "after=$?"\n');
    await out.waitFor(/after=130/);
    const mark = out.mark();
    sh.write('sleep 100\n');
    await eventually(() => foregroundCommand(sh.pid) === 'sleep', 'sleep again');
    sh.write('\x03');
    sh.write('echo "again=$?"\n');
    await out.waitForAfter(mark, /again=130/);
    // At the prompt the shell itself is the foreground: SIGHUP ends it.
    sh.signal('SIGHUP');
    expect(await sh.wait()).toMatchObject({ signal: 'SIGHUP' });

    const killed = await sb.shells.open({ command: ['/bin/sleep', '100'] });
    // At once: the child may not have its own process group yet, and the signal must still land.
    killed.signal('SIGTERM');
    expect(await killed.wait()).toMatchObject({ signal: 'SIGTERM' });
  });

  it('kill() ends the whole session, even with a job in the foreground and one in the background', async () => {
    const sh = await sb.shells.open();
    const out = screen(sh);
    sh.write('sleep 1000 & echo "bg=$!"\n');
    const bg = Number((await out.waitFor(/bg=(\d+)/))[1]);
    sh.write('sleep 1001\n');
    await eventually(() => foregroundCommand(sh.pid) === 'sleep', 'sleep in the foreground');
    sh.kill();
    expect(await sh.wait()).toMatchObject({ signal: 'SIGHUP' });
    await eventually(() => !processAlive(bg), 'the background job to be gone');
    expect((await sb.shells.list()).some((s) => s.id === sh.id)).toBe(false);
  });

  it('keeps several sessions at once and lists them', async () => {
    const shells = await Promise.all([1, 2, 3].map((i) => sb.shells.open({ cols: 80 + i, rows: 24 })));
    const screens = shells.map(screen);
    shells.forEach((sh, i) => sh.write(`echo "session-$((${i} * 11))"\n`));
    await Promise.all(screens.map((s, i) => s.waitFor(new RegExp(`session-${i * 11}\\b`))));
    const listed = await sb.shells.list();
    for (const [i, sh] of shells.entries()) {
      expect(listed.find((s) => s.id === sh.id)).toMatchObject({ pid: sh.pid, cols: 81 + i, rows: 24, attached: true });
      expect(screens[i]!.text()).not.toMatch(new RegExp(`session-${((i + 1) % 3) * 11}\\b`));
    }
    for (const sh of shells) sh.write('exit\n');
    await Promise.all(shells.map((sh) => sh.wait()));
  });

  it('survives detach and a dropped connection; re-attach replays recent output', async () => {
    const sh = await sb.shells.open();
    const out = screen(sh);
    sh.write('X=kept; echo "before-$((6*7))"\n');
    await out.waitFor(/before-42/);
    await sh.detach();
    await expect(sh.wait()).rejects.toThrow(/detached/);
    expect((await sb.shells.list()).find((s) => s.id === sh.id)).toMatchObject({ attached: false });

    const again = await sb.shells.attach(sh.id);
    expect(Buffer.from(again.replay).toString()).toContain('before-42');
    expect(again.replayTruncated).toBe(false);
    const out2 = screen(again);
    again.write('echo "still-$X"\n');
    await out2.waitFor(/still-kept/);

    await again.detach();
    // Attach over a link that then breaks without a word: the session waits for us.
    const link = await cuttableLink(agent.tcpTarget);
    const flaky = await Sandbox.connect(link.target);
    const viaLink = await flaky.shells.attach(sh.id);
    const lost = viaLink.wait().catch((e: unknown) => e);
    link.cut();
    expect(await lost).toBeInstanceOf(Error);
    await flaky.close();
    await link.close();
    await eventually(async () => (await sb.shells.list()).some((s) => s.id === sh.id && !s.attached), 'the agent to notice the drop');
    const third = await sb.shells.attach(sh.id);
    expect(Buffer.from(third.replay).toString()).toContain('still-kept');
    third.write('exit 5\n');
    expect(await third.wait()).toEqual({ exitCode: 5, signal: '' });
  });

  it('replay is bounded to 64 KiB and says when older output was dropped', async () => {
    const sh = await sb.shells.open();
    const out = screen(sh);
    sh.write('head -c 200000 /dev/zero | tr \'\\0\' x; echo; echo "END$((2+3))"\n');
    await out.waitFor(/END5/);
    await sh.detach();
    const again = await sb.shells.attach(sh.id);
    expect(again.replay.length).toBe(64 * 1024);
    expect(again.replayTruncated).toBe(true);
    expect(Buffer.from(again.replay).toString()).toMatch(/x+\r?\nEND5/);
    again.write('exit\n');
    await again.wait();
  });

  it('a second attach takes the session over; the first stream ends with ABORTED', async () => {
    const sh = await sb.shells.open();
    const other = await Sandbox.connect(agent.tcpTarget);
    try {
      const taken = await other.shells.attach(sh.id);
      const error = await failure(sh.wait());
      expect(error.reason).toBe('SHELL_TAKEN_OVER');
      expect(error.metadata).toEqual({ session: sh.id });
      expect(error.message).toMatch(/attached by another client/);
      const out = screen(taken);
      taken.write('echo "mine-$((3*3))"; exit 2\n');
      await out.waitFor(/mine-9/);
      expect(await taken.wait()).toEqual({ exitCode: 2, signal: '' });
    } finally {
      await other.close();
    }
  });

  it('a session that exits while detached reports its exit on re-attach', async () => {
    // The shell goes on only once the test says so (a file appears), i.e. surely after the detach.
    const go = path.join(agent.dir, `go-${Date.now()}`);
    const sh = await sb.shells.open({
      command: ['/bin/sh', '-c', 'read line; while [ ! -e "$1" ]; do sleep 0.05; done; echo "got $line"; exit 4', 'sh', go],
    });
    sh.write('bye\n');
    await sh.detach();
    writeFileSync(go, '');
    await eventually(() => !processAlive(sh.pid), 'the shell to exit');
    const again = await sb.shells.attach(sh.id);
    expect(Buffer.from(again.replay).toString()).toContain('got bye');
    expect(await again.wait()).toEqual({ exitCode: 4, signal: '' });
    expect(await failure(sb.shells.attach(sh.id))).toBeInstanceOf(NotFoundError);
  });

  it('refuses bad input precisely and keeps serving', async () => {
    // The SDK checks sizes before sending ...
    await expect(sb.shells.open({ cols: 0, rows: 0 })).rejects.toThrow(/cols 0: must be an integer 1-2000/);
    const sh = await sb.shells.open();
    expect(() => sh.resize(100000, 24)).toThrow(/cols 100000: must be an integer 1-2000/);
    expect(() => sh.resize(80, 0)).toThrow(/rows 0: must be an integer 1-1000/);
    // (not kill(): right after the start the foreground job may be a step of the shell's profile)
    sh.write('exit\n');
    await sh.wait();
    // ... and the agent checks them too, for any client.
    const start = (cols: number, rows: number): ShellRequest['event'] => ({
      case: 'start',
      value: create(ShellStartSchema, { cols, rows }),
    });
    const zero = await rawShell(agent.unixTarget, [start(0, 0)]);
    expect(zero).toMatchObject({ status: grpc.status.INVALID_ARGUMENT, details: 'start.cols 0: must be 1-2000' });
    const wide = await rawShell(agent.unixTarget, [
      start(80, 24),
      { case: 'resize', value: create(ShellResizeSchema, { cols: 100000, rows: 24 }) },
    ]);
    expect(wide.status).toBe(grpc.status.INVALID_ARGUMENT);
    expect(wide.details).toBe('resize.cols 100000: must be 1-2000');
    const opened = wide.responses[0]?.event;
    expect(opened?.case).toBe('opened');
    const badSignal = await rawShell(agent.unixTarget, [
      { case: 'attach', value: create(ShellAttachSchema, { sessionId: opened?.case === 'opened' ? opened.value.sessionId : '' }) },
      { case: 'signal', value: 'SIGNOPE' },
    ]);
    expect(badSignal.details).toMatch(/signal "SIGNOPE": expected a signal name/);
    const inputFirst = await rawShell(agent.unixTarget, [{ case: 'input', value: new Uint8Array([1]) }]);
    expect(inputFirst).toMatchObject({
      status: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/first ShellRequest must be start or attach/),
    });
    const badCwd = await rawShell(agent.unixTarget, [
      { case: 'start', value: create(ShellStartSchema, { cols: 80, rows: 24, cwd: 'relative' }) },
    ]);
    expect(badCwd.details).toMatch(/start.cwd "relative": must be an absolute path/);

    const unknown = await failure(sb.shells.attach('no-such-session'));
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown.message).toMatch(/"no-such-session" does not exist/);
    const controller = new AbortController();
    controller.abort();
    await expect(sb.shells.open({ signal: controller.signal })).rejects.toThrow(AbortError);
    // Still serving.
    const ok = await sb.shells.open({ command: ['/bin/true'] });
    expect(await ok.wait()).toEqual({ exitCode: 0, signal: '' });
    // The session left behind by the bad resize: hang it up.
    const left = await sb.shells.attach(opened?.case === 'opened' ? opened.value.sessionId : '');
    left.write('exit\n');
    await left.wait();
  });
});

describe('shell grace period and shutdown', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startAgent({ args: ['--shell-grace-ms', '1500'] });
  });
  afterAll(async () => {
    await agent.stop();
  });

  /** Starts jobs that would outlive a careless hang-up: a plain one and one that ignores SIGHUP. */
  async function sessionWithJobs(sb: Sandbox) {
    const sh = await sb.shells.open();
    const out = screen(sh);
    sh.write('sleep 1000 & A=$!; (trap "" HUP; exec sleep 1001) & B=$!; echo "pids=$A,$B"\n');
    const [, a, b] = await out.waitFor(/pids=(\d+),(\d+)/);
    const pids = [sh.pid, Number(a), Number(b)];
    expect(pids.every(processAlive)).toBe(true);
    return { sh, pids };
  }

  it('hangs up an abandoned session after the grace period, with every process it started', async () => {
    const link = await cuttableLink(agent.tcpTarget);
    const sb = await Sandbox.connect(link.target);
    const { sh, pids } = await sessionWithJobs(sb);
    link.cut(); // dropped, no detach
    await sb.close();
    await link.close();
    const sb2 = await Sandbox.connect(agent.unixTarget);
    try {
      await eventually(async () => !(await sb2.shells.list()).some((s) => s.id === sh.id), 'the session to be gone');
      await eventually(() => pids.every((pid) => !processAlive(pid)), `processes ${pids.join(' ')} to be gone`);
      expect(await failure(sb2.shells.attach(sh.id))).toBeInstanceOf(NotFoundError);
      expect(agent.log.some((l) => l.includes('event=shell.closed') && l.includes(sh.id) && l.includes('grace period over'))).toBe(true);
    } finally {
      await sb2.close();
    }
  });

  it('an exiting shell takes its background jobs with it', async () => {
    const sb = await Sandbox.connect(agent.unixTarget);
    try {
      const { sh, pids } = await sessionWithJobs(sb);
      sh.write('exit\n');
      await sh.wait();
      await eventually(() => pids.every((pid) => !processAlive(pid)), `processes ${pids.join(' ')} to be gone`);
    } finally {
      await sb.close();
    }
  });

  it('agent shutdown ends every session', async () => {
    const sb = await Sandbox.connect(agent.unixTarget);
    const { sh, pids } = await sessionWithJobs(sb);
    const ended = sh.wait().catch((e: unknown) => e);
    expect(await agent.stop()).toBe(0);
    await ended;
    await sb.close();
    await eventually(() => pids.every((pid) => !processAlive(pid)), `processes ${pids.join(' ')} to be gone`);
  });
});
