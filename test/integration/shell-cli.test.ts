// `runbox shell` on a real terminal: tmux gives the CLI a pty we can type into, resize and
// read back (send-keys / capture-pane). The agent is the real one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startAgent, CLI, type RunningAgent } from '../helpers/agent.js';
import { eventually, foregroundCommand } from '../helpers/shell.js';
import { Sandbox } from '../../host/index.js';

const SOCKET = `runbox-test-${randomBytes(4).toString('hex')}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
const pane = (name: string) => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', name);

/** Runs the CLI in a tmux window; after it exits, the window shows its exit code and whether the tty is cooked again. */
function startCli(name: string, target: string, extra = ''): void {
  const script = `'${process.execPath}' '${CLI}' shell --target '${target}' ${extra}; echo "CLI_EXIT=$?"; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon' | sed 's/^/TTY_/'; sleep 1000`;
  tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', 'sh', '-c', script);
}

let agentLog: string[] = [];

async function waitPane(name: string, pattern: RegExp): Promise<RegExpMatchArray> {
  let match: RegExpMatchArray | null = null;
  try {
    await eventually(() => (match = pane(name).match(pattern)) !== null, `${pattern} in tmux pane ${name}`, 30_000);
  } catch (error) {
    const shellLog = agentLog
      .filter((l) => l.includes('shell.'))
      .slice(-10)
      .join('\n');
    throw new Error(`${(error as Error).message}; pane:\n${pane(name)}\nagent log:\n${shellLog}`);
  }
  return match!;
}

const type = (name: string, text: string) => tmux('send-keys', '-t', name, '-l', text);
const enter = (name: string) => tmux('send-keys', '-t', name, 'Enter');

describe('runbox shell in tmux', () => {
  let agent: RunningAgent;
  beforeAll(async () => {
    agent = await startAgent();
    agentLog = agent.log;
  });
  afterAll(async () => {
    try {
      tmux('kill-server');
    } catch {
      /* already gone */
    }
    expect(await agent.stop()).toBe(0);
  });

  it('follows window resizes, passes Ctrl-C to the remote job, exits with the remote code and restores the tty', async () => {
    startCli('a', agent.unixTarget);
    type('a', 'echo "ready-$((2*21))"');
    enter('a');
    await waitPane('a', /ready-42/);
    type('a', 'echo "size=$(stty size)"');
    enter('a');
    await waitPane('a', /size=30 100/);

    tmux('resize-window', '-t', 'a', '-x', '120', '-y', '40');
    type('a', 'echo "resized=$(stty size)"');
    enter('a');
    await waitPane('a', /resized=40 120/);

    type('a', 'sleep 100');
    enter('a');
    const sb = await Sandbox.connect(agent.unixTarget);
    try {
      await eventually(
        async () => (await sb.shells.list()).some((s) => foregroundCommand(s.pid) === 'sleep'),
        'sleep to be the foreground job',
      );
    } finally {
      await sb.close();
    }
    tmux('send-keys', '-t', 'a', 'C-c');
    type('a', 'echo "interrupted=$?"');
    enter('a');
    await waitPane('a', /interrupted=130/);

    type('a', 'exit 7');
    enter('a');
    await waitPane('a', /CLI_EXIT=7/);
    expect(pane('a')).toMatch(/^TTY_icanon$/m);
  });

  it('restores the tty and names the session to re-attach when killed', async () => {
    startCli('b', agent.unixTarget);
    type('b', 'echo "up-$((1+1))"');
    enter('b');
    await waitPane('b', /up-2/);
    const panePid = Number(tmux('display-message', '-p', '-t', 'b', '#{pane_pid}').trim());
    const cliPid = Number(readFileSync(`/proc/${panePid}/task/${panePid}/children`, 'utf8').trim().split(' ')[0]);
    process.kill(cliPid, 'SIGTERM');
    const [, id] = await waitPane('b', /--attach ([0-9a-f-]{36})/);
    await waitPane('b', /CLI_EXIT=143/);
    expect(pane('b')).toMatch(/^TTY_icanon$/m);

    // The session survived: attach to it from a new terminal and see the old output replayed.
    startCli('c', agent.unixTarget, `--attach ${id}`);
    await waitPane('c', /up-2/);
    type('c', 'exit 3');
    enter('c');
    await waitPane('c', /CLI_EXIT=3/);
  });

  it('a bad target fails with 125 and a one-line reason, terminal untouched', async () => {
    startCli('d', 'unix:///nonexistent/agent.sock', '--wait-ms 300');
    await waitPane('d', /CLI_EXIT=125/);
    expect(pane('d')).toContain('unix:///nonexistent/agent.sock');
    expect(pane('d')).toMatch(/^TTY_icanon$/m);
  });
});
