// LifecycleService.Claim against the built agent (docs/lifecycle.md): the token is replaced
// for every later call and kept in --claimed-token-file, which a restarted agent prefers;
// refused requests change nothing. These agents never get --manage-guest: this host's clock
// and RNG are not the tests' to manage, so the response must say they were not touched. The
// reseed script itself is run directly (adding entropy to a kernel is harmless); the VM
// tests check the clock and a reseed inside a clone.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentError, AuthenticationError, InvalidArgumentError, Sandbox } from '../../host/index.js';
import { claimSandbox, freezeSandbox, thawSandbox, type ClaimResult } from '../../host/vm-api.js';
import { reseedKernelRng } from '../../agent/lifecycle/entropy.js';
import { startAgent, useAgent } from '../helpers/agent.js';
import { failure } from '../helpers/assert.js';
import { requireInCi } from '../helpers/required.js';
import { screen } from '../helpers/shell.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const isRoot = process.getuid?.() === 0;

/** What an agent without --manage-guest answers to a good Claim. */
const UNMANAGED: ClaimResult = {
  tokenReplaced: true,
  entropyReseeded: false,
  clockSet: false,
  clockStepMs: 0,
  detail: 'entropy and clock not managed: the agent runs without --manage-guest',
  thawed: false,
};

async function expectRefused(sb: Sandbox, reason: 'TOKEN_MISSING' | 'TOKEN_MISMATCH'): Promise<void> {
  const error = await failure(sb.languages());
  expect(error).toBeInstanceOf(AuthenticationError);
  expect(error.reason).toBe(reason);
}

/** A state directory of our own for --claimed-token-file (the agent creates `state/` in it). */
function stateDir(): { root: string; file: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'runbox-claim-test-'));
  chmodSync(root, 0o755);
  return { root, file: path.join(root, 'state', 'claimed-token') };
}

