// --env-file: the image's environment reaches every run and shell (under the request's env),
// and a bad file stops the agent with the line named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../../host/index.js';
import { startAgent, useAgent } from '../helpers/agent.js';
import { screen } from '../helpers/shell.js';

describe('--env-file', () => {
  let dir: string;
  let sb: Sandbox;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-env-file-'));
    // What the image builder writes from a spec's "env": single-quoted, sourceable by a shell.
    writeFileSync(
      path.join(dir, 'env'),
      ['# image env', "GREETING='it'\\''s a \"sandbox\"'", 'PLAIN=1', "OVERRIDDEN='from image'", ''].join('\n'),
    );
  });
  const fixture = useAgent({ args: () => ['--env-file', path.join(dir, 'env')] });
  beforeAll(() => {
    ({ sb } = fixture);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches runs, under the request env', async () => {
    const r = await sb.exec(['sh', '-c', 'printf "%s|%s|%s" "$GREETING" "$PLAIN" "$OVERRIDDEN"'], { env: { OVERRIDDEN: 'by request' } });
    expect(r.stdout).toBe('it\'s a "sandbox"|1|by request');
    const code = await sb.runCode('python', 'import os; print(os.environ["GREETING"])');
    expect(code.stdout).toBe('it\'s a "sandbox"\n');
  });

  it('reaches shells', async () => {
    const sh = await sb.shells.open({ command: ['/bin/sh', '-c', 'echo "[$GREETING][$PLAIN]"'] });
    const out = screen(sh);
    await sh.wait();
    expect(out.text()).toContain('[it\'s a "sandbox"][1]');
  });

  it('a malformed file stops the agent and names the line', async () => {
    const bad = path.join(dir, 'bad-env');
    writeFileSync(bad, 'GOOD=1\nnot a variable\n');
    await expect(startAgent({ args: ['--env-file', bad] })).rejects.toThrow(/bad-env:2: expected NAME=VALUE/);
  });
});
