// ListDir pages so every response fits other languages' 4 MiB default receive limit, and the
// file worker (which runs as the user's uid, so user code can reach its pipes) cannot end or
// bloat the agent with bad frames: the agent drops that worker and the next call gets a new one.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unaryCall } from '../../proto/grpc.js';
import { FilesService, ListDirRequestSchema, type ListDirResponse } from '../../proto/gen/runbox/v1/files_pb.js';
import { runboxUserExists, useAgent } from '../helpers/agent.js';
import { failure } from '../helpers/assert.js';
import { requireInCi } from '../helpers/required.js';

const asRoot = process.getuid?.() === 0 && runboxUserExists();
const MiB4 = 4 << 20;
const ENTRIES = 31_000;

// pidfd_getfd(2) takes a copy of another process's fd; root may, and so would a process of the
// worker's uid if the worker ran with it as its real uid. The worker's stdio are socketpairs, so /proc/PID/fd won't do.
const STEAL_AND_WRITE = [
  'import ctypes, os, sys',
  'pid, data = int(sys.argv[1]), bytes.fromhex(sys.argv[2])',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'fd = libc.syscall(438, os.pidfd_open(pid), 1, 0)',
  'if fd < 0: raise OSError(ctypes.get_errno(), "pidfd_getfd")',
  'os.write(fd, data)',
].join('\n');

