// Real VMs booted from real images under QEMU (TCG), one at a time. Each describe boots one VM in
// beforeAll and stops it in afterAll; figures (boot-to-ready, compile vs cached run) are printed.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootImage, BROKEN, ensureImage, figure, figures, HELLO, IMAGES_DIR, type BootedVm } from './vm-helpers.js';
import { bootVm, VmBootError } from '../../host/vm/boot.js';
import { vmsDir } from '../../host/vm/paths.js';
import { findBootableImage } from '../../host/vm/image.js';
import { Sandbox } from '../../host/sandbox.js';
import { AuthenticationError, NotFoundError, PermissionDeniedError } from '../../host/errors.js';
import { CLI } from '../helpers/agent.js';
import { screen } from '../helpers/shell.js';
import type { InitSystem } from '../../host/image/spec.js';

afterAll(() => {
  process.stdout.write(`\nVM figures:\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

const MiB = 1 << 20;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The built CLI as a child process; a failure is a result (code, stderr), not a throw. */
async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { timeout: 300_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

/** How long a shell-side wait may take inside a TCG guest. */
const SHELL_WAIT_MS = 60_000;

/** Every language the manifest says the image has: runs a program that prints 42. */
async function runsEachLanguage(name: string, init: InitSystem, booted: BootedVm) {
  const { entry } = await findBootableImage(name, init, IMAGES_DIR);
  const offered = (await booted.sandbox.languages()).map((l) => l.name);
  const wanted = Object.keys(entry.languages);
  expect(wanted.length).toBeGreaterThan(0);
  for (const language of wanted) {
    expect(offered).toContain(language);
    const result = await booted.sandbox.runCode(language, HELLO[language]!, { timeoutMs: 120_000, compileTimeoutMs: 600_000 });
    expect({ language, status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
      language,
      status: 'exited',
      stdout: '42\n',
      stderr: '',
    });
    figure(
      `${name}/${init}: ${language} hello ${result.durationMs} ms${result.compile ? ` (compile ${result.compile.durationMs} ms)` : ''}`,
    );
  }
}

/** The shell as the run's user: bash -c with a CONSTANT script and values as "$@". */
async function sh(booted: BootedVm, script: string, ...args: string[]) {
  return booted.sandbox.exec(['bash', '-c', script, 'sh', ...args], { timeoutMs: 60_000 });
}

const FIND_AGENT_PID = `for d in /proc/[0-9]*; do
  if tr '\\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q 'runbox-agent.js'; then
    if [ "$(stat -c %u "$d")" = 0 ]; then echo "\${d#/proc/}"; fi
  fi
done`;

describe('bash image: 1 vCPU, 512 MiB, user-mode network', () => {
  let booted: BootedVm;
  beforeAll(async () => {
    booted = await bootImage('bash', { net: 'user', cpus: 1, memoryMiB: 512 });
  });
  afterAll(async () => booted?.stop());

  it('serves with no manual step', async () => {
    const health = await booted.sandbox.health();
    expect(health.runAsUser).toBe('runbox');
    expect(booted.vm.target).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  });

  it("reports the VM's memory and CPUs, not the host's", async () => {
    const info = await booted.sandbox.systemInfo();
    expect(info.cpu.cores).toBe(1);
    expect(info.memory.totalBytes).toBeLessThanOrEqual(512 * MiB);
    expect(info.memory.totalBytes).toBeGreaterThan(400 * MiB);
    expect(info.memory.totalBytes).toBeLessThan(os.totalmem() / 2);
    expect(info.os.kernel).toMatch(/cloud-amd64/);
  });

  it('runs each of its languages', async () => runsEachLanguage('bash', 'systemd', booted));

  it('opens a shell on a pty as runbox: size, resize, exit code', async () => {
    const sh = await booted.sandbox.shells.open({ cols: 100, rows: 30 });
    const out = screen(sh);
    sh.write('id -un; stty size; echo $((6*7))\n');
    // The echoed command line holds "$((6*7))", never "42": this only matches the output.
    await out.waitFor(/runbox\r?\n30 100\r?\n42\r?\n/, SHELL_WAIT_MS);
    sh.resize(132, 43);
    const mark = out.mark();
    sh.write('stty size\n');
    // bash may put a bracketed-paste escape right before the output, so no line start here.
    await out.waitForAfter(mark, /43 132\r?\n/, SHELL_WAIT_MS);
    sh.write('exit 3\n');
    expect(await sh.wait()).toEqual({ exitCode: 3, signal: '' });
  });

  it('moves files in and out as runbox; root-only paths are permission denied', async () => {
    const files = booted.sandbox.files;
    const data = randomBytes(2 * MiB);
    const written = await files.write('/home/runbox/x/y.bin', data, { createParents: true });
    expect(written).toMatchObject({ path: '/home/runbox/x/y.bin', type: 'file', size: 2 * MiB, owner: 'runbox' });
    expect(sha256(await files.read('/home/runbox/x/y.bin'))).toBe(sha256(data));
    expect((await files.list('/home/runbox/x')).map((e) => [e.name, e.type, e.size])).toEqual([['y.bin', 'file', 2 * MiB]]);
    expect(await files.stat('/home/runbox/x')).toMatchObject({ type: 'directory', owner: 'runbox' });
    // What a program sees is what the files API wrote.
    const seen = await booted.sandbox.exec(['sha256sum', '/home/runbox/x/y.bin'], { timeoutMs: 60_000 });
    expect(seen.stdout.split(' ')[0]).toBe(sha256(data));

    const passwd = await files.write('/etc/passwd', 'root::0:0::/root:/bin/sh\n').catch((e: unknown) => e);
    expect(passwd).toBeInstanceOf(PermissionDeniedError);
    expect((passwd as Error).message).toContain('/etc/passwd');
    expect(await files.readText('/etc/passwd')).toMatch(/^root:x:0:0:/);
    const rootHome = await files.read('/root/.profile').catch((e: unknown) => e);
    expect(rootHome).toBeInstanceOf(PermissionDeniedError);
    expect((rootHome as Error).message).toContain('/root/.profile');

    await files.remove('/home/runbox/x', { recursive: true });
    await expect(files.stat('/home/runbox/x/y.bin')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a shell and the file worker live in cgroups of their own; a daemon a shell left dies with it', async () => {
    const { sandbox } = booted;
    const shell = await sandbox.shells.open({
      command: [
        '/bin/sh',
        '-c',
        'cat /proc/self/cgroup; env -u RUNBOX_RUN_ID setsid sleep 600 </dev/null >/dev/null 2>&1 & echo daemon $!',
      ],
    });
    let out = '';
    shell.onData((d) => (out += Buffer.from(d).toString()));
    await shell.wait();
    expect(out).toMatch(/^0::\/.*\/runs\/shell-[0-9a-f-]{36}\r?$/m);
    const daemon = /daemon (\d+)/.exec(out)?.[1];
    expect(daemon).toBeDefined();
    // setsid put it out of the session's reach (SIGHUP); the session's cgroup still holds it.
    await expect
      .poll(async () => (await sh(booted, 'test -e /proc/"$1" && echo alive || echo gone', daemon!)).stdout.trim(), {
        timeout: 30_000,
        interval: 1_000,
      })
      .toBe('gone');

    await sandbox.files.list('/home/runbox'); // the worker runs now
    // The worker is the process with root as real uid and runbox as effective uid.
    const worker = await sh(
      booted,
      'u=$(id -u); for d in /proc/[0-9]*; do set -- $(awk \'/^Uid:/ {print $2, $3}\' "$d/status" 2>/dev/null); if [ "$1" = 0 ] && [ "$2" = "$u" ]; then cat "$d/cgroup"; fi; done',
    );
    expect(worker.stdout).toMatch(/^0::\/.*\/runs\/files-\d+$/m);
  });

  it('runbox cp copies into the VM and back (CLI)', async () => {
    const local = mkdtempSync(path.join(os.tmpdir(), 'runbox-vm-cp-'));
    try {
      const data = randomBytes(MiB + 7);
      writeFileSync(path.join(local, 'in.bin'), data);
      const target = booted.vm.target;
      const up = await cli('cp', '--target', target, '--parents', path.join(local, 'in.bin'), 'sandbox:/home/runbox/cp/in.bin');
      expect(up).toMatchObject({ code: 0, stderr: '' });
      expect(sha256(await booted.sandbox.files.read('/home/runbox/cp/in.bin'))).toBe(sha256(data));
      const down = await cli('cp', '--target', target, 'sandbox:/home/runbox/cp/in.bin', path.join(local, 'out.bin'));
      expect(down).toMatchObject({ code: 0, stderr: '' });
      expect(sha256(readFileSync(path.join(local, 'out.bin')))).toBe(sha256(data));
      const denied = await cli('cp', '--target', target, path.join(local, 'in.bin'), 'sandbox:/etc/runbox-cp-denied');
      expect(denied.code).toBe(125);
      expect(denied.stderr).toMatch(/"\/etc\/runbox-cp-denied": permission denied/);
    } finally {
      rmSync(local, { recursive: true, force: true });
      await booted.sandbox.files.remove('/home/runbox/cp', { recursive: true }).catch(() => undefined);
    }
  });
});

describe('bash image with --isolation per-run (boot argument runbox.isolation)', () => {
  let booted: BootedVm;
  beforeAll(async () => {
    booted = await bootImage('bash', { net: 'user', isolation: 'per-run' });
  });
  afterAll(async () => booted?.stop());

  it('says so in Health; each run is a uid of its own in its own cgroup, /tmp and /proc', async () => {
    const { sandbox } = booted;
    expect((await sandbox.health()).isolation).toBe('per-run');
    const script = 'id -u; cat /proc/self/cgroup; echo mine > /tmp/mark; ls /tmp | wc -l; ls /proc | grep -c "^[0-9]"; sleep 1';
    const [a, b] = await Promise.all([sh(booted, script), sh(booted, script)]);
    const [uidA, cgroupA, tmpA] = a.stdout.split('\n');
    const [uidB, , tmpB] = b.stdout.split('\n');
    expect(Number(uidA)).toBeGreaterThanOrEqual(61000);
    expect(uidA).not.toBe(uidB);
    expect(cgroupA).toMatch(/^0::\/.*\/runs\/[0-9a-f-]{36}$/);
    // Each sees only its own mark in /tmp, and only a few processes (its own) in /proc.
    expect([tmpA, tmpB]).toEqual(['1', '1']);
    expect(Number(a.stdout.split('\n')[4])).toBeLessThan(10);
  });

  it('memory limits still hold, and nothing of a run is left once it ends', async () => {
    const { sandbox } = booted;
    // tail -n 1 keeps a line that never ends whole: 128 MiB against a 32 MiB limit.
    const big = await sandbox.exec(['sh', '-c', 'head -c 134217728 /dev/zero | tail -n 1 | wc -c'], {
      memoryBytes: 32 * MiB,
      timeoutMs: 120_000,
    });
    expect(big.status).toBe('memory_limit');
    const left = await sandbox.exec(['sh', '-c', 'env -u RUNBOX_RUN_ID setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!; sleep 0.5'], {
      timeoutMs: 60_000,
    });
    const pid = left.stdout.trim();
    expect(pid).toMatch(/^\d+$/);
    // Tenants cannot see other uids' processes; the file worker (the agent's /proc) can.
    await expect(sandbox.files.stat(`/proc/${pid}`)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('python image with a token: isolation, limits, restart (tap network)', () => {
  const token = `vm-test-${Date.now().toString(36)}`;
  let booted: BootedVm;
  beforeAll(async () => {
    booted = await bootImage('python', { net: 'tap', token, sysrq: true });
  });
  afterAll(async () => booted?.stop());

  it('is reached through the namespace forwarder and demands the token', async () => {
    expect(booted.vm.target).toMatch(/^unix:\/\/.*agent\.sock$/);
    expect(booted.vm.guestTarget).toBe('tcp://172.16.0.2:5000');
    const health = await booted.sandbox.health();
    expect(health.authRequired).toBe(true);
    const wrong = await Sandbox.connect(booted.vm.target, { token: 'not-the-token' });
    try {
      await expect(wrong.languages()).rejects.toBeInstanceOf(AuthenticationError);
    } finally {
      await wrong.close();
    }
  });

  it("reports the VM's memory, not the host's", async () => {
    const info = await booted.sandbox.systemInfo();
    expect(info.memory.totalBytes).toBeLessThanOrEqual(1024 * MiB);
    expect(info.memory.totalBytes).toBeGreaterThan(800 * MiB);
    expect(info.cpu.cores).toBe(2);
  });

  it('runs each of its languages', async () => runsEachLanguage('python', 'systemd', booted));

  it('has IPython for code contexts: state survives between cells', async () => {
    const ctx = await booted.sandbox.contexts.create('python');
    try {
      expect(ctx.version).toMatch(/^IPython \d/);
      await ctx.run('x = 6', { timeoutMs: 120_000 });
      expect((await ctx.run('x * 7', { timeoutMs: 120_000 })).text).toBe('42');
    } finally {
      await ctx.close();
    }
  });

  it('runs user code as runbox, which cannot read the token disk', async () => {
    const who = await booted.sandbox.exec(['id', '-un'], { timeoutMs: 30_000 });
    expect(who.stdout.trim()).toBe('runbox');
    const uid = await booted.sandbox.runCode('python', 'import os; print(os.getuid(), os.geteuid())', { timeoutMs: 30_000 });
    expect(uid.stdout.trim()).not.toMatch(/\b0\b/);
    const read = await booted.sandbox.exec(['cat', '/dev/vdb'], { timeoutMs: 30_000 });
    expect(read.exitCode).not.toBe(0);
    expect(read.stderr).toMatch(/Permission denied/);
    expect(read.stdout).not.toContain(token);
  });

  it("the image spec's env reaches user code", async () => {
    // init/images/python.json: "env": { "PYTHONDONTWRITEBYTECODE": "1" }
    const r = await booted.sandbox.runCode('python', 'import sys; print(sys.flags.dont_write_bytecode)', { timeoutMs: 30_000 });
    expect(r.stdout.trim()).toBe('1');
  });

  it('user code cannot kill the agent (EPERM)', async () => {
    const pids = (await sh(booted, FIND_AGENT_PID)).stdout.trim().split('\n').filter(Boolean);
    expect(pids).toHaveLength(1);
    const kill = await sh(booted, 'kill -9 "$1"', pids[0]!);
    expect(kill.exitCode).not.toBe(0);
    expect(kill.stderr).toMatch(/Operation not permitted/);
    const after = (await sh(booted, FIND_AGENT_PID)).stdout.trim();
    expect(after).toBe(pids[0]);
  });

  it('enforces memory and process limits with cgroup v2, as results', async () => {
    const health = await booted.sandbox.health();
    expect(health.limitsBackend).toBe('cgroup_v2');

    // The classic bomb; its first shell returns at once, so the script then sleeps while the
    // orphans multiply against pids.max (the run's end kills them all).
    const bomb = await booted.sandbox.runCode('bash', ':(){ :|:& };:\nsleep 8\n', { maxProcesses: 64, timeoutMs: 30_000 });
    expect({ processLimitHit: bomb.run?.processLimitHit, message: bomb.message }).toMatchObject({ processLimitHit: true });
    figure(`python VM: fork bomb ended as status=${bomb.status}, processLimitHit=${bomb.run?.processLimitHit}, ${bomb.durationMs} ms`);

    // Run processes do not inherit the agent's OOM protection (-1000), and cannot get it back.
    const adj = await sh(booted, 'cat /proc/self/oom_score_adj; echo -1000 > /proc/self/oom_score_adj');
    expect(adj.stdout.trim()).toBe('0');
    expect(adj.exitCode).not.toBe(0);
    expect(adj.stderr).toMatch(/Permission denied/);

    // 8 MiB chunks, every byte written (b'x' * n fills them), so each one is resident at once.
    // The run must end as memory_limit (the kernel's OOM kill, or runbox's watcher when the
    // kernel gets stuck at the limit), never by its wall-clock limit.
    const hog = await booted.sandbox.runCode('python', 'chunks = []\nwhile True:\n    chunks.append(b"x" * (8 << 20))\n', {
      memoryBytes: 128 * MiB,
      timeoutMs: 120_000,
    });
    expect({ status: hog.status, message: hog.message }).toMatchObject({
      status: 'memory_limit',
      message: expect.stringMatching(/memory limit of 134217728 bytes/),
    });
    expect(hog.peakMemoryBytes).toBeGreaterThan(64 * MiB);
    expect(hog.peakMemoryBytes).toBeLessThanOrEqual(128 * MiB);
    figure(
      `python VM: memory hog (128 MiB limit) ended as status=${hog.status} after ${hog.durationMs} ms, peak ${(hog.peakMemoryBytes / MiB).toFixed(0)} MiB: ${hog.message}`,
    );

    // A normal run: the cgroup measured its CPU time and memory.
    const normal = await booted.sandbox.runCode('python', 'print(sum(i * i for i in range(200_000)))', { timeoutMs: 60_000 });
    expect(normal.status).toBe('exited');
    expect(normal.cpuMs).toBeGreaterThan(0);
    expect(normal.peakMemoryBytes).toBeGreaterThan(0);
    figure(`python VM: a small python run used ${normal.cpuMs} ms CPU, peak ${(normal.peakMemoryBytes / MiB).toFixed(1)} MiB`);

    // The agent kept serving through both.
    expect((await booted.sandbox.health()).activeRuns).toBe(0);
    const after = await booted.sandbox.runCode('python', 'print("still here")', { timeoutMs: 30_000 });
    expect(after.stdout).toBe('still here\n');
  });

  // How the agent is killed: the Magic SysRq key 'i' on the serial console (a BREAK through QEMU's
  // console socket), which makes the guest KERNEL send SIGKILL to every process but init. No login,
  // no agent RPC, no image change: only the boot arg sysrq_always_enabled=1. systemd's Restart=
  // must bring the agent (and the services killed with it) back.
  it('comes back after the agent is SIGKILLed', async () => {
    const before = await booted.sandbox.health();
    await booted.vm.sysrq('i');
    const started = Date.now();
    let back: number | undefined;
    while (Date.now() - started < 120_000) {
      try {
        const health = await booted.sandbox.health({ requestTimeoutMs: 5_000 });
        if (health.uptimeSeconds < before.uptimeSeconds) {
          back = Date.now() - started;
          break;
        }
      } catch {
        // down while it restarts
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(back).toBeDefined();
    figure(`python VM: agent answered again ${back} ms after SysRq kill-all`);
    const log = readFileSync(booted.vm.consoleLog, 'utf8');
    expect(log).toMatch(/sysrq: Kill All Tasks/);
    expect(log).toMatch(/runbox-agent\.service: Main process exited, code=killed, status=9\/KILL/);
    const result = await booted.sandbox.runCode('python', 'print(6 * 7)', { timeoutMs: 30_000 });
    expect(result.stdout).toBe('42\n');
  });
});

describe('nodejs image', () => {
  let booted: BootedVm;
  beforeAll(async () => {
    booted = await bootImage('nodejs');
  });
  afterAll(async () => booted?.stop());

  it('runs each of its languages (javascript, typescript)', async () => runsEachLanguage('nodejs', 'systemd', booted));
});

for (const language of ['go', 'rust'] as const) {
  describe(`${language} image`, () => {
    let booted: BootedVm;
    beforeAll(async () => {
      booted = await bootImage(language);
    });
    afterAll(async () => booted?.stop());

    it('runs its language', async () => runsEachLanguage(language, 'systemd', booted));

    it('reports a compile error as a result', async () => {
      const result = await booted.sandbox.runCode(language, BROKEN[language]!, { compileTimeoutMs: 600_000 });
      expect(result.status).toBe('compile_error');
      expect(result.run).toBeUndefined();
      expect(result.compile?.stderr).toMatch(language === 'go' ? /undefined: undefinedThing/ : /mismatched types|expected `i32`/);
    });

    it('a second run of the same source skips the compile (cache)', async () => {
      const nonce = Date.now().toString(36);
      const source = HELLO[language]!.replace('6 * 7', `6 * 7 /* ${nonce} */`);
      const first = await booted.sandbox.runCode(language, source, { compileTimeoutMs: 600_000 });
      const second = await booted.sandbox.runCode(language, source, { compileTimeoutMs: 600_000 });
      expect([first.stdout, second.stdout]).toEqual(['42\n', '42\n']);
      expect(first.compileCached).toBe(false);
      expect(second.compileCached).toBe(true);
      figure(
        `${language}: first run ${first.durationMs} ms (compile ${first.compile?.durationMs ?? '?'} ms), cached run ${second.durationMs} ms`,
      );
    });
  });
}

describe('python-jwt image (a custom image: python + python3-jwt)', () => {
  let booted: BootedVm;
  beforeAll(async () => {
    booted = await bootImage('python-jwt');
  });
  afterAll(async () => booted?.stop());

  it('encodes and decodes a JWT', async () => {
    const program = [
      'import jwt',
      'token = jwt.encode({"sub": "runbox", "n": 42}, "s3cret", algorithm="HS256")',
      'print(token)',
      'print(jwt.decode(token, "s3cret", algorithms=["HS256"]))',
    ].join('\n');
    const result = await booted.sandbox.runCode('python', program, { timeoutMs: 60_000 });
    expect(result.status).toBe('exited');
    const [token, decoded] = result.stdout.trim().split('\n');
    expect(decoded).toBe("{'sub': 'runbox', 'n': 42}");
    // Check the signature on the host: HMAC-SHA256 over header.payload with the same secret.
    const [header, payload, signature] = token!.split('.');
    expect(createHmac('sha256', 's3cret').update(`${header}.${payload}`).digest('base64url')).toBe(signature);
  });
});

describe('bash image built with OpenRC', () => {
  let booted: BootedVm;
  beforeAll(async () => {
    booted = await bootImage('bash', { init: 'openrc' });
  });
  afterAll(async () => booted?.stop());

  it('boots and serves', async () => {
    const health = await booted.sandbox.health();
    expect(health.runAsUser).toBe('runbox');
    const init = await booted.sandbox.exec(['cat', '/proc/1/comm'], { timeoutMs: 30_000 });
    expect(init.stdout.trim()).not.toBe('systemd');
  });

  it('runs each of its languages', async () => runsEachLanguage('bash', 'openrc', booted));
});

describe('bash image on q35 (the fallback for a QEMU without microvm)', () => {
  let booted: BootedVm;
  beforeAll(async () => {
    booted = await bootImage('bash', { machine: 'q35', net: 'user' });
  });
  afterAll(async () => booted?.stop());

  it('boots on virtio-pci devices and runs code', async () => {
    // microvm has no PCI bus: a PCI device in the guest proves this is the q35 machine.
    const pci = await booted.sandbox.exec(['sh', '-c', 'ls /sys/bus/pci/devices | wc -l'], { timeoutMs: 30_000 });
    expect(Number(pci.stdout.trim())).toBeGreaterThan(0);
    const r = await booted.sandbox.runCode('bash', 'echo "q35 $((6 * 7))"', { timeoutMs: 30_000 });
    expect(r.stdout).toBe('q35 42\n');
  });
});

describe('a guest that cannot boot', () => {
  it('fails fast with its console log and leaves nothing behind', async () => {
    await ensureImage('bash');
    mkdirSync(vmsDir(), { recursive: true });
    const before = readdirSync(vmsDir()).sort();
    // rdinit= pointing nowhere: the kernel skips the initramfs, cannot mount the root disk without
    // its virtio modules and panics; panic=-1 and -no-reboot make QEMU exit.
    const error = await bootVm('bash', { net: 'tap', imagesDir: IMAGES_DIR, extraBootArgs: 'rdinit=/nonexistent' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VmBootError);
    expect((error as VmBootError).message).toMatch(/QEMU ended before the agent answered/);
    expect(readFileSync((error as VmBootError).consoleLog, 'utf8')).toMatch(/Kernel panic/);
    rmSync((error as VmBootError).consoleLog, { force: true });
    expect(readdirSync(vmsDir()).sort()).toEqual(before);
    const id = /^VM (\w+):/.exec((error as VmBootError).message)![1];
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`runbox-${id}`);
  });
});
