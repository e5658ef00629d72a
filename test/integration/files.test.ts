// FilesService against the real agent process: every operation runs as the `runbox` user,
// so the kernel decides permissions; errors carry precise codes naming the path; a 1 GiB
// file streams both ways with the agent's memory bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortError,
  AlreadyExistsError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  Sandbox,
} from '../../host/index.js';
import { IN_CI } from '../helpers/required.js';
import { runboxUserExists, CLI, type RunningAgent, useAgent } from '../helpers/agent.js';
import { failure } from '../helpers/assert.js';

/** Runs the built CLI with `input` on stdin; resolves with its exit code and output. */
function cli(args: string[], input?: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    child.stdin.end(input);
  });
}

const asRoot = process.getuid?.() === 0 && runboxUserExists();
const GiB = 1 << 30;

/** Summed RSS of a process's direct children (the agent's file worker), from /proc. */
function childrenRss(pid: number): number {
  let total = 0;
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      const status = readFileSync(`/proc/${child}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    }
  } catch {
    /* a child exited meanwhile */
  }
  return total;
}

/** Deterministic bytes: block i is sha256(seed, i) repeated; cheap to regenerate and check. */
function patternStream(total: number, seed: string): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const block = createHash('sha256').update(`${seed}:${sent}`).digest();
      const size = Math.min(1 << 20, total - sent);
      const chunk = Buffer.alloc(size, block);
      sent += size;
      this.push(chunk);
    },
  });
}

describe('files', () => {
  let agent: RunningAgent;
  let sb: Sandbox;
  let dir: string;

  const fixture = useAgent();
  beforeAll(async () => {
    ({ agent, sb } = fixture);
    const home = asRoot ? '/home/runbox' : (await sb.files.stat(process.env.HOME ?? '/tmp')).path;
    dir = `${home}/.files-test-${randomBytes(4).toString('hex')}`;
    await sb.files.makeDir(dir);
  });
  afterAll(async () => {
    await sb.files.remove(dir, { recursive: true }).catch(() => undefined);
  });

  it('writes, reads, stats, lists and removes, as the run-as user', async () => {
    const written = await sb.files.write(`${dir}/a/b/hello.txt`, 'héllo wörld\n', { createParents: true });
    expect(written).toMatchObject({ path: `${dir}/a/b/hello.txt`, name: 'hello.txt', type: 'file', size: 14, mode: 0o644 });
    expect(await sb.files.readText(`${dir}/a/b/hello.txt`)).toBe('héllo wörld\n');
    if (asRoot) {
      expect(written.owner).toBe('runbox');
      expect(statSync(`${dir}/a/b/hello.txt`).uid).toBe(Number(/runbox:x:(\d+)/.exec(await sb.files.readText('/etc/passwd'))![1]));
    }
    const binary = randomBytes(700_000); // spans several chunks
    await sb.files.write(`${dir}/a/bin`, binary, { mode: 0o600 });
    expect(Buffer.from(await sb.files.read(`${dir}/a/bin`)).equals(binary)).toBe(true);
    const stat = await sb.files.stat(`${dir}/a/bin`);
    expect(stat).toMatchObject({ type: 'file', size: 700_000, mode: 0o600 });
    expect(Math.abs(stat.modified.getTime() - Date.now())).toBeLessThan(3_600_000);

    const listing = await sb.files.list(`${dir}/a`);
    expect(listing.map((e) => [e.name, e.type])).toEqual([
      ['b', 'directory'],
      ['bin', 'file'],
    ]);
    await sb.files.remove(`${dir}/a/bin`);
    await expect(sb.files.stat(`${dir}/a/bin`)).rejects.toThrow(NotFoundError);
    await sb.files.remove(`${dir}/a`, { recursive: true });
    expect(await sb.files.list(dir)).toEqual([]);
  });

  it('a new file asked for setuid/setgid bits has them after its data is written (the kernel clears them on write)', async () => {
    const written = await sb.files.write(`${dir}/suid`, randomBytes(300_000), { mode: 0o6755 });
    expect(written.mode).toBe(0o6755);
    expect((await sb.files.stat(`${dir}/suid`)).mode).toBe(0o6755);
    expect(statSync(`${dir}/suid`).mode & 0o7777).toBe(0o6755);
    await sb.files.remove(`${dir}/suid`);
  });

  it('makes directories with parents and modes; existing ones only with parents', async () => {
    const made = await sb.files.makeDir(`${dir}/m/n/o`, { parents: true, mode: 0o700 });
    expect(made).toMatchObject({ type: 'directory', mode: 0o700 });
    await sb.files.makeDir(`${dir}/m/n/o`, { parents: true });
    const again = await failure(sb.files.makeDir(`${dir}/m`));
    expect(again).toBeInstanceOf(AlreadyExistsError);
    expect(again.message).toContain(`${dir}/m`);
    const missingParent = await failure(sb.files.makeDir(`${dir}/x/y`));
    expect(missingParent).toBeInstanceOf(NotFoundError);
  });

  it('symlinks are described by stat and followed by read', async () => {
    await sb.files.write(`${dir}/target.txt`, 'via link');
    const { symlinkSync, lchownSync } = await import('node:fs');
    symlinkSync(`${dir}/target.txt`, `${dir}/link`);
    if (asRoot) lchownSync(`${dir}/link`, statSync(dir).uid, statSync(dir).gid);
    expect(await sb.files.stat(`${dir}/link`)).toMatchObject({ type: 'symlink', symlinkTarget: `${dir}/target.txt` });
    expect(await sb.files.readText(`${dir}/link`)).toBe('via link');
  });

  it('refuses to overwrite with noOverwrite, replaces otherwise', async () => {
    await sb.files.write(`${dir}/once`, 'first');
    const error = await failure(sb.files.write(`${dir}/once`, 'second', { noOverwrite: true }));
    expect(error).toBeInstanceOf(AlreadyExistsError);
    expect(error.message).toContain(`${dir}/once`);
    expect(await sb.files.readText(`${dir}/once`)).toBe('first');
    await sb.files.write(`${dir}/once`, 'third');
    expect(await sb.files.readText(`${dir}/once`)).toBe('third');
  });

  it('bad paths are INVALID_ARGUMENT naming the path', async () => {
    for (const [path, why] of [
      ['relative/file', /"relative\/file": must be absolute/],
      ['', /must not be empty/],
      ['/tmp/nul\0byte', /contains a NUL byte/],
    ] as const) {
      const error = await failure(sb.files.readText(path));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toMatch(why);
      const write = await failure(sb.files.write(path, 'x'));
      expect(write.code).toBe('invalid_argument');
      expect((await failure(sb.files.stat(path))).code).toBe('invalid_argument');
    }
    expect((await failure(sb.files.write(`${dir}/m1`, 'x', { mode: 0o10000 }))).message).toMatch(/mode/);
  });

  it.runIf(asRoot || IN_CI)('path traversal is resolved by the kernel as the user: PERMISSION_DENIED naming the path', async () => {
    const sneaky = '/home/runbox/../../etc/shadow';
    const read = await failure(sb.files.read(sneaky));
    expect(read).toBeInstanceOf(PermissionDeniedError);
    expect(read.message).toContain(sneaky);
    const stream = sb.files.readStream(`${dir}/../../../root/.bashrc`);
    const streamError = new Promise((resolve) => stream.on('error', resolve));
    const streamed = await failure(stream.info);
    expect(streamed).toBeInstanceOf(PermissionDeniedError);
    expect(await streamError).toBe(streamed);

    for (const target of ['/etc/runbox-should-not-exist', `${dir}/../../../root/runbox-should-not-exist`]) {
      const error = await failure(sb.files.write(target, 'pwned', { createParents: true }));
      expect(error).toBeInstanceOf(PermissionDeniedError);
      expect(error.code).toBe('permission_denied');
      expect(error.message).toContain(target);
      expect(() => statSync(target)).toThrow(/ENOENT/);
    }
    expect((await failure(sb.files.remove('/etc/hostname'))).code).toBe('permission_denied');
    expect((await failure(sb.files.makeDir('/opt/runbox-x'))).code).toBe('permission_denied');
    expect((await failure(sb.files.list('/root'))).code).toBe('permission_denied');
  });

  it('wrong file types are FAILED_PRECONDITION; a missing file NOT_FOUND', async () => {
    await sb.files.makeDir(`${dir}/full/inner`, { parents: true });
    await sb.files.write(`${dir}/plain`, 'x');
    const cases: [() => Promise<unknown>, string, RegExp][] = [
      [() => sb.files.read(`${dir}/full`), 'failed_precondition', /is a directory/],
      [() => sb.files.remove(`${dir}/full`), 'failed_precondition', /not empty.*recursive/],
      [() => sb.files.list(`${dir}/plain`), 'failed_precondition', /not a directory/],
      [() => sb.files.write(`${dir}/plain/child`, 'x'), 'failed_precondition', /not a directory/],
      [() => sb.files.read(`${dir}/missing`), 'not_found', /no such file/],
      [() => sb.files.remove(`${dir}/missing`), 'not_found', /no such file/],
    ];
    for (const [promise, code, message] of cases) {
      const error = await failure(promise());
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      expect(error.message).toContain(dir);
    }
  });

  it.runIf(asRoot || IN_CI)('a FIFO is refused instead of hanging the worker', async () => {
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [`${dir}/fifo`]);
    const { chownSync } = await import('node:fs');
    chownSync(`${dir}/fifo`, statSync(dir).uid, statSync(dir).gid);
    for (const attempt of [() => sb.files.read(`${dir}/fifo`), () => sb.files.write(`${dir}/fifo`, 'x')]) {
      const error = await failure(attempt());
      expect(error.code).toBe('failed_precondition');
      expect(error.message).toContain(`${dir}/fifo`);
    }
    expect(await sb.files.readText('/etc/hostname')).not.toBe('');
  });

  it('a full disk is RESOURCE_EXHAUSTED (ENOSPC from /dev/full)', async () => {
    const error = await failure(sb.files.write('/dev/full', randomBytes(300_000)));
    expect(error).toBeInstanceOf(ResourceExhaustedError);
    expect(error.message).toMatch(/"\/dev\/full": no space left on device \(ENOSPC\)/);
  });

  it('streams from a Readable and to a Readable; abort cancels a read', async () => {
    const size = 5 * (1 << 20) + 17;
    const info = await sb.files.write(`${dir}/streamed`, patternStream(size, 's'));
    expect(info.size).toBe(size);
    const stream = sb.files.readStream(`${dir}/streamed`);
    expect((await stream.info).size).toBe(size);
    const hash = createHash('sha256');
    for await (const chunk of stream) hash.update(chunk as Buffer);
    const expected = createHash('sha256');
    for await (const chunk of patternStream(size, 's')) expected.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));

    const controller = new AbortController();
    const aborted = sb.files.readStream(`${dir}/streamed`, { signal: controller.signal });
    await aborted.info;
    controller.abort();
    const error = await failure(
      (async () => {
        for await (const _ of aborted) void _;
      })(),
    );
    expect(error).toBeInstanceOf(AbortError);
    await expect(sb.files.read(`${dir}/x`, { signal: controller.signal })).rejects.toThrow(AbortError);
  });

  it('the agent keeps serving after all of the above', async () => {
    expect((await sb.health()).version).toMatch(/^\d+\.\d+/);
    expect(await sb.files.readText(`${dir}/once`)).toBe('third');
  });

  it('1 GiB round trip with bounded agent memory', { timeout: 600_000 }, async () => {
    const before = agent.rssBytes();
    let peak = before;
    let workerPeak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, agent.rssBytes());
      workerPeak = Math.max(workerPeak, childrenRss(agent.process.pid!));
    }, 100);
    try {
      const t0 = performance.now();
      const info = await sb.files.write(`${dir}/big`, patternStream(GiB, 'big'));
      const t1 = performance.now();
      expect(info.size).toBe(GiB);
      const hash = createHash('sha256');
      let read = 0;
      for await (const chunk of sb.files.readStream(`${dir}/big`)) {
        hash.update(chunk as Buffer);
        read += (chunk as Buffer).length;
      }
      const t2 = performance.now();
      expect(read).toBe(GiB);
      const expected = createHash('sha256');
      for await (const chunk of patternStream(GiB, 'big')) expected.update(chunk as Buffer);
      expect(hash.digest('hex')).toBe(expected.digest('hex'));
      const mibps = (ms: number) => (1024 / (ms / 1000)).toFixed(0);
      console.log(
        `1 GiB: write ${mibps(t1 - t0)} MiB/s, read ${mibps(t2 - t1)} MiB/s; agent RSS ${(before / 2 ** 20).toFixed(0)} MiB before, peak ${(peak / 2 ** 20).toFixed(0)} MiB; file worker peak RSS ${(workerPeak / 2 ** 20).toFixed(0)} MiB`,
      );
      // Generous: the point is that 1 GiB never sits in the agent (it would be > 1 GiB).
      expect(peak - before).toBeLessThan(256 * 2 ** 20);
      expect(workerPeak).toBeLessThan(512 * 2 ** 20);
    } finally {
      clearInterval(sampler);
      await sb.files.remove(`${dir}/big`).catch(() => undefined);
    }
  });
});

describe('runbox cp', () => {
  let agent: RunningAgent;
  let sb: Sandbox;
  let dir: string;
  let local: string;
  const cp = (...args: string[]) => cli(['cp', '--target', agent.unixTarget, ...args]);

  const fixture = useAgent();
  beforeAll(async () => {
    ({ agent, sb } = fixture);
    const home = asRoot ? '/home/runbox' : os.homedir();
    dir = `${home}/.cp-test-${randomBytes(4).toString('hex')}`;
    await sb.files.makeDir(dir);
    local = mkdtempSync(path.join(os.tmpdir(), 'runbox-cp-'));
  });
  afterAll(async () => {
    await sb.files.remove(dir, { recursive: true }).catch(() => undefined);
    rmSync(local, { recursive: true, force: true });
  });

  it('copies in and out, keeping the mode; into directories; from stdin and to stdout', async () => {
    const data = randomBytes(3 * (1 << 20) + 5);
    writeFileSync(path.join(local, 'data.bin'), data);
    chmodSync(path.join(local, 'data.bin'), 0o640);
    expect((await cp(path.join(local, 'data.bin'), `sandbox:${dir}/sub/data.bin`, '--parents')).code).toBe(0);
    expect(Buffer.from(await sb.files.read(`${dir}/sub/data.bin`)).equals(data)).toBe(true);
    expect((await sb.files.stat(`${dir}/sub/data.bin`)).mode).toBe(0o640);

    expect((await cp(path.join(local, 'data.bin'), `sandbox:${dir}/`)).code).toBe(0);
    expect((await sb.files.stat(`${dir}/data.bin`)).size).toBe(data.length);

    expect((await cp(`sandbox:${dir}/sub/data.bin`, path.join(local, 'back.bin'))).code).toBe(0);
    expect(readFileSync(path.join(local, 'back.bin')).equals(data)).toBe(true);
    expect((await cp(`sandbox:${dir}/sub/data.bin`, `${local}/`)).code).toBe(0);
    expect(readFileSync(path.join(local, 'data.bin')).equals(data)).toBe(true);

    const viaStdin = await cli(
      ['cp', '--target', agent.unixTarget, '-', `sandbox:${dir}/stdin.txt`, '--mode', '600'],
      Buffer.from('from stdin\n'),
    );
    expect(viaStdin.code).toBe(0);
    expect(await sb.files.stat(`${dir}/stdin.txt`)).toMatchObject({ size: 11, mode: 0o600 });
    const toStdout = await cp(`sandbox:${dir}/stdin.txt`, '-');
    expect(toStdout).toMatchObject({ code: 0 });
    expect(toStdout.stdout.toString()).toBe('from stdin\n');
  });

  it('fails with 125 and one line naming the path; usage errors exit 2', async () => {
    const missing = await cp(`sandbox:${dir}/nope`, path.join(local, 'nope'));
    expect(missing.code).toBe(125);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain(`${dir}/nope`);
    expect(existsSync(path.join(local, 'nope'))).toBe(false);
    if (asRoot) {
      writeFileSync(path.join(local, 'x'), 'x');
      const denied = await cp(path.join(local, 'x'), 'sandbox:/etc/runbox-cp-denied');
      expect(denied.code).toBe(125);
      expect(denied.stderr).toMatch(/"\/etc\/runbox-cp-denied": permission denied/);
    }
    const clobber = await cp('--no-clobber', path.join(local, 'back.bin'), `sandbox:${dir}/data.bin`);
    expect(clobber.code).toBe(125);
    expect(clobber.stderr).toMatch(/already exists/);
    expect((await cp(path.join(local, 'a'), path.join(local, 'b'))).code).toBe(2);
    expect((await cp(`sandbox:/a`, `sandbox:/b`)).stderr).toMatch(/exactly one of SRC and DST/);
    expect((await cp('only-one')).code).toBe(2);
    expect((await cp('--mode', '9z', '-', 'sandbox:/tmp/x')).stderr).toMatch(/--mode 9z/);
  });
});