describe('ListDir paging', () => {
  const fixture = useAgent();
  let dir: string;
  // A client with the 4 MiB receive limit of Go, Python, Java, ... gRPC clients.
  let small: grpc.Client;

  beforeAll(async () => {
    const home = asRoot ? '/home/runbox' : (await fixture.sb.files.stat(process.env.HOME ?? '/tmp')).path;
    dir = `${home}/.paging-${randomBytes(4).toString('hex')}`;
    // 31 000 names of 200+ bytes: about 17 MB as one message, which no default client takes.
    const make = `const fs=require('fs');fs.mkdirSync(process.argv[1]);for(let i=0;i<${ENTRIES};i++)fs.writeFileSync(process.argv[1]+'/'+'n'.repeat(200)+String(i).padStart(6,'0'),'')`;
    const made = await fixture.sb.exec([process.execPath, '-e', make, dir], { timeoutMs: 120_000 });
    expect(made.exitCode, made.stderr).toBe(0);
    small = new grpc.Client(fixture.agent.unixTarget, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': MiB4 });
  }, 180_000);
  afterAll(async () => {
    small?.close();
    await fixture.sb.files.remove(dir, { recursive: true });
  });

  const page = (pageToken = '', pageSize = 0): Promise<ListDirResponse> =>
    unaryCall(small, FilesService.method.listDir, create(ListDirRequestSchema, { path: dir, pageToken, pageSize }), {
      metadata: new grpc.Metadata(),
      options: {},
    }).response;

  it('a 4 MiB client reads every entry page by page, in name order, each page under 4 MiB', async () => {
    const names: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const p = await page(token);
      pages++;
      expect(p.entries.length).toBeLessThanOrEqual(1000);
      names.push(...p.entries.map((e) => e.name));
      token = p.nextPageToken;
    } while (token !== '');
    expect(pages).toBe(Math.ceil(ENTRIES / 1000));
    expect(names).toHaveLength(ENTRIES);
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(ENTRIES);
  });

  it('the largest page (10 000 entries) still fits 4 MiB: it ends early by bytes', async () => {
    const p = await page('', 10_000);
    expect(p.entries.length).toBeGreaterThan(1000);
    expect(p.nextPageToken).not.toBe('');
  });

  it('the SDK collects all pages', async () => {
    const all = await fixture.sb.files.list(dir);
    expect(all).toHaveLength(ENTRIES);
    expect(all[0]!.name).toBe('n'.repeat(200) + '000000');
    expect(all.at(-1)!.name).toBe('n'.repeat(200) + String(ENTRIES - 1).padStart(6, '0'));
  });

  it('bad page_size and page_token are INVALID_ARGUMENT naming the field', async () => {
    const tooBig = await failure(page('', 10_001));
    expect(tooBig.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(tooBig.message).toMatch(/page_size 10001 is over 10000/);
    const forged = await failure(page('not a token!'));
    expect(forged.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(forged.message).toMatch(/page_token/);
  });
});

describe("the file worker, out of user code's reach", () => {
  const fixture = useAgent();

  it('user code of the same user cannot take its fds, signal it, or read its /proc fds', async (ctx) => {
    requireInCi(ctx, asRoot, "root with the runbox user (the worker must run with the user's effective ids)");
    await fixture.sb.files.stat('/');
    const line = fixture.agent.log.filter((l) => l.includes('event=files.worker_started')).at(-1);
    const pid = Number(/pid=(\d+)/.exec(line ?? '')?.[1]);
    const steal = await fixture.sb.exec(['/usr/bin/python3', '-c', STEAL_AND_WRITE, String(pid), '000000000000000000']);
    expect(steal.stderr).toMatch(/PermissionError|Operation not permitted/);
    const stop = await fixture.sb.exec(['kill', '-STOP', String(pid)]);
    expect(stop.exitCode).not.toBe(0);
    expect(stop.stderr).toMatch(/not permitted/i);
    const fds = await fixture.sb.exec(['ls', `/proc/${pid}/fd`]);
    expect(fds.exitCode).not.toBe(0);
    // It still acts as the user: what it creates is the user's.
    const made = await fixture.sb.files.write(`/tmp/worker-owner-${pid}`, 'x');
    expect(made.owner).toBe('runbox');
    await fixture.sb.files.remove(made.path);
    expect(fixture.agent.log.some((l) => l.includes('event=files.worker_broken'))).toBe(false);
  });
});

describe('a file worker that breaks the protocol', () => {
  const fixture = useAgent();

  /** The pid the agent logged for the worker it started last. */
  function workerPid(): number {
    const line = fixture.agent.log.filter((l) => l.includes('event=files.worker_started')).at(-1);
    return Number(/pid=(\d+)/.exec(line ?? '')?.[1]);
  }

  // Written by this (root) test process: user code can no longer reach the pipes (see above),
  // but a bug or a future hole must still not end the agent.
  async function forgeFrame(hex: string, what: string): Promise<void> {
    await fixture.sb.files.stat('/');
    const pid = workerPid();
    expect(pid, 'the agent logged its worker').toBeGreaterThan(0);
    const brokenBefore = fixture.agent.log.filter((l) => l.includes('event=files.worker_broken')).length;
    const r = spawnSync('/usr/bin/python3', ['-c', STEAL_AND_WRITE, String(pid), hex], { encoding: 'utf8' });
    expect(r.status, `${what}: ${r.stderr}`).toBe(0);
    await expect
      .poll(() => fixture.agent.log.filter((l) => l.includes('event=files.worker_broken')).length, { timeout: 10_000 })
      .toBe(brokenBefore + 1);
    expect(fixture.agent.process.exitCode, 'the agent is still running').toBeNull();
    // The next call gets a fresh worker and works.
    expect((await fixture.sb.files.stat('/')).type).toBe('directory');
    expect(workerPid()).not.toBe(pid);
  }

  it('a zero-length frame ends the worker, not the agent', async () => {
    await forgeFrame('000000000000000000', 'zero length');
  });

  it('a 4 GiB length prefix is refused before anything is buffered for it', async () => {
    const rssBefore = fixture.agent.rssBytes();
    await forgeFrame('ffffffff0000000110', '4 GiB prefix');
    expect(fixture.agent.rssBytes() - rssBefore).toBeLessThan(64 << 20);
  });

  it('an unknown frame kind is refused', async () => {
    await forgeFrame('000000050000000163', 'kind 99');
  });
});

describe('a file worker that stops answering', () => {
  const fixture = useAgent({ args: ['--file-timeout-ms', '1500'] });

  it('fails the call UNAVAILABLE after --file-timeout-ms, replaces the worker, and the next call works', async () => {
    await fixture.sb.files.stat('/');
    const line = fixture.agent.log.filter((l) => l.includes('event=files.worker_started')).at(-1);
    const pid = Number(/pid=(\d+)/.exec(line ?? '')?.[1]);
    process.kill(pid, 'SIGSTOP');
    const error = await failure(fixture.sb.files.stat('/etc'));
    expect(error.code).toBe('unavailable');
    expect(error.reason).toBe('FILE_WORKER_FAILED');
    expect(error.message).toMatch(/answered nothing for 1500 ms \(--file-timeout-ms\)/);
    expect(fixture.agent.log.some((l) => l.includes('event=files.worker_broken'))).toBe(true);
    expect((await fixture.sb.files.stat('/etc')).type).toBe('directory');
  });
});
