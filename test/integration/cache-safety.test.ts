// The compile cache directory may have been writable by the sandbox user (an older image, or
// a mistake): links planted in it must never make the root agent chown or chmod their targets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../../host/index.js';
import { IN_CI, requireInCi } from '../helpers/required.js';
import { lookupUser } from '../../agent/core/users.js';
import { startAgent, type RunningAgent, useAgent } from '../helpers/agent.js';
import { randomBytes } from 'node:crypto';

const runbox = lookupUser('runbox');
const asRoot = process.getuid?.() === 0 && runbox !== undefined;

describe.skipIf(!asRoot && !IN_CI)('compile cache safety (root agent, runbox user)', () => {
  let dir: string;
  let cache: string;
  let victims: Record<'goBuild' | 'gopath' | 'bin', string>;
  let agent: RunningAgent;
  let sb: Sandbox;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-cache-safety-'));
    chmodSync(dir, 0o755);
    cache = path.join(dir, 'cache');
    mkdirSync(cache);
    chownSync(cache, runbox!.uid, runbox!.gid); // what an older image shipped
    victims = { goBuild: path.join(dir, 'victim-dir'), gopath: path.join(dir, 'victim-file'), bin: path.join(dir, 'victim-bin') };
    mkdirSync(victims.goBuild, { mode: 0o700 });
    writeFileSync(victims.gopath, 'secret\n', { mode: 0o600 });
    mkdirSync(victims.bin, { mode: 0o700 });
    // The links user code could have planted before the agent's first compile.
    symlinkSync(victims.goBuild, path.join(cache, 'go-build'));
    symlinkSync(victims.gopath, path.join(cache, 'gopath'));
    symlinkSync(victims.bin, path.join(cache, 'bin'));
    agent = await startAgent({ args: ['--cache-dir', cache] });
    sb = await Sandbox.connect(agent.unixTarget);
    await sb.waitReady();
  });
  afterAll(async () => {
    await sb?.close();
    await agent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the cache over without touching what planted links point to', async (context) => {
    const compiled = (await sb.languages()).find((l) => l.compiled);
    requireInCi(context, compiled !== undefined, 'a compiled language (go, rust or typescript)');
    if (!compiled) return;
    const source: Record<string, string> = {
      typescript: 'console.log("ok")',
      go: 'package main\nimport "fmt"\nfunc main() { fmt.Println("ok") }\n',
      rust: 'fn main() { println!("ok"); }\n',
    };
    const r = await sb.runCode(compiled.name, source[compiled.name]!, { timeoutMs: 60_000, compileTimeoutMs: 120_000 });
    expect(r.stdout).toBe('ok\n');

    for (const victim of Object.values(victims)) {
      const st = statSync(victim);
      expect(st.uid, victim).toBe(0);
      expect(st.mode & 0o777, victim).toBe(st.isDirectory() ? 0o700 : 0o600);
    }
    expect(statSync(cache)).toMatchObject({ uid: 0 });
    expect(statSync(cache).mode & 0o777).toBe(0o755);
    for (const [name, uid] of [
      ['bin', 0],
      ['go-build', runbox!.uid],
      ['gopath', runbox!.uid],
    ] as const) {
      const st = lstatSync(path.join(cache, name));
      expect(st.isDirectory(), name).toBe(true);
      expect(st.uid, name).toBe(uid);
    }
  });
});

describe('compile cache poisoning', () => {
  const fixture = useAgent();

  it(
    'a compile that ran beside other user code is never cached, so a concurrent run cannot plant a binary under its key',
    { timeout: 180_000 },
    async (ctx) => {
      const languages = (await fixture.sb.languages()).map((l) => l.name);
      requireInCi(ctx, languages.includes('go'), 'the Go toolchain');
      const tag = randomBytes(6).toString('hex');
      const legit = `package main\n\nimport "fmt"\n\n// ${tag}\nfunc main() { fmt.Println("legit") }\n`;
      const poison = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("pwned") }\n';
      // The attack: find a live compile through /proc (its cwd is the victim's private
      // directory) and overwrite main.go while go build runs.
      const attack = [
        'end=$((SECONDS+120))',
        'while [ $SECONDS -lt $end ]; do',
        '  for p in /proc/[0-9]*; do',
        '    d=$(readlink "$p/cwd" 2>/dev/null) || continue',
        '    [ -f "$d/main.go" ] && [ "$d" != "$PWD" ] && printf "%s" "$POISON" > "$d/main.go" 2>/dev/null',
        '  done',
        'done',
      ].join('\n');
      const attacker = await fixture.sb.exec(['bash', '-c', attack], { env: { POISON: poison }, timeoutMs: 150_000, background: true });
      const first = await fixture.sb.runCode('go', legit, { timeoutMs: 60_000 });
      expect(first.compileCached).toBe(false);
      attacker.kill();
      await attacker.wait();

      // Alone now: this compile is of the legitimate bytes, and only it is cached.
      const second = await fixture.sb.runCode('go', legit, { timeoutMs: 60_000 });
      expect(second.compileCached, 'the compile beside the attacker was not cached').toBe(false);
      expect(second.stdout).toBe('legit\n');
      const third = await fixture.sb.runCode('go', legit, { timeoutMs: 60_000 });
      expect(third.compileCached).toBe(true);
      expect(third.stdout).toBe('legit\n');
    },
  );
});
