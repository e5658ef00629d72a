// `runbox vm ...` as a user runs it: the built CLI (dist/host/cli.js) as a child process, booting
// the bash image (the smallest) in the foreground and detached, and writing a Firecracker config
// from a real image.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/agent.js';
import { ensureImage, figure, IMAGES_DIR } from './vm-helpers.js';
import { findBootableImage } from '../../host/vm/image.js';
import type { VmState } from '../../host/vm/state.js';
import type { SandboxInfo } from '../../host/vm/list.js';

const run = promisify(execFile);

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 600_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

async function netnsList(): Promise<string> {
  return (await run('ip', ['netns', 'list'])).stdout;
}

beforeAll(async () => {
  if (IMAGES_DIR) throw new Error('vm-cli tests use the default image directory ($RUNBOX_HOME/images); unset RUNBOX_TEST_IMAGES_DIR');
  await ensureImage('bash');
});

describe('runbox vm run (foreground, tap)', () => {
  it('prints the target, serves, and cleans up on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'vm', 'run', 'bash', '--net', 'tap'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const target = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        const match = /^target\s+(\S+)$/m.exec(stdout);
        if (match && /^stop\s/m.test(stdout)) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`vm run exited ${code} before ready:\n${stdout}\n${stderr}`)));
    });
    expect(target).toMatch(/^unix:\/\/.*\/agent\.sock$/);
    const id = /^vm (\w+) ready in ([\d.]+) s/m.exec(stdout)!;
    figure(`runbox vm run bash (CLI, tap): ready in ${id[2]} s`);
    const consoleLog = /^console\s+(\S+)$/m.exec(stdout)![1]!;
    expect(existsSync(consoleLog)).toBe(true);
    expect(await netnsList()).toContain(`runbox-${id[1]}`);

    const info = await cli('info', '--target', target, '--json');
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout).health.runAsUser).toBe('runbox');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/stopped \(qmp-quit\); cleaned up/);
    expect(await netnsList()).not.toContain(`runbox-${id[1]}`);
    expect(existsSync(path.dirname(consoleLog))).toBe(false);
  });
});

describe('runbox vm run --detach, ls, stop (user-mode network)', () => {
  let state: VmState | undefined;
  afterAll(async () => {
    if (state) await cli('vm', 'stop', state.id);
  });

  it('leaves the VM running, lists it, and stops it', async () => {
    const started = await cli('vm', 'run', 'bash', '--net', 'user', '--memory', '512', '--detach', '--json');
    expect(started.code, started.stderr).toBe(0);
    state = JSON.parse(started.stdout) as VmState;
    expect(state.target).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    figure(`runbox vm run bash --detach (CLI, user net): ready in ${state.bootToReadySeconds} s`);

    // The CLI has exited; the VM still serves.
    const info = await cli('info', '--target', state.target, '--json');
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout).system.memory.totalBytes).toBeLessThanOrEqual(512 << 20);

    const listed = JSON.parse((await cli('vm', 'ls', '--json')).stdout) as SandboxInfo[];
    expect(listed.find((s) => s.id === state!.id)).toMatchObject({
      status: 'running',
      image: 'bash',
      target: state.target,
      memoryMiB: 512,
    });

    const stopped = await cli('vm', 'stop', state.id);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain(`vm ${state.id}: stopped`);
    expect(existsSync(state.dir)).toBe(false);
    const after = JSON.parse((await cli('vm', 'ls', '--json')).stdout) as SandboxInfo[];
    expect(after.some((s) => s.id === state!.id)).toBe(false);
    state = undefined;
  });

  it('names what is wrong with bad input', async () => {
    const noImage = await cli('vm', 'run', 'no-such-image', '--net', 'user');
    expect(noImage.code).toBe(125);
    expect(noImage.stderr).toMatch(/image no-such-image \(systemd\) is not built.*runbox image build no-such-image/s);
    const badNet = await cli('vm', 'run', 'bash', '--net', 'bridge');
    expect(badNet.code).toBe(2);
    expect(badNet.stderr).toMatch(/--net bridge: expected tap or user/);
    const badId = await cli('vm', 'stop', '../etc');
    expect(badId.code).toBe(2);
    const unknown = await cli('vm', 'stop', 'deadbeef');
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toMatch(/vm deadbeef: no such VM/);
  });
});

