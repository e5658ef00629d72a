// An fd the agent inherited without close-on-exec (here a file a shell opens as fd 40 before exec)
// is closed at start, so no run or shell inherits it in turn. Fd 40, not a low one: Node 20 itself
// marks inherited fds up to 16 close-on-exec at start (seen on 20.20), so a low fd never reaches
// the agent's own check, and the test would pass only when its runner leaked a high fd as well.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { Sandbox } from '../../host/index.js';
import { AGENT_BUNDLE } from '../helpers/agent.js';

describe('inherited file descriptors', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-fds-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are closed before the agent serves: runs and shells do not see them', async () => {
    const socket = path.join(dir, 'agent.sock');
    const args = [
      AGENT_BUNDLE,
      '--listen',
      `unix://${socket}`,
      '--cgroups',
      'off',
      '--work-dir',
      path.join(dir, 'runs'),
      '--cache-dir',
      path.join(dir, 'cache'),
    ];
    // A shell opens the file as fd 40 without close-on-exec, lists the fds the agent will start
    // with (for the failure message) and execs it: the agent inherits fd 40 as from a supervisor.
    // bash, not sh: dash takes single-digit fds only.
    const leaked = path.join(dir, 'leaked.txt');
    writeFileSync(leaked, 'secret');
    const wrapper = 'exec 40<"$0"; ls -l /proc/$$/fd >&2; exec "$@"';
    const agent = spawn('/bin/bash', ['-c', wrapper, leaked, process.execPath, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // Whatever fails below, the agent must not outlive the test.
    onTestFinished(() => {
      agent.kill('SIGTERM');
    });
    let log = '';
    await new Promise<void>((resolve, reject) => {
      agent.stderr.setEncoding('utf8').on('data', (text: string) => {
        log += text;
        if (log.includes('event=agent.ready')) resolve();
      });
      agent.once('exit', (code) => reject(new Error(`agent exited ${code}: ${log}`)));
    });
    expect(log, 'the agent started with fd 40 open').toMatch(/ 40 -> .*leaked\.txt/);
    expect(log).toMatch(/inherited_fds_closed=[1-9]/);
    const sb = await Sandbox.connect(`unix://${socket}`);
    try {
      const r = await sb.exec(['ls', '/proc/self/fd']);
      // 0-2 and ls's own handle on the directory it lists.
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['0', '1', '2', '3']);
      const sh = await sb.shells.open({ command: ['/bin/sh', '-c', 'ls /proc/$$/fd | tr "\\n" " "'] });
      let out = '';
      sh.onData((d) => (out += Buffer.from(d).toString()));
      await sh.wait();
      expect(out).toMatch(/\b0 1 2\b/);
      expect(out.trim().split(/\s+/)).not.toContain('40');
    } finally {
      await sb.close();
    }
  });
});