describe('Claim on an agent with a token', () => {
  const template = 'template-token';
  const state = stateDir();
  const fixture = useAgent({ token: template, args: ['--claimed-token-file', state.file] });
  afterAll(() => rmSync(state.root, { recursive: true, force: true }));

  it.each<[string, { token: string; entropy?: Uint8Array; unixTimeMs?: number }, string]>([
    ['an empty token', { token: '' }, 'token'],
    ['a token with whitespace', { token: 'two words' }, 'token'],
    ['a token with a NUL', { token: 'a\0b' }, 'token'],
    ['a token over 4096 characters', { token: 'x'.repeat(4097) }, 'token'],
    ['31 bytes of entropy', { token: 'fine', entropy: new Uint8Array(31) }, 'entropy'],
    ['513 bytes of entropy', { token: 'fine', entropy: new Uint8Array(513) }, 'entropy'],
    ['a time in seconds', { token: 'fine', unixTimeMs: Math.floor(Date.now() / 1000) }, 'unix_time_ms'],
  ])('refuses %s with FIELD_INVALID naming the field; nothing changes', async (_name, request, field) => {
    const { sb, agent } = fixture;
    const error = await failure(claimSandbox(sb, request));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.reason).toBe('FIELD_INVALID');
    expect(error.metadata).toEqual({ field });
    // Still the template's token, on this Sandbox and any other; nothing written.
    expect((await sb.exec(['echo', 'still serving'])).stdout).toBe('still serving\n');
    expect(await (await fixture.connect('tcp', { token: template })).languages()).toBeInstanceOf(Array);
    expect(() => statSync(state.file)).toThrow(/ENOENT/);
    expect(agent.log.join('\n')).not.toContain('event=lifecycle.claimed');
  });

  it('refuses a Claim with the wrong current token: UNAUTHENTICATED, nothing changes', async () => {
    const wrong = await fixture.connect('unix', { token: 'not-the-token' });
    const error = await failure(claimSandbox(wrong, { token: 'stolen' }));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.reason).toBe('TOKEN_MISMATCH');
    const missing = await Sandbox.connect(fixture.agent.unixTarget);
    try {
      expect((await failure(claimSandbox(missing, { token: 'stolen' }))).reason).toBe('TOKEN_MISSING');
    } finally {
      await missing.close();
    }
    expect(await fixture.sb.languages()).toBeInstanceOf(Array);
    expect(await fixture.sb.health()).toMatchObject({ authRequired: true });
  });

  it('replaces the token: the old one is refused, the new one works, sessions opened before live on', async () => {
    const { sb, agent } = fixture;
    const other = await fixture.connect('tcp', { token: template });
    const shell = await sb.shells.open({ command: ['/bin/sh'] });
    const out = screen(shell);
    const run = await sb.exec(['sleep', '30'], { background: true });

    const result = await claimSandbox(sb, { token: 'clone-token-1' });
    expect(result).toEqual(UNMANAGED);

    // This Sandbox switched to the new token; another one still holding the old is refused.
    expect(await sb.exec(['echo', 'after claim'])).toMatchObject({ stdout: 'after claim\n' });
    await expectRefused(other, 'TOKEN_MISMATCH');
    const fresh = await fixture.connect('unix', { token: 'clone-token-1' });
    expect((await fresh.exec(['true'])).exitCode).toBe(0);

    // What was live before the claim still is: the shell (listed, and its stream still talks) and the run.
    expect((await sb.shells.list()).map((s) => s.id)).toContain(shell.id);
    shell.write('echo "alive $((6*7))"\n');
    await out.waitFor(/alive 42/);
    expect((await sb.files.stat('/')).type).toBe('directory');
    run.kill();
    expect((await run.wait()).signal).toBe('SIGKILL');
    shell.kill();
    await shell.wait().catch(() => undefined);

    // Kept for a restarted agent: the token alone, 0600, in a directory only the agent may write.
    expect(readFileSync(state.file, 'utf8')).toBe('clone-token-1');
    expect(statSync(state.file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(state.file)).mode & 0o777).toBe(0o700);
    expect(readdirSync(path.dirname(state.file))).toEqual(['claimed-token']);

    const line = agent.log.find((l) => l.includes('event=lifecycle.claimed'));
    expect(line).toMatch(/token_replaced=true token_persisted=true entropy_reseeded=false clock_set=false/);
    expect(agent.log.join('\n')).not.toContain('clone-token-1');
  });

  it('claims again (a clone of a clone) with the token it has now', async () => {
    const { sb } = fixture;
    expect(await claimSandbox(sb, { token: 'clone-token-2', entropy: new Uint8Array(512).fill(7), unixTimeMs: 0 })).toEqual(UNMANAGED);
    expect((await sb.exec(['true'])).exitCode).toBe(0);
    await expectRefused(await fixture.connect('unix', { token: 'clone-token-1' }), 'TOKEN_MISMATCH');
    expect(readFileSync(state.file, 'utf8')).toBe('clone-token-2');
  });

  it('an agent restarted with the same flags requires the claimed token, not --token-file', async () => {
    const restarted = await startAgent({ token: template, args: ['--claimed-token-file', state.file] });
    try {
      const old = await Sandbox.connect(restarted.unixTarget, { token: template });
      const claimed = await Sandbox.connect(restarted.unixTarget, { token: 'clone-token-2' });
      try {
        await expectRefused(old, 'TOKEN_MISMATCH');
        await claimed.waitReady({ timeoutMs: 5_000 });
        expect(restarted.log.join('\n')).toMatch(/event=agent.ready .*auth=true claimed=true/);
        expect((await claimed.exec(['true'])).exitCode).toBe(0);
      } finally {
        await old.close();
        await claimed.close();
      }
    } finally {
      expect(await restarted.stop()).toBe(0);
    }
  });
});

describe('Freeze and Thaw on an agent without cgroups', () => {
  // The agents here run with --cgroups off (this host's cgroups are not the tests'): Freeze
  // must say it could not freeze, and why; the VM tests freeze user code for real.
  const fixture = useAgent({ token: 'freeze-token' });

  it('answers frozen=false naming the cause; Thaw has nothing to thaw; the agent serves on', async () => {
    const { sb } = fixture;
    const result = await freezeSandbox(sb, { autoThawMs: 1000 });
    expect(result.frozen).toBe(false);
    expect(result.detail).toMatch(/^user code cannot be frozen: cgroups are off \(--cgroups off\)/);
    expect(await thawSandbox(sb)).toBe(false);
    expect((await sb.exec(['echo', 'still serving'])).stdout).toBe('still serving\n');
  });

  it.each([
    ['an auto-thaw deadline over 600000 ms', 600_001],
    ['the largest uint32', 2 ** 32 - 1],
  ])('refuses %s with FIELD_INVALID naming auto_thaw_ms', async (_name, autoThawMs) => {
    const error = await failure(freezeSandbox(fixture.sb, { autoThawMs }));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.reason).toBe('FIELD_INVALID');
    expect(error.metadata).toEqual({ field: 'auto_thaw_ms' });
    expect(error.message).toMatch(/auto_thaw_ms is \d+; at most 600000/);
  });

  it('is refused without the token, like every call', async () => {
    const wrong = await fixture.connect('unix', { token: 'not-the-token' });
    expect((await failure(freezeSandbox(wrong))).reason).toBe('TOKEN_MISMATCH');
    expect((await failure(thawSandbox(wrong))).reason).toBe('TOKEN_MISMATCH');
  });
});

