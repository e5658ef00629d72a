// SystemService over real sockets: health, auth, system info, and the CLI verbs that use them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Sandbox, AuthenticationError, SandboxUnavailableError, InvalidArgumentError, TimeoutError } from '../../host/index.js';
import { startAgent, CLI, type RunningAgent } from '../helpers/agent.js';

const execFileAsync = promisify(execFile);
async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('agent without a token', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startAgent();
  });
  afterAll(async () => {
    expect(await agent.stop()).toBe(0);
  });

  for (const which of ['unix', 'tcp'] as const) {
    it(`answers Health over ${which}`, async () => {
      const sb = await Sandbox.connect(which === 'unix' ? agent.unixTarget : agent.tcpTarget);
      try {
        const health = await sb.waitReady({ timeoutMs: 10_000 });
        expect(health.version).toMatch(/^\d+\.\d+\.\d+/);
        expect(health.uptimeSeconds).toBeGreaterThanOrEqual(0);
        expect(health.limitsBackend).toBe('none');
        expect(health.limitsDetail).not.toBe('');
        expect(health.authRequired).toBe(false);
        expect(health.maxConcurrentRuns).toBe(32);
      } finally {
        await sb.close();
      }
    });
  }

  it('reports this machine in SystemInfo', async () => {
    const sb = await Sandbox.connect(agent.unixTarget);
    try {
      const info = await sb.systemInfo();
      expect(info.cpu.cores).toBe(os.cpus().length);
      expect(info.memory.totalBytes).toBe(os.totalmem());
      expect(info.memory.availableBytes).toBeGreaterThan(0);
      expect(info.os.kernel).toBe(os.release());
      expect(info.os.hostname).toBe(os.hostname());
      expect(info.disks.some((d) => d.mount === '/')).toBe(true);
      expect(info.interfaces.some((i) => i.name === 'lo' && i.ip4 === '127.0.0.1')).toBe(true);
      expect(info.load.avg1).toBeGreaterThanOrEqual(0);
    } finally {
      await sb.close();
    }
  });

  it('runbox info prints the same machine, as text and JSON', async () => {
    const text = await cli(['info', '--target', agent.unixTarget]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`kernel ${os.release()}`);
    const json = await cli(['info', '--target', agent.tcpTarget, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).system.cpu.cores).toBe(os.cpus().length);
  });

  it('CLI: what the agent echoes back reaches the terminal escaped, never as control sequences', async () => {
    // A language name with an OSC "set window title" sequence and a C1 CSI in it; the agent's
    // LANGUAGE_UNKNOWN message quotes it.
    const hostile = 'co\u001b]0;pwned\u0007bol\u009b2J';
    const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-printable-'));
    const file = path.join(dir, 'main.txt');
    writeFileSync(file, 'x');
    const r = await cli(['run', '--target', agent.unixTarget, hostile, file]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/runCode: language "co/);
    // eslint-disable-next-line no-control-regex -- the point: no control character got through
    expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(r.stderr).toContain('\\u001b]0;pwned\\u0007bol\\u009b2J');
  });

  it('CLI: a bad flag prints usage and exits 2; a missing target names the flag', async () => {
    const bad = await cli(['info', '--no-such-flag']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Usage: runbox info');
    const missing = await cli(['info'], { RUNBOX_TARGET: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--target is required');
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  });

  it('rejects a malformed target with the accepted forms', async () => {
    await expect(Sandbox.connect('http://localhost:5000')).rejects.toThrow(InvalidArgumentError);
    await expect(Sandbox.connect('http://localhost:5000')).rejects.toThrow(/tcp:\/\/HOST:PORT/);
  });
});

describe('agent with a token', () => {
  let agent: RunningAgent;
  const token = 'test-token-' + Math.random().toString(36).slice(2);
  beforeAll(async () => {
    agent = await startAgent({ token });
  });
  afterAll(async () => {
    await agent.stop();
  });

  it('serves Health without a token and says a token is required', async () => {
    const sb = await Sandbox.connect(agent.tcpTarget);
    try {
      expect((await sb.health()).authRequired).toBe(true);
    } finally {
      await sb.close();
    }
  });

  it('Health without the token tells only the version and that a token is required; with it, everything', async () => {
    const anonymous = await Sandbox.connect(agent.tcpTarget);
    const trusted = await Sandbox.connect(agent.tcpTarget, { token });
    try {
      const outside = await anonymous.health();
      expect(outside).toMatchObject({ authRequired: true, runAsUser: '', activeRuns: 0, maxConcurrentRuns: 0, limitsDetail: '' });
      expect(outside.version).toMatch(/^\d+\.\d+/);
      const inside = await trusted.health();
      expect(inside.maxConcurrentRuns).toBeGreaterThan(0);
      expect(inside.runAsUser).not.toBe('');
    } finally {
      await anonymous.close();
      await trusted.close();
    }
  });

  it('refuses other calls without a token, naming the option to set', async () => {
    const sb = await Sandbox.connect(agent.tcpTarget);
    try {
      const error = await sb.languages().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as Error).message).toMatch(/requires a token.*token/);
      await expect(sb.waitReady({ timeoutMs: 5_000 })).rejects.toThrow(AuthenticationError);
    } finally {
      await sb.close();
    }
  });

  it('refuses a wrong token and accepts the right one', async () => {
    const wrong = await Sandbox.connect(agent.unixTarget, { token: token + 'x' });
    const right = await Sandbox.connect(agent.unixTarget, { token });
    try {
      await expect(wrong.systemInfo()).rejects.toThrow(/does not match/);
      await right.waitReady({ timeoutMs: 5_000 });
      expect(Array.isArray(await right.languages())).toBe(true);
    } finally {
      await wrong.close();
      await right.close();
    }
  });

  it('CLI exits 125 with a one-line reason on a missing token, 0 with it', async () => {
    const denied = await cli(['languages', '--target', agent.tcpTarget]);
    expect(denied.code).toBe(125);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
    expect(denied.stderr).toContain('requires a token');
    const ok = await cli(['languages', '--target', agent.tcpTarget, '--token-file', agent.tokenFile!, '--json']);
    expect(ok.code).toBe(0);
    expect(Array.isArray(JSON.parse(ok.stdout))).toBe(true);
  });
});

describe('no agent', () => {
  it('waitReady times out naming the target; a call fails as unavailable', async () => {
    const sb = await Sandbox.connect('tcp://127.0.0.1:9');
    try {
      await expect(sb.waitReady({ timeoutMs: 1_500 })).rejects.toThrow(TimeoutError);
      await expect(sb.health()).rejects.toThrow(SandboxUnavailableError);
    } finally {
      await sb.close();
    }
  });

  it('a missing unix socket is unavailable, and the CLI says so with 125', async () => {
    const sb = await Sandbox.connect('unix:///nonexistent/agent.sock');
    try {
      await expect(sb.health()).rejects.toThrow(SandboxUnavailableError);
    } finally {
      await sb.close();
    }
    const r = await cli(['info', '--target', 'unix:///nonexistent/agent.sock', '--wait-ms', '500']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('unix:///nonexistent/agent.sock');
  });
});
