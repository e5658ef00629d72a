// Sandboxes restored from a template snapshot (createSandbox), against real VMs: the first
// create of the shape boots cold and saves the template; clones restored from it are claimed
// before use — each its own token, entropy and clock — and are independent of each other.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox, resumeSandbox, type LocalSandbox } from '../../host/vm/create.js';
import { pausedDir } from '../../host/vm/pause.js';
import { Sandbox } from '../../host/sandbox.js';
import { AuthenticationError, NotFoundError } from '../../host/errors.js';
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

  it('a paused id that does not exist is NotFoundError naming it', async () => {
    await expect(resumeSandbox('0badc0de')).rejects.toThrow(/paused sandbox 0badc0de: not found/);
    await expect(resumeSandbox('../etc')).rejects.toBeInstanceOf(NotFoundError);
  });
});
