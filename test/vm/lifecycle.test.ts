// Sandboxes restored from a template snapshot (createSandbox), against real VMs: the first
// create of the shape boots cold and saves the template; clones restored from it are claimed
// before use — each its own token, entropy and clock — and are independent of each other.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, resumeSandbox, type LocalSandbox } from '../../host/vm/create.js';
import { pausedDir, pauseVm } from '../../host/vm/pause.js';
import { SnapshotError } from '../../host/vm/migrate.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SandboxPool } from '../../host/vm/pool.js';
import { listSandboxes } from '../../host/vm/list.js';
import { performance } from 'node:perf_hooks';
import { freezeSandbox, Sandbox, thawSandbox } from '../../host/sandbox.js';
import { AbortError, AuthenticationError, NotFoundError } from '../../host/errors.js';
import { ensureImage, figure, figures, IMAGES_DIR } from './vm-helpers.js';

afterAll(() => {
  process.stdout.write(`\nVM figures:\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

const OPTIONS = { net: 'user', imagesDir: IMAGES_DIR, readyTimeoutMs: 240_000 } as const;

describe('createSandbox(python): template snapshot, claimed clones', () => {
  const clones: LocalSandbox[] = [];
  beforeAll(async () => {
    await ensureImage('python');
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      clones.push(await createSandbox('python', OPTIONS));
      const first = await clones[i]!.runCode('python', 'print(6*7)', { timeoutMs: 60_000 });
      expect(first.stdout).toBe('42\n');
      figure(`createSandbox(python) #${i + 1} -> first result: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  }, 600_000);
  afterAll(async () => {
    for (const sb of clones) await sb.kill();
  });

  it('restores both from one template and claims each with a token of its own', async () => {
    const [a, b] = clones as [LocalSandbox, LocalSandbox];
    expect(a.templateKey).toBe(b.templateKey);
    expect(a.vm.state.restoredFrom).toBe(`template ${a.templateKey}`);
    expect(a.token).not.toBe(b.token);
    expect(a.claim.tokenReplaced).toBe(true);
    // Clone A's token does not open clone B, and neither answers to the template's token any more.
    const wrong = await Sandbox.connect(b.vm.target, { token: a.token });
    try {
      await expect(wrong.languages()).rejects.toBeInstanceOf(AuthenticationError);
    } finally {
      await wrong.close();
    }
  });

  it('gives every clone fresh entropy: the kernel RNG and Python random differ', async () => {
    const probe = 'import os, random; print(os.urandom(32).hex()); print(random.random())';
    const [ra, rb] = await Promise.all(clones.map((sb) => sb.runCode('python', probe, { timeoutMs: 60_000 })));
    expect(clones.every((sb) => sb.claim.entropyReseeded)).toBe(true);
    const [urandomA, randomA] = ra!.stdout.split('\n');
    const [urandomB, randomB] = rb!.stdout.split('\n');
    expect(urandomA).toMatch(/^[0-9a-f]{64}$/);
    expect(urandomA).not.toBe(urandomB);
    expect(randomA).not.toBe(randomB);
  });

  it("sets the clone's wall clock to the host's", async () => {
    for (const sb of clones) {
      expect(sb.claim.clockSet).toBe(true);
      const before = Date.now();
      const r = await sb.exec(['date', '+%s%3N'], { timeoutMs: 30_000 });
      const guest = Number(r.stdout.trim());
      // The guest's answer was taken between these two host readings (plus the 1 s the contract allows).
      expect(guest).toBeGreaterThanOrEqual(before - 1_000);
      expect(guest).toBeLessThanOrEqual(Date.now() + 1_000);
    }
  });

  it('clones are independent: a file written in one is not in the other', async () => {
    const [a, b] = clones as [LocalSandbox, LocalSandbox];
    await a.files.write('/home/runbox/only-in-a.txt', 'a');
    expect((await a.exec(['cat', '/home/runbox/only-in-a.txt'], { timeoutMs: 30_000 })).stdout).toBe('a');
    expect((await b.exec(['test', '-e', '/home/runbox/only-in-a.txt'], { timeoutMs: 30_000 })).exitCode).toBe(1);
  });

  it('kill() ends the VM and removes what it made', async () => {
    const sb = await createSandbox('python', OPTIONS);
    const { dir, pid } = sb.vm.state;
    await sb.kill();
    expect(existsSync(dir)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
  }, 300_000);
});

describe('pause and resume (python image)', () => {
  it('pauses to disk, frees QEMU, and resumes the same machine: processes, files, shell, new token', async () => {
    const sb = await createSandbox('python', OPTIONS);
    // A shell whose loop counts on: the same processes must go on after the resume.
    const shell = await sb.shells.open({
      command: ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /home/runbox/counter; sleep 0.2; done'],
    });
    const sessionId = shell.id;
    await sb.files.write('/home/runbox/kept.txt', 'kept');
    await expect
      .poll(async () => (await sb.exec(['cat', '/home/runbox/counter'], { timeoutMs: 30_000 })).stdout.trim(), { timeout: 30_000 })
      .toMatch(/^[2-9]|\d\d/);
    const oldToken = sb.token;
    const { dir, pid } = sb.vm.state;

    const started = Date.now();
    const id = await sb.pause();
    figure(`pause (python): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(existsSync(dir)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(existsSync(`${pausedDir()}/${id}/mem.state`)).toBe(true);

    const resumedAt = Date.now();
    const back = await resumeSandbox(id, { imagesDir: IMAGES_DIR, readyTimeoutMs: 240_000 });
    try {
      figure(`resume (python) -> claimed: ${((Date.now() - resumedAt) / 1000).toFixed(1)} s`);
      expect(back.token).not.toBe(oldToken);
      expect(back.claim.clockSet).toBe(true);
      expect(existsSync(`${pausedDir()}/${id}`)).toBe(false);
      expect((await back.exec(['cat', '/home/runbox/kept.txt'], { timeoutMs: 30_000 })).stdout).toBe('kept');
      // The loop is the one started before the pause: it goes on counting from where it was.
      const before = Number((await back.exec(['cat', '/home/runbox/counter'], { timeoutMs: 30_000 })).stdout);
      await expect
        .poll(async () => Number((await back.exec(['cat', '/home/runbox/counter'], { timeoutMs: 30_000 })).stdout), { timeout: 30_000 })
        .toBeGreaterThan(before);
      expect((await back.shells.list()).map((s) => s.id)).toContain(sessionId);
      const again = await back.shells.attach(sessionId);
      again.kill();
      // The token the sandbox had before the pause opens nothing now.
      const stale = await Sandbox.connect(back.vm.target, { token: oldToken });
      try {
        await expect(stale.languages()).rejects.toBeInstanceOf(AuthenticationError);
      } finally {
        await stale.close();
      }
      // A paused state resumes once.
      await expect(resumeSandbox(id)).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await back.kill();
    }
  }, 600_000);

  it('a run in flight ends with AbortError (SANDBOX_CLOSED) at the pause; after 2 minutes paused the resumed clock is the host’s', async () => {
    const sb = await createSandbox('python', OPTIONS);
    let back: LocalSandbox | undefined;
    try {
      const run = await sb.exec(['sleep', '600'], { background: true, timeoutMs: 700_000 });
      const ended = run.wait().then(
        () => undefined,
        (error: unknown) => error,
      );
      const id = await sb.pause();
      // docs/lifecycle.md: calls in flight end, they do not finish.
      const error = await ended;
      expect(error).toBeInstanceOf(AbortError);
      expect((error as AbortError).reason).toBe('SANDBOX_CLOSED');
      expect((error as Error).message).toMatch(/the Sandbox was closed/);

      // The guest's clock stands still while it is paused; the resume's Claim sets it to the host's.
      await new Promise((resolve) => setTimeout(resolve, 120_000));
      back = await resumeSandbox(id, { imagesDir: IMAGES_DIR, readyTimeoutMs: 240_000 });
      expect(back.claim.clockSet).toBe(true);
      const before = Date.now();
      const guest = Number((await back.exec(['date', '+%s.%N'], { timeoutMs: 30_000 })).stdout.trim()) * 1000;
      const after = Date.now();
      // The guest read its clock between these two host readings: within the 1 s the contract allows.
      expect(guest).toBeGreaterThanOrEqual(before - 1_000);
      expect(guest).toBeLessThanOrEqual(after + 1_000);
      // The aborted run's processes were killed (as whenever a client goes away); nothing of it runs on.
      await expect
        .poll(
          async () => (await back!.exec(['sh', '-c', 'grep -lx sleep /proc/[0-9]*/comm 2>/dev/null; true'], { timeoutMs: 30_000 })).stdout,
          { timeout: 60_000 },
        )
        .toBe('');
    } finally {
      await (back ?? sb).kill();
    }
  }, 600_000);

  it('a paused id that does not exist is NotFoundError naming it', async () => {
    await expect(resumeSandbox('0badc0de')).rejects.toThrow(/paused sandbox 0badc0de: not found/);
    await expect(resumeSandbox('../etc')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('fork (python image)', () => {
  it('makes n independent sandboxes that go on from the parent; the parent runs on', async () => {
    const parent = await createSandbox('python', OPTIONS);
    const children: LocalSandbox[] = [];
    try {
      await parent.files.write('/home/runbox/before-fork.txt', 'shared past');
      const shell = await parent.shells.open({
        command: ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /home/runbox/counter; sleep 0.2; done'],
      });
      await expect
        .poll(async () => (await parent.exec(['cat', '/home/runbox/counter'], { timeoutMs: 30_000 })).stdout.trim(), { timeout: 30_000 })
        .toMatch(/\d/);

      const started = Date.now();
      children.push(...(await parent.fork(3)));
      figure(`fork of 3 (python) -> all claimed: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expect(children).toHaveLength(3);
      expect(new Set([parent.token, ...children.map((c) => c.token)]).size).toBe(4);

      const probe = 'import os; print(os.urandom(16).hex())';
      const seen = new Set<string>();
      for (const [i, child] of children.entries()) {
        expect((await child.exec(['cat', '/home/runbox/before-fork.txt'], { timeoutMs: 30_000 })).stdout).toBe('shared past');
        // The parent's shell loop was copied: it counts on in every child.
        expect((await child.shells.list()).map((s) => s.id)).toContain(shell.id);
        const before = Number((await child.exec(['cat', '/home/runbox/counter'], { timeoutMs: 30_000 })).stdout);
        await expect
          .poll(async () => Number((await child.exec(['cat', '/home/runbox/counter'], { timeoutMs: 30_000 })).stdout), { timeout: 30_000 })
          .toBeGreaterThan(before);
        seen.add((await child.runCode('python', probe, { timeoutMs: 60_000 })).stdout.trim());
        await child.files.write(`/home/runbox/child-${i}.txt`, String(i));
      }
      expect(seen.size).toBe(3);
      // Independent from here on: a child's file is in neither its siblings nor its parent.
      for (const sb of [parent, children[1]!, children[2]!]) {
        expect((await sb.exec(['test', '-e', '/home/runbox/child-0.txt'], { timeoutMs: 30_000 })).exitCode).toBe(1);
      }
      // The parent runs on, with its own token.
      expect((await parent.exec(['echo', 'still here'], { timeoutMs: 30_000 })).stdout).toBe('still here\n');
      const sibling = await Sandbox.connect(children[1]!.vm.target, { token: children[0]!.token });
      try {
        await expect(sibling.languages()).rejects.toBeInstanceOf(AuthenticationError);
      } finally {
        await sibling.close();
      }
    } finally {
      for (const child of children) await child.kill();
      await parent.kill();
    }
  }, 600_000);

  it('refuses a fork count outside 1-32, naming it', async () => {
    const parent = await createSandbox('python', OPTIONS);
    try {
      await expect(parent.fork(0)).rejects.toThrow(/fork\(0\): n must be an integer from 1 to 32/);
      expect((await parent.exec(['true'], { timeoutMs: 30_000 })).exitCode).toBe(0);
    } finally {
      await parent.kill();
    }
  }, 300_000);
});

describe('user code frozen across a snapshot (python image)', () => {
  beforeAll(() => ensureImage('python'), 3_600_000);
  /** Lines `<guest ns since the epoch> <16 random hex digits>` the loop below writes every 20 ms. */
  const DRAW_LOOP =
    'while :; do echo "$(date +%s%N) $(od -An -N8 -tx1 /dev/urandom | tr -d " \\n")" >> /home/runbox/draws; sleep 0.02; done';
  const draws = async (sb: Sandbox) =>
    (await sb.exec(['cat', '/home/runbox/draws'], { timeoutMs: 60_000 })).stdout.split('\n').filter(Boolean);

  it('Freeze holds user code (a run started meanwhile waits) until Thaw, or until its deadline', async () => {
    const sb = await createSandbox('python', OPTIONS);
    try {
      const clock = async () => Number((await sb.exec(['date', '+%s%3N'], { timeoutMs: 60_000 })).stdout);
      expect(Math.abs((await clock()) - Date.now())).toBeLessThan(2_000);
      // Guest times are compared with guest times only: the guest's clock may be off the host's
      // (up to the 1 s the contract allows), and under TCG its rate differs from the host's by a
      // few percent: one run here saw 2.94 s pass in the guest while the host waited 3 s.
      const beforeFreeze = await clock();
      expect(await freezeSandbox(sb, { autoThawMs: 600_000 })).toEqual({ frozen: true, detail: '' });
      const during = clock();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(await thawSandbox(sb)).toBe(true);
      // The run could only start once its cgroup was thawed, after the host's 3 s: two thirds
      // of that in guest time is far more than a run that was not held (one exec) could take.
      expect(await during).toBeGreaterThanOrEqual(beforeFreeze + 2_000);
      expect(await thawSandbox(sb)).toBe(false);

      const frozenAt = await clock();
      expect((await freezeSandbox(sb, { autoThawMs: 2_000 })).frozen).toBe(true);
      // Nobody thaws: the agent does, after 2 s of guest time from a freeze that came after frozenAt.
      expect(await clock()).toBeGreaterThanOrEqual(frozenAt + 2_000);
    } finally {
      await sb.kill();
    }
  }, 600_000);

  it("a fork's children run no user code before their Claim: nothing drawn after the fork is shared, the parent goes on", async () => {
    const parent = await createSandbox('python', OPTIONS);
    const children: LocalSandbox[] = [];
    try {
      await parent.shells.open({ command: ['/bin/sh', '-c', DRAW_LOOP] });
      await expect.poll(async () => (await draws(parent)).length, { timeout: 60_000 }).toBeGreaterThan(5);
      children.push(...(await parent.fork(2)));
      const [a, b] = await Promise.all(
        children.map(async (child) => {
          const seen = (await draws(child)).length;
          await expect.poll(async () => (await draws(child)).length, { timeout: 60_000 }).toBeGreaterThan(seen + 5);
          return draws(child);
        }),
      );
      // Each child's clock jumps once, at its Claim: the largest gap between two lines. Before
      // it, only what the parent wrote before it froze (the same lines in both children);
      // after it, only draws of the child's own reseeded RNG.
      const split = (lines: string[]) => {
        const times = lines.map((line) => BigInt(line.split(' ')[0]!));
        let at = 1;
        for (let i = 1; i < times.length; i++) if (times[i]! - times[i - 1]! > times[at]! - times[at - 1]!) at = i;
        return { before: lines.slice(0, at), after: lines.slice(at).map((line) => line.split(' ')[1]!) };
      };
      const [sa, sb] = [split(a!), split(b!)];
      expect(sa.before.length).toBeGreaterThan(5);
      // A line takes its time, then its draw: the freeze can fall between the two, so the last
      // line before the jump may carry a draw made after the child's Claim (its own, then).
      // Every line before that one is the parent's, the same in both children.
      expect(sa.before.slice(0, -1)).toEqual(sb.before.slice(0, -1));
      expect(sa.before.map((line) => line.split(' ')[0])).toEqual(sb.before.map((line) => line.split(' ')[0]));
      expect(sa.after.filter((draw) => sb.after.includes(draw))).toEqual([]);
      expect(children.every((child) => child.claim.thawed)).toBe(true);
      // The parent was thawed after its state was saved: its loop goes on.
      const now = (await draws(parent)).length;
      await expect.poll(async () => (await draws(parent)).length, { timeout: 60_000 }).toBeGreaterThan(now);
    } finally {
      for (const child of children) await child.kill();
      await parent.kill();
    }
  }, 600_000);
});

describe('SandboxPool (python image)', () => {
  it('hands out ready sandboxes at once, refills behind, and ends what it holds on close', async () => {
    await expect(SandboxPool.start('python', { ...OPTIONS, size: 0 })).rejects.toThrow(/size 0: a pool keeps 1 to 16 sandboxes ready/);
    const pool = await SandboxPool.start('python', { ...OPTIONS, size: 2 });
    const taken: LocalSandbox[] = [];
    try {
      await expect.poll(() => pool.ready, { timeout: 120_000, interval: 500 }).toBe(2);
      const t0 = performance.now();
      taken.push(await pool.take());
      const claimMs = performance.now() - t0;
      const r = await taken[0]!.runCode('python', 'print(42)', { timeoutMs: 60_000 });
      figure(`pool take (python): ${claimMs.toFixed(1)} ms; take -> first result ${(performance.now() - t0).toFixed(0)} ms`);
      expect(r.stdout).toBe('42\n');
      taken.push(await pool.take());
      expect(taken[0]!.token).not.toBe(taken[1]!.token);
      // It refills to its size behind the takes.
      await expect.poll(() => pool.ready, { timeout: 120_000, interval: 500 }).toBe(2);

      // createSandbox(image, { pool }) hands out one of the pool's, already running: no new VM.
      const runningBefore = new Set((await listSandboxes({ clean: false })).filter((s) => s.status === 'running').map((s) => s.id));
      taken.push(await createSandbox('python', { pool }));
      expect(runningBefore.has(taken[2]!.vm.id)).toBe(true);
      expect(pool.ready).toBe(1);
      expect((await taken[2]!.runCode('python', 'print(7)', { timeoutMs: 60_000 })).stdout).toBe('7\n');
      // A pool of another image, or options the pool decides, are refused before anything is made.
      await expect(createSandbox('go', { pool })).rejects.toMatchObject({
        reason: 'POOL_MISMATCH',
        message: expect.stringMatching(/the pool holds python sandboxes; pass a pool of go, or no pool/),
      });
      await expect(createSandbox('python', { pool, memoryMiB: 512 })).rejects.toThrow(/memoryMiB are the pool's to decide/);
      // Empty (every ready one taken; the refill restores one at a time): createSandbox restores one of its own.
      while (pool.ready > 0) taken.push(await pool.take());
      expect(pool.ready).toBe(0);
      const own = await createSandbox('python', { pool, readyTimeoutMs: 240_000 });
      taken.push(own);
      expect(runningBefore.has(own.vm.id)).toBe(false);
      expect(own.vm.state.restoredFrom).toBe(`template ${own.templateKey}`);
      expect((await own.runCode('python', 'print(8)', { timeoutMs: 60_000 })).stdout).toBe('8\n');
    } finally {
      await pool.close();
    }
    await expect(pool.take()).rejects.toThrow(/the pool is closed/);
    // What it handed out is the caller's: still serving after the pool closed.
    try {
      expect((await taken[1]!.exec(['echo', 'mine'], { timeoutMs: 30_000 })).stdout).toBe('mine\n');
    } finally {
      for (const sb of taken) await sb.kill();
    }
  }, 600_000);
});

describe('snapshot failures leave nothing half-made (python image)', () => {
  it('a pause onto a full disk fails with SnapshotError; nothing is kept and the sandbox runs on', async () => {
    const sb = await createSandbox('python', OPTIONS);
    // A 64 MiB tmpfs as RUNBOX_HOME for the pause only: the ~200 MB state cannot fit.
    const full = mkdtempSync(path.join(os.tmpdir(), 'runbox-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'runbox-full', full]);
    try {
      const error = await pauseVm(sb.vm, sb.token, { ...process.env, RUNBOX_HOME: full }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SnapshotError);
      expect((error as Error).message).toMatch(/saving the VM state to .*mem.state (failed|did not finish)/);
      expect(readdirSync(path.join(full, 'paused'))).toEqual([]);
      // The sandbox goes on as it was, disk and all.
      expect((await sb.exec(['echo', 'alive'], { timeoutMs: 60_000 })).stdout).toBe('alive\n');
      await sb.files.write('/home/runbox/after.txt', 'x');
    } finally {
      execFileSync('umount', [full]);
      rmSync(full, { recursive: true, force: true });
      await sb.kill();
    }
  }, 300_000);

  it('QEMU killed in the middle of a pause: SnapshotError, no paused state left', async () => {
    const sb = await createSandbox('python', OPTIONS);
    try {
      const pausing = sb.pause().catch((e: unknown) => e);
      // The freeze and the save of ~200 MB take a moment: end QEMU while they run (either is a failed pause).
      await new Promise((resolve) => setTimeout(resolve, 150));
      process.kill(sb.vm.state.pid, 'SIGKILL');
      const error = await pausing;
      expect(error).toBeInstanceOf(SnapshotError);
      expect(readdirSync(pausedDir()).filter((n) => n.includes(sb.vm.id))).toEqual([]);
    } finally {
      await sb.kill();
    }
    expect(readdirSync(path.dirname(sb.vm.state.dir))).not.toContain(sb.vm.id);
  }, 300_000);
});
