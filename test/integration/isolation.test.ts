// --isolation per-run against the real agent (root, user code as pool uids): each attack a run
// of the same sandbox could make on a concurrent one under `shared` (read its environ and
// files, see its /tmp, signal it, outlive it) is refused, and the request's environment never
// reaches the root part of the start-up. The agent here has no cgroups (this machine's are not
// ours): what these tests prove holds with the `none` limits backend too.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessHandle } from '../../host/index.js';
import { runboxUserExists, startAgent, useAgent } from '../helpers/agent.js';
import { IN_CI, requireInCi, requireSuiteInCi } from '../helpers/required.js';

const asRoot = process.getuid?.() === 0 && runboxUserExists();
/** Outside CI a machine without root or the runbox user skips these; CI, which has both, fails without them. */
const requireRoot = () => requireSuiteInCi(asRoot, 'root with the runbox user (per-run isolation drops to pool uids)');
const FIRST_UID = 61000;
const LAST_UID = 61099;

/** Live (not zombie) pids whose real, effective or saved uid is `uid` (read as root from /proc). */
function processesOf(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'latin1');
      const ids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
      // A killed orphan stays a zombie until init reaps it: dead, whatever /proc still shows.
      if (/^State:\s+Z/m.test(status)) continue;
      if (ids?.slice(1).some((id) => Number(id) === uid)) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Resolves with the first stdout line of a background run, once it has printed it. */
function firstLine(start: (onStdout: (text: string) => void) => Promise<ProcessHandle>): Promise<{ handle: ProcessHandle; line: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    let handle: ProcessHandle | undefined;
    let line: string | undefined;
    const done = () => handle && line !== undefined && resolve({ handle, line });
    start((chunk) => {
      text += chunk;
      if (line === undefined && text.includes('\n')) {
        line = text.slice(0, text.indexOf('\n'));
        done();
      }
    }).then((h) => {
      handle = h;
      done();
    }, reject);
  });
}

