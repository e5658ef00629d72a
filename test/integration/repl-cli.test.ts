// `runbox repl` on a real terminal: tmux gives the CLI a pty to type into and read back. The
// agent and its contexts are real.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAgent, CLI, type RunningAgent } from '../helpers/agent.js';
import { eventually } from '../helpers/shell.js';
import { Sandbox } from '../../host/index.js';

const SOCKET = `runbox-repl-${randomBytes(4).toString('hex')}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
const pane = (name: string) => tmux('capture-pane', '-p', '-J', '-S', '-300', '-t', name);
const type = (name: string, text: string) => tmux('send-keys', '-t', name, '-l', text);
const key = (name: string, ...keys: string[]) => tmux('send-keys', '-t', name, ...keys);
const line = (name: string, text: string) => (type(name, text), key(name, 'Enter'));

async function waitPane(name: string, pattern: RegExp): Promise<RegExpMatchArray> {
  let match: RegExpMatchArray | null = null;
  try {
    await eventually(() => (match = pane(name).match(pattern)) !== null, `${pattern} in tmux pane ${name}`, 60_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}; pane:\n${pane(name)}`);
  }
  return match!;
}

describe('runbox repl in tmux', () => {
  let agent: RunningAgent;
  let sb: Sandbox;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-repl-test-'));
  const history = path.join(dir, 'history');
  beforeAll(async () => {
    agent = await startAgent();
    sb = await Sandbox.connect(agent.unixTarget);
  });
  afterAll(async () => {
    try {
      tmux('kill-server');
    } catch {
      /* already gone */
    }
    await sb.close();
    expect(await agent.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (name: string, language: string) =>
    tmux(
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      '120',
      '-y',
      '50',
      'sh',
      '-c',
      // While a cell runs the terminal is cooked and Ctrl-C is a SIGINT to the foreground group,
      // as for python3 itself: the wrapping shell traps it (an interactive shell would give the
      // CLI a group of its own), so it lives on to print the exit code.
      `trap true INT; '${process.execPath}' '${CLI}' repl ${language} --target '${agent.unixTarget}' --history-file '${history}-${language}' --save-dir '${dir}/img'; echo "CLI_EXIT=$?"; sleep 1000`,
    );
  const busy = () => eventually(async () => (await sb.contexts.list()).some((c) => c.state === 'busy'), 'a cell to run');

  it(
    'python: state between cells, blocks, Ctrl-C interrupts the cell not the REPL, images saved, history, Ctrl-D leaves',
    { timeout: 180_000 },
    async () => {
      start('py', 'python');
      await waitPane('py', /IPython \d.*Ctrl-D leaves\nIn \[1\]:\s*$/m);
      line('py', 'x = 21');
      await waitPane('py', /In \[2\]:\s*$/m);
      line('py', 'x * 2');
      await waitPane('py', /^Out\[2\]: 42$/m);

      line('py', 'def f(a):');
      await waitPane('py', /^\s+\.\.\.:\s*$/m);
      line('py', '    return a + 1');
      line('py', '');
      await waitPane('py', /In \[4\]:\s*$/m);
      line('py', 'f(x)');
      await waitPane('py', /^Out\[4\]: 22$/m);

      line('py', 'while True: pass');
      await busy();
      key('py', 'C-c');
      await waitPane('py', /KeyboardInterrupt/);
      await waitPane('py', /In \[6\]:\s*$/m);
      line('py', 'x');
      await waitPane('py', /^Out\[6\]: 21$/m);

      line('py', 'import matplotlib.pyplot as plt; plt.plot([1, 2]); plt.show()');
      const [, file] = await waitPane('py', /\[image\/png \d+x\d+ saved to (\S+\.png)\]/);
      expect([...readFileSync(file!).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
      await waitPane('py', /In \[8\]:\s*$/m);

      // Up recalls the line before; Ctrl-C at the prompt drops what was typed.
      line('py', 'x + 100');
      await waitPane('py', /^Out\[8\]: 121$/m);
      await waitPane('py', /In \[9\]:\s*$/m);
      key('py', 'Up');
      key('py', 'Enter');
      await waitPane('py', /^Out\[9\]: 121$/m);
      await waitPane('py', /In \[10\]:\s*$/m);
      type('py', 'not run');
      key('py', 'C-c');
      await waitPane('py', /not run\^C\nIn \[10\]:\s*$/m);
      line('py', 'x - 1');
      await waitPane('py', /^Out\[10\]: 20$/m);
      expect(pane('py')).not.toContain('NameError');

      key('py', 'C-d');
      await waitPane('py', /CLI_EXIT=0/);
      expect(await sb.contexts.list()).toEqual([]);
      expect(readFileSync(`${history}-python`, 'utf8')).toContain('x = 21\n');
    },
  );

  it('javascript: let, a block over several lines, and the main result', async () => {
    start('js', 'javascript');
    await waitPane('js', /Node\.js v\d.*\nIn \[1\]:\s*$/m);
    line('js', 'let y = 2');
    await waitPane('js', /In \[2\]:\s*$/m);
    line('js', 'function twice(n) {');
    line('js', '  return n * 2');
    line('js', '}');
    await waitPane('js', /In \[3\]:\s*$/m);
    line('js', 'twice(y * 21) / 2');
    await waitPane('js', /^Out\[3\]: 42$/m);
    key('js', 'C-d');
    await waitPane('js', /CLI_EXIT=0/);
  });

  it('a context that dies is restarted with a word that its state is gone', async () => {
    start('dies', 'python');
    await waitPane('dies', /In \[1\]:\s*$/m);
    line('dies', 'v = 1');
    await waitPane('dies', /In \[2\]:\s*$/m);
    line('dies', 'import os; os._exit(9)');
    await waitPane('dies', /exited with code 9[\s\S]*restarted; its variables and imports are gone\nIn \[1\]:\s*$/);
    line('dies', 'v');
    await waitPane('dies', /NameError/);
    key('dies', 'C-d');
    await waitPane('dies', /CLI_EXIT=0/);
  });
});