describe('runbox vm firecracker-config', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(path.join(os.tmpdir(), 'runbox-fc-'));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('writes a config whose files are the image artifacts Firecracker needs', async () => {
    const tokenFile = path.join(out, 'token');
    await import('node:fs/promises').then((fs) => fs.writeFile(tokenFile, 'fc-token\n'));
    const written = await cli(
      'vm',
      'firecracker-config',
      'bash',
      '--tap',
      'fc-tap0',
      '--vsock',
      path.join(out, 'v.sock'),
      '--out',
      path.join(out, 'vm'),
      '--token-file',
      tokenFile,
      '--cpus',
      '2',
      '--memory',
      '768',
    );
    expect(written.code, written.stderr).toBe(0);
    const config = JSON.parse(readFileSync(path.join(out, 'vm', 'firecracker.json'), 'utf8'));
    const image = await findBootableImage('bash');

    // Firecracker on x86_64 boots an uncompressed ELF kernel.
    const kernel = config['boot-source'].kernel_image_path as string;
    expect(kernel).toBe(image.vmlinux);
    const fd = openSync(kernel, 'r');
    const magic = Buffer.alloc(4);
    readSync(fd, magic, 0, 4, 0);
    closeSync(fd);
    expect(magic.toString('latin1')).toBe('\x7fELF');
    expect(config['boot-source'].initrd_path).toBe(image.initrd);

    // The root drive is the VM's own copy, byte-size identical and sparse; the token disk is read-only.
    const [root, token] = config.drives;
    expect(root.path_on_host).toBe(path.join(out, 'vm', 'rootfs.ext4'));
    expect(statSync(root.path_on_host).size).toBe(image.entry.rootfs.size);
    expect(statSync(root.path_on_host).blocks * 512).toBeLessThan(image.entry.rootfs.size);
    expect(readFileSync(token.path_on_host).subarray(0, 9).toString()).toBe('fc-token\0');
    expect(token.is_read_only).toBe(true);
    expect(config['machine-config']).toEqual({ vcpu_count: 2, mem_size_mib: 768, smt: false });
  });
});

describe('runbox vm create, pause, resume, fork, stop (sandboxes, user-mode network)', () => {
  interface Summary {
    id: string;
    target: string;
    tokenFile: string;
    restoredFrom: string;
  }
  const made: string[] = [];
  afterAll(async () => {
    if (made.length > 0) await cli('vm', 'stop', ...made);
  });
  const echo = async (s: Summary, text: string) => cli('exec', '--target', s.target, '--token-file', s.tokenFile, '--', 'echo', text);

  it('drives a sandbox through its life from separate CLI invocations', async () => {
    const created = await cli('vm', 'create', 'bash', '--net', 'user', '--json');
    expect(created.code, created.stderr).toBe(0);
    const first = JSON.parse(created.stdout) as Summary;
    made.push(first.id);
    expect(first.restoredFrom).toMatch(/^template [0-9a-f]{32}$/);
    expect(statSync(first.tokenFile).mode & 0o777).toBe(0o600);
    expect((await echo(first, 'one')).stdout).toBe('one\n');

    const paused = await cli('vm', 'pause', first.id);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain(`sandbox ${first.id}: paused`);
    const listed = JSON.parse((await cli('vm', 'ls', '--json')).stdout) as SandboxInfo[];
    expect(listed.find((s) => s.id === first.id)).toMatchObject({ status: 'paused', image: 'bash' });

    const resumed = await cli('vm', 'resume', first.id, '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    const back = JSON.parse(resumed.stdout) as Summary;
    made.push(back.id);
    expect(back.restoredFrom).toBe(`paused ${first.id}`);
    expect((await echo(back, 'two')).stdout).toBe('two\n');

    const forked = await cli('vm', 'fork', back.id, '-n', '2', '--json');
    expect(forked.code, forked.stderr).toBe(0);
    const children = JSON.parse(forked.stdout) as Summary[];
    made.push(...children.map((c) => c.id));
    expect(children).toHaveLength(2);
    for (const child of children) {
      expect(child.restoredFrom).toBe(`fork of ${back.id}`);
      expect((await echo(child, 'three')).stdout).toBe('three\n');
    }
    expect((await echo(back, 'parent')).stdout).toBe('parent\n');

    const stopped = await cli('vm', 'stop', back.id, ...children.map((c) => c.id));
    expect(stopped.code, stopped.stderr).toBe(0);
    const after = JSON.parse((await cli('vm', 'ls', '--json')).stdout) as SandboxInfo[];
    for (const id of [first.id, back.id, ...children.map((c) => c.id)]) expect(after.some((s) => s.id === id)).toBe(false);
    made.length = 0;
  }, 900_000);

  it('names what is wrong: an unknown paused id, a VM that is not a sandbox', async () => {
    const unknown = await cli('vm', 'resume', '0badc0de');
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toMatch(/paused sandbox 0badc0de: not found/);
    const notRunning = await cli('vm', 'pause', '0badc0de');
    expect(notRunning.code).toBe(125);
    expect(notRunning.stderr).toMatch(/vm 0badc0de: no such running sandbox/);
  });
});
