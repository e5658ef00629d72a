// Exec against the real built agent: argv commands, stdin (whole and streamed), signals,
// background handles, and `runbox exec`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, Sandbox } from '../../host/index.js';
import { type RunningAgent, useAgent } from '../helpers/agent.js';
import { cli } from '../helpers/run.js';

describe('Exec', () => {
  let agent: RunningAgent;
  let sb: Sandbox;
  let tcp: Sandbox;

  const fixture = useAgent();
  beforeAll(async () => {
    ({ agent, sb } = fixture);
    tcp = await fixture.connect('tcp');
  });

  for (const which of ['unix', 'tcp'] as const) {
    it(`runs argv without a shell over ${which}: output, stderr, exit code`, async () => {
      const target = which === 'unix' ? sb : tcp;
      const r = await target.exec(['sh', '-c', 'echo "$1 $2"; echo e >&2; exit 42', 'sh', '$HOME;', '`id`']);
      expect(r.status).toBe('exited');
      expect(r.exitCode).toBe(42);
      // The arguments arrive verbatim: nothing was expanded by a shell on the way.
      expect(r.stdout).toBe('$HOME; `id`\n');
      expect(r.stderr).toBe('e\n');
      expect(r.language).toBe('');
      expect(r.compile).toBeUndefined();
    });
  }

  it('passes env and cwd, and a command not found exits 127 with a message', async () => {
    const r = await sb.exec(['sh', '-c', 'echo "$FOO"; pwd'], { env: { FOO: 'bar baz' }, cwd: '/' });
    expect(r.stdout).toBe('bar baz\n/\n');
    const missing = await sb.exec(['no-such-command-xyz']);
    expect(missing.status).toBe('exited');
    expect(missing.exitCode).toBe(127);
    expect(missing.message).toMatch(/no-such-command-xyz.*not found/);
  });

  it('a client cwd is entered as the run-as user: a directory only root can reach stays out of reach', async () => {
    // A world-writable directory inside a root-only one: root's chdir would get there.
    const locked = mkdtempSync(path.join(os.tmpdir(), 'runbox-locked-'));
    try {
      chmodSync(locked, 0o700);
      const open = path.join(locked, 'open');
      mkdirSync(open, { mode: 0o777 });
      chmodSync(open, 0o777);
      writeFileSync(path.join(open, 'secret.txt'), 'root only\n', { mode: 0o644 });
      const direct = await sb.exec(['cat', path.join(open, 'secret.txt')]);
      expect(direct.exitCode).toBe(1); // the user cannot reach it by path
      const viaCwd = await sb.exec(['cat', 'secret.txt'], { cwd: open });
      expect(viaCwd.exitCode).toBe(126);
      expect(viaCwd.stdout).toBe('');
      expect(viaCwd.stderr).toMatch(/can't cd/);
      const code = await sb.runCode('sh', 'cat secret.txt', { cwd: open });
      expect(code.exitCode).toBe(126);
      expect(code.stdout).toBe('');
      // A reachable cwd still works, and the program starts in it.
      expect((await sb.exec(['pwd'], { cwd: os.tmpdir() })).stdout).toBe(`${os.tmpdir()}\n`);
    } finally {
      rmSync(locked, { recursive: true, force: true });
    }
  });

  it('argv the kernel could not exec is INVALID_ARGUMENT naming the argument, not a failed spawn', async () => {
    await expect(sb.exec(['true', 'x'.repeat(200_000)])).rejects.toThrow(InvalidArgumentError);
    await expect(sb.exec(['true', 'ok', 'x'.repeat(200_000)])).rejects.toThrow(
      /argv\[2\] is 200000 bytes; the kernel takes at most 131071/,
    );
    await expect(sb.exec(['true'], { env: { BIG: 'x'.repeat(140_000) } })).rejects.toThrow(/env\["BIG"\] is 140004 bytes/);
    const many = Array.from({ length: 20 }, () => 'y'.repeat(100_000));
    await expect(sb.exec(['true', ...many])).rejects.toThrow(/over the \d+ bytes a program can be started with \(the kernel's ARG_MAX\)/);
    // Just under both limits still runs.
    const fits = await sb.exec(['sh', '-c', 'echo ${#1}', 'sh', 'z'.repeat(131_071)]);
    expect(fits.stdout).toBe('131071\n');
  });

  it('stdin given whole', async () => {
    const r = await sb.exec(['wc', '-c'], { stdin: new Uint8Array(100_000).fill(65) });
    expect(r.stdout.trim()).toBe('100000');
  });

  it('stdin streamed through a background handle, with closeStdin', async () => {
    const seen: string[] = [];
    const h = await tcp.exec(['sh', '-c', 'while read -r line; do echo "got $line"; done; echo eof'], {
      background: true,
      keepStdinOpen: true,
      onStdout: (text) => seen.push(text),
    });
    expect(h.runId).toMatch(/^[0-9a-f-]{36}$/);
    await h.sendStdin('one\n');
    // The program answers each line before the next one is sent: stdin really streams.
    while (!seen.join('').includes('got one')) await new Promise((r) => setTimeout(r, 20));
    await h.sendStdin(new TextEncoder().encode('two\n'));
    h.closeStdin();
    const r = await h.wait();
    expect(r.stdout).toBe('got one\ngot two\neof\n');
    expect(r.exitCode).toBe(0);
  });

  it('stdin from an async iterable is streamed and closed', async () => {
    async function* lines() {
      for (let i = 0; i < 5; i++) yield `line ${i}\n`;
    }
    const r = await sb.exec(['cat'], { stdin: lines() });
    expect(r.stdout).toBe('line 0\nline 1\nline 2\nline 3\nline 4\n');
  });

  it('SIGINT reaches a sleeping program: status signaled', async () => {
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const h = await sb.exec(['sh', '-c', 'echo ready; exec sleep 30'], { background: true, onStdout: () => ready() });
    await isReady;
    h.kill('SIGINT');
    const r = await h.wait();
    expect(r.status).toBe('signaled');
    expect(r.signal).toBe('SIGINT');
    expect(r.exitCode).toBe(-1);
  });

  it('a program that handles SIGTERM exits by itself', async () => {
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const h = await sb.runCode(
      'python',
      'import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(9))\nprint("ready", flush=True)\ntime.sleep(30)',
      {
        background: true,
        onStdout: () => ready(),
      },
    );
    await isReady;
    h.kill('term');
    const r = await h.wait();
    expect(r.status).toBe('exited');
    expect(r.exitCode).toBe(9);
  });

  it('an unknown signal is INVALID_ARGUMENT listing the allowed ones; the agent keeps serving', async () => {
    const h = await sb.exec(['sleep', '30'], { background: true });
    h.kill('SIGFROB');
    const error = await h.wait().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/SIGFROB.*not allowed.*SIGINT, SIGTERM, SIGKILL/);
    expect((await sb.exec(['echo', 'ok'])).stdout).toBe('ok\n');
  });

  it('rejects an empty argv, an empty command and NUL bytes, naming the field', async () => {
    await expect(sb.exec([])).rejects.toThrow(/argv is empty/);
    await expect(sb.exec([''])).rejects.toThrow(/argv\[0\] is empty/);
    await expect(sb.exec(['echo', 'a\0b'])).rejects.toThrow(/argv\[1\] contains a NUL byte/);
    await expect(sb.exec(['env'], { env: { X: 'a\0b' } })).rejects.toThrow(/env\["X"\] contains a NUL byte/);
    expect((await sb.exec(['echo', 'still serving'])).stdout).toBe('still serving\n');
  });

  it('sendStdin without keepStdinOpen is refused', async () => {
    const h = await sb.exec(['sleep', '30'], { background: true });
    await h.sendStdin('late');
    await expect(h.wait()).rejects.toThrow(/keep_stdin_open/);
  });

  describe('runbox exec (CLI)', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-cli-exec-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('passes our stdin through and the exit code back', async () => {
      const r = await cli(['exec', '--target', agent.tcpTarget, '--', 'sh', '-c', 'tr a-z A-Z; exit 3'], { input: 'shout\n' });
      expect(r.stdout.toString()).toBe('SHOUT\n');
      expect(r.code).toBe(3);
    });

    it('--stdin-file, --env and --cwd', async () => {
      const input = path.join(dir, 'in');
      writeFileSync(input, 'file input');
      const r = await cli([
        'exec',
        '-t',
        agent.unixTarget,
        '--stdin-file',
        input,
        '-e',
        'A=1',
        '--cwd',
        '/',
        '--',
        'sh',
        '-c',
        'cat; echo " $A $(pwd)"',
      ]);
      expect(r.stdout.toString()).toBe('file input 1 /\n');
      expect(r.code).toBe(0);
    });

    it('exit codes: 124 timeout, 128+N signal, 127 not found, 125 runbox error, 2 usage', async () => {
      const timeout = await cli(['exec', '-t', agent.unixTarget, '--timeout-ms', '300', '--', 'sleep', '30']);
      expect(timeout.code).toBe(124);
      expect(timeout.stderr).toMatch(/^runbox: timed out.*\n$/);
      const signaled = await cli(['exec', '-t', agent.unixTarget, '--', 'sh', '-c', 'kill -KILL $$']);
      expect(signaled.code).toBe(137);
      const missing = await cli(['exec', '-t', agent.unixTarget, '--', 'no-such-command-xyz']);
      expect(missing.code).toBe(127);
      const badCwd = await cli(['exec', '-t', agent.unixTarget, '--cwd', 'relative', '--', 'true']);
      expect(badCwd.code).toBe(125);
      expect(badCwd.stderr).toMatch(/cwd "relative" must be an absolute path/);
      const usage = await cli(['exec', '-t', agent.unixTarget, 'ls', '-l']);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('Usage: runbox exec');
      const noCommand = await cli(['exec', '-t', agent.unixTarget]);
      expect(noCommand.code).toBe(2);
      // Exec has no compile stage: a compile flag is a mistake, not silently ignored.
      const compileFlag = await cli(['exec', '-t', agent.unixTarget, '--compile-timeout-ms', '5', '--', 'true']);
      expect(compileFlag.code).toBe(2);
      expect(compileFlag.stderr).toContain("'--compile-timeout-ms'");
      const unreachable = await cli(['exec', '-t', 'unix:///nonexistent/agent.sock', '--wait-ms', '300', '--', 'true']);
      expect(unreachable.code).toBe(125);
    });
  });
});