describe('--claimed-token-file that someone else could have written', () => {
  const state = stateDir();
  afterAll(() => rmSync(state.root, { recursive: true, force: true }));

  it('a Claim into a directory others may write fails CLAIM_FAILED and keeps the old token', async () => {
    const open = path.join(state.root, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const agent = await startAgent({ token: 'kept', args: ['--claimed-token-file', path.join(open, 'claimed-token')] });
    const sb = await Sandbox.connect(agent.unixTarget, { token: 'kept' });
    try {
      const error = await failure(claimSandbox(sb, { token: 'not-written' }));
      expect(error).toBeInstanceOf(AgentError);
      expect(error.reason).toBe('CLAIM_FAILED');
      expect(error.metadata).toEqual({ flag: '--claimed-token-file', path: path.join(open, 'claimed-token') });
      expect((await sb.exec(['true'])).exitCode).toBe(0);
      expect(readdirSync(open)).toEqual([]);
    } finally {
      await sb.close();
      expect(await agent.stop()).toBe(0);
    }
  });

  it('an empty file is no token: the agent uses --token-file', async () => {
    mkdirSync(path.dirname(state.file), { mode: 0o700 });
    writeFileSync(state.file, '', { mode: 0o600 });
    const agent = await startAgent({ token: 'from-token-file', args: ['--claimed-token-file', state.file] });
    const sb = await Sandbox.connect(agent.unixTarget, { token: 'from-token-file' });
    try {
      expect((await sb.exec(['true'])).exitCode).toBe(0);
    } finally {
      await sb.close();
      expect(await agent.stop()).toBe(0);
    }
  });

  it('a file others may read or write stops the agent at start', async () => {
    writeFileSync(state.file, 'planted');
    chmodSync(state.file, 0o666);
    await expect(startAgent({ token: 'template', args: ['--claimed-token-file', state.file] })).rejects.toThrow(
      /exited with 1 .*not a regular file of the agent's user with mode 0600/s,
    );
  });
});

describe('Claim on an agent without a token (local development)', () => {
  const fixture = useAgent();

  it('accepts the Claim, then requires the new token', async () => {
    const { sb } = fixture;
    expect(await sb.health()).toMatchObject({ authRequired: false });
    const before = await fixture.connect('unix');
    expect(await claimSandbox(sb, { token: 'first-token' })).toEqual(UNMANAGED);
    expect((await sb.exec(['true'])).exitCode).toBe(0);
    await expectRefused(before, 'TOKEN_MISSING');
    expect(await before.health()).toMatchObject({ authRequired: true });
    expect(fixture.agent.log.join('\n')).toMatch(/event=lifecycle.claimed token_replaced=true token_persisted=false/);
  });
});

describe("the agent's ids", () => {
  const fixture = useAgent();

  it('come from /dev/urandom: v4 UUIDs, and the agent holds the device open', async () => {
    const { sb, agent } = fixture;
    const shells = await Promise.all([sb.shells.open({ command: ['/bin/sh'] }), sb.shells.open({ command: ['/bin/sh'] })]);
    const ids = shells.map((s) => s.id);
    const runs = await Promise.all([1, 2, 3].map(() => sb.exec(['sh', '-c', 'echo "$RUNBOX_RUN_ID"'])));
    for (const run of runs) expect(run.stdout).toBe(`${run.runId}\n`);
    ids.push(...runs.map((r) => r.runId));
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect(new Set(ids).size).toBe(ids.length);
    // Node and OpenSSL use getrandom(2) and keep no such fd: only agent/core/ids.ts opens it.
    const fds = readdirSync(`/proc/${agent.process.pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${agent.process.pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(fds).toContain('/dev/urandom');
    for (const shell of shells) {
      shell.kill();
      await shell.wait().catch(() => undefined);
    }
  });
});

describe('the kernel reseed (agent/lifecycle/entropy.ts) on this host', () => {
  it('adds the bytes and reseeds the CRNG as root (harmless: it only adds entropy)', async (ctx) => {
    requireInCi(ctx, isRoot, 'root (RNDADDENTROPY needs CAP_SYS_ADMIN)');
    expect(await reseedKernelRng(randomBytes(64))).toEqual({ ok: true });
  });

  it('reports a failure instead of throwing', async () => {
    const result = await reseedKernelRng(new Uint8Array());
    expect(result).toEqual({ ok: false, error: 'no entropy on stdin' });
  });
});