describe.skipIf(!asRoot && !IN_CI)('--isolation per-run', () => {
  beforeAll(requireRoot);
  // Not under /tmp: every tenant gets a private /tmp, so the agent's directories live elsewhere.
  const base = mkdtempSync('/var/lib/runbox-isolation-test-');
  chmodSync(base, 0o755);
  const probe = path.join(base, 'probe');
  mkdirSync(probe, { mode: 0o1777 });
  chmodSync(probe, 0o1777);
  afterAll(() => rmSync(base, { recursive: true, force: true }));
  const fixture = useAgent({
    args: [
      '--isolation',
      'per-run',
      '--run-uids',
      `${FIRST_UID}-${LAST_UID}`,
      '--max-concurrent',
      '8',
      '--max-shells',
      '4',
      '--work-dir',
      path.join(base, 'runs'),
      '--cache-dir',
      path.join(base, 'cache'),
    ],
  });

  it('says so in Health and gives each run a uid of its own from --run-uids', async () => {
    const { sb } = fixture;
    expect((await sb.health()).isolation).toBe('per-run');
    const ids = await Promise.all(Array.from({ length: 4 }, () => sb.exec(['sh', '-c', 'id -u; id -G; sleep 0.5'])));
    const uids = ids.map((r) => Number(r.stdout.split('\n')[0]));
    expect(new Set(uids).size).toBe(4);
    for (const r of ids) {
      const [uid, groups] = r.stdout.split('\n');
      expect(Number(uid)).toBeGreaterThanOrEqual(FIRST_UID);
      expect(Number(uid)).toBeLessThanOrEqual(LAST_UID);
      // No supplementary group: only the uid's own gid.
      expect(groups).toBe(uid);
    }
  });

  it('a concurrent run cannot see, read, write or signal another run', async () => {
    const { sb } = fixture;
    // It announces itself once its secrets are written.
    const victimScript = ['echo secret-home > "$HOME/secret"', 'echo secret-tmp > /tmp/secret', 'echo "$$ $HOME"', 'exec sleep 30'].join(
      '; ',
    );
    const { handle: victim, line } = await firstLine((onStdout) =>
      sb.exec(['sh', '-c', victimScript], { env: { VICTIM_TOKEN: 'hunter2' }, background: true, onStdout }),
    );
    try {
      const [pid, home] = line.split(' ');
      const attack = [
        `cat /proc/${pid}/environ && echo LEAK-environ`,
        `ls /proc/${pid} >/dev/null 2>&1 && echo LEAK-proc`,
        `cat ${home}/secret && echo LEAK-home`,
        `echo x > ${home}/planted && echo LEAK-write`,
        `kill -STOP ${pid} && echo LEAK-signal`,
        'ls -A /tmp',
        'echo own-processes $(ls /proc | grep -c "^[0-9]")',
      ].join('; ');
      const r = await sb.exec(['sh', '-c', attack]);
      expect(r.stdout).not.toMatch(/LEAK|hunter2|secret-/);
      expect(r.stdout).toMatch(/own-processes [1-9]\b/);
      // This run's /tmp is its own, empty one: the victim's /tmp/secret is not in it.
      expect(r.stdout.split('\n').filter((l) => l && !l.startsWith('own-processes'))).toEqual([]);
      expect(r.stderr).toMatch(/Permission denied|No such file|Operation not permitted/);
      // The victim still runs, unaffected.
      expect(processesOf(Number(statSync(home!).uid)).length).toBeGreaterThan(0);
    } finally {
      victim.kill();
      await victim.wait();
    }
  });

  it('nothing of a run outlives it: a daemon that dropped the run marker dies, its files go', async () => {
    const { sb } = fixture;
    // env -u drops RUNBOX_RUN_ID, the marker the `none` backend's tree kill searches for.
    const r = await sb.exec([
      'sh',
      '-c',
      'id -u; echo "$HOME"; env -u RUNBOX_RUN_ID setsid sleep 300 >/dev/null 2>&1 < /dev/null & sleep 0.2',
    ]);
    const [uid, home] = r.stdout.split('\n');
    expect(r.exitCode).toBe(0);
    expect(processesOf(Number(uid))).toEqual([]);
    expect(() => statSync(home!)).toThrow(/ENOENT/);
  });

  it('the request environment never reaches a root process of the start-up', async () => {
    const { sb } = fixture;
    // Every dynamically linked process that gets LD_DEBUG writes <output>.<pid>, owned by whoever
    // it runs as: a file of root's would mean the variables reached the root wrapper.
    const output = path.join(probe, 'ld');
    const r = await sb.exec(['true'], { env: { LD_DEBUG: 'files', LD_DEBUG_OUTPUT: output } });
    expect(r.exitCode).toBe(0);
    const written = readdirSync(probe).filter((name) => name.startsWith('ld.'));
    expect(written.length).toBeGreaterThan(0); // the probe works: user processes did write
    for (const name of written) expect(statSync(path.join(probe, name)).uid).not.toBe(0);
  });

  it("the compile cache: a tenant cannot list bin/ nor read another's binary, and a cached run still works", async (ctx) => {
    const { sb } = fixture;
    requireInCi(
      ctx,
      (await sb.languages()).some((l) => l.name === 'go'),
      'the Go toolchain (golang-1.23-go)',
    );
    const source = `package main\nimport "fmt"\nfunc main() { fmt.Println("cached ${Date.now()}") }\n`;
    const first = await sb.runCode('go', source, { timeoutMs: 60_000, compileTimeoutMs: 300_000 });
    expect(first.compileCached).toBe(false);
    const bin = path.join(base, 'cache', 'bin');
    expect(statSync(bin).mode & 0o777).toBe(0o711);
    // The test runs as root: it may list what a tenant may not.
    const [entry] = readdirSync(bin).filter((name) => /^[0-9a-f]{64}$/.test(name));
    expect(entry).toBeDefined();
    expect(statSync(path.join(bin, entry!)).mode & 0o777).toBe(0o711);
    const probe = await sb.exec(['sh', '-c', `ls ${bin}; echo "ls=$?"; cat ${bin}/${entry} > /dev/null; echo "cat=$?"`]);
    expect(probe.stdout).toBe('ls=2\ncat=1\n');
    expect(probe.stderr).toMatch(/ls: cannot open directory .*Permission denied/);
    expect(probe.stderr).toMatch(/cat: .*Permission denied/);
    // Another tenant (another uid) runs the cached binary: execute needs no read permission.
    const again = await sb.runCode('go', source, { timeoutMs: 60_000 });
    expect(again.compileCached).toBe(true);
    expect(again.stdout).toBe(first.stdout);
  });

  it('a shell is a tenant of its own too, and gives its uid back when it ends', async () => {
    const { sb } = fixture;
    const shell = await sb.shells.open({ command: ['/bin/sh', '-c', 'id -u; echo "$HOME"; ls -A /tmp | wc -l'] });
    let out = '';
    shell.onData((d) => (out += Buffer.from(d).toString()));
    await shell.wait();
    const [uid, home, tmpEntries] = out.replace(/\r/g, '').split('\n');
    expect(Number(uid)).toBeGreaterThanOrEqual(FIRST_UID);
    expect(home).toMatch(/\/shell-[0-9a-f-]{36}$/);
    expect(tmpEntries?.trim()).toBe('0');
    // The uid goes back once the session is gone: its processes and its HOME with it.
    await expect.poll(() => processesOf(Number(uid)).length + (safeExists(home!) ? 1 : 0), { timeout: 10_000 }).toBe(0);
  });
});

function safeExists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!asRoot && !IN_CI)('--isolation per-run refuses to start where it cannot hold', () => {
  beforeAll(requireRoot);
  const elsewhere = ['--work-dir', '/var/lib/runbox-per-run-refused/runs', '--cache-dir', '/var/lib/runbox-per-run-refused/cache'];
  afterAll(() => rmSync('/var/lib/runbox-per-run-refused', { recursive: true, force: true }));
  it.each([
    [
      'a work dir under /tmp',
      ['--work-dir', '/tmp/runbox-per-run-runs'],
      /--work-dir \/tmp\/runbox-per-run-runs is under \/tmp, which every per-run tenant/,
    ],
    ['a cache dir under /dev/shm', [...elsewhere, '--cache-dir', '/dev/shm/c'], /--cache-dir \/dev\/shm\/c is under \/dev\/shm/],
    [
      'a uid range holding a real user',
      [...elsewhere, '--run-uids', '65000-65534'],
      /--run-uids 65000-65534 includes uid 65534, which belongs to user nobody/,
    ],
  ])('%s', async (_name, extra, message) => {
    const error = await startAgent({ args: ['--isolation', 'per-run', ...extra] }).then(
      async (agent) => (await agent.stop(), undefined),
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(message);
  });
});
