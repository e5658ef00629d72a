// Starts the BUILT agent bundle (dist/agent/runbox-agent.js) as a real child process on a
// Unix socket and a loopback TCP port, and tears it down. Run `npm run build` first
// (`npm test` does).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect } from 'vitest';
import { Sandbox } from '../../host/index.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const AGENT_BUNDLE = path.join(REPO, 'dist/agent/runbox-agent.js');
export const CLI = path.join(REPO, 'dist/host/cli.js');

export interface AgentOptions {
  token?: string;
  /** Extra runbox-agent flags. */
  args?: string[];
}

export interface RunningAgent {
  unixTarget: string;
  tcpTarget: string;
  tokenFile: string | undefined;
  dir: string;
  process: ChildProcess;
  /** Every stderr line so far (the agent's log). */
  log: string[];
  /** The agent's RSS in bytes, from /proc. */
  rssBytes(): number;
  stop(): Promise<number | null>;
}

/** Whether the unprivileged `runbox` user exists here (init/setup-host.sh creates it). */
export function runboxUserExists(): boolean {
  try {
    execFileSync('getent', ['passwd', 'runbox'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startAgent(options: AgentOptions = {}): Promise<RunningAgent> {
  if (!existsSync(AGENT_BUNDLE)) throw new Error(`${AGENT_BUNDLE} is missing: run npm run build`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-agent-test-'));
  chmodSync(dir, 0o755);
  const socket = path.join(dir, 'agent.sock');
  const args = [
    AGENT_BUNDLE,
    '--listen',
    `unix://${socket}`,
    '--listen',
    'tcp://127.0.0.1:0',
    // Never let a test agent touch this machine's cgroups; cgroup limits are tested inside VMs.
    '--cgroups',
    'off',
    '--work-dir',
    path.join(dir, 'runs'),
    '--cache-dir',
    path.join(dir, 'cache'),
  ];
  let tokenFile: string | undefined;
  if (options.token !== undefined) {
    tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, options.token + '\n', { mode: 0o600 });
    args.push('--token-file', tokenFile);
  }
  if (process.getuid?.() === 0 && runboxUserExists()) args.push('--user', 'runbox');
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  let buffered = '';
  const tcpTarget = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start:\n${log.join('\n')}`)), 20_000);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        log.push(line);
        const match = /event=agent.listening addresses="[^"]*(tcp:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code} before listening:\n${log.join('\n')}`));
    });
  });
  return {
    unixTarget: `unix://${socket}`,
    tcpTarget,
    tokenFile,
    dir,
    process: child,
    log,
    rssBytes() {
      const status = execFileSync('cat', [`/proc/${child.pid}/status`], { encoding: 'utf8' });
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

export interface AgentFixture {
  /** The running agent (valid inside tests and later hooks). */
  readonly agent: RunningAgent;
  /** A ready Sandbox on the agent's Unix socket (with the fixture's token). */
  readonly sb: Sandbox;
  /** Another Sandbox (default over TCP), closed with the fixture. */
  connect(via?: 'unix' | 'tcp', options?: { token?: string }): Promise<Sandbox>;
}

/**
 * The integration tests' one agent set-up: registers beforeAll (start the built agent,
 * connect, waitReady) and afterAll (close every Sandbox, stop the agent, expect exit 0).
 * `args` may be a function, read when the agent starts (after earlier beforeAll hooks).
 */
export function useAgent(options: Omit<AgentOptions, 'args'> & { args?: string[] | (() => string[]) } = {}): AgentFixture {
  let agent: RunningAgent | undefined;
  let sb: Sandbox | undefined;
  const others: Sandbox[] = [];
  beforeAll(async () => {
    const args = typeof options.args === 'function' ? options.args() : options.args;
    agent = await startAgent({ ...(options.token !== undefined ? { token: options.token } : {}), ...(args ? { args } : {}) });
    sb = await Sandbox.connect(agent.unixTarget, { token: options.token });
    await sb.waitReady({ timeoutMs: 10_000 });
  });
  afterAll(async () => {
    for (const other of others) await other.close();
    await sb?.close();
    if (agent) expect(await agent.stop()).toBe(0);
  });
  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useAgent: ${what} is only there inside tests (beforeAll has not run)`);
    return value;
  };
  return {
    get agent() {
      return required(agent, 'agent');
    },
    get sb() {
      return required(sb, 'sb');
    },
    async connect(via = 'tcp', connectOptions = {}) {
      const running = required(agent, 'agent');
      const other = await Sandbox.connect(via === 'tcp' ? running.tcpTarget : running.unixTarget, {
        token: connectOptions.token ?? options.token,
      });
      others.push(other);
      return other;
    },
  };
}
