// The top-level dispatcher (host/cli/main.ts) with an in-memory CliIo: usage, --help, --version,
// unknown commands, and a verb's usage error reaching the exit code. Verbs that talk to an agent
// are tested against a real one in test/integration/.
import { describe, expect, it } from 'vitest';
import { main, USAGE, VERBS } from '../../host/cli/main.js';
import { VERSION } from '../../host/version.js';
import { memoryIo } from '../helpers/cli-io.js';

describe('runbox (dispatcher)', () => {
  it('no command: the usage on stdout, exit 2', async () => {
    const io = memoryIo();
    expect(await main([], io)).toBe(2);
    expect(io.out()).toBe(USAGE);
    expect(io.err()).toBe('');
  });

  it.each(['--help', '-h', 'help'])('%s: the usage on stdout, exit 0', async (flag) => {
    const io = memoryIo();
    expect(await main([flag], io)).toBe(0);
    expect(io.out()).toBe(USAGE);
  });

  it('the usage lists every command with its summary', () => {
    for (const [name, verb] of Object.entries(VERBS)) expect(USAGE).toContain(`  ${name.padEnd(11)} ${verb.summary}\n`);
  });

  it('--version prints the version, exit 0', async () => {
    const io = memoryIo();
    expect(await main(['--version'], io)).toBe(0);
    expect(io.out()).toBe(`runbox ${VERSION}\n`);
  });

  it.each(['frobnicate', 'toString', '__proto__', 'constructor', '--verbose'])(
    'unknown command %s: exit 2 naming it, then the usage',
    async (verb) => {
      const io = memoryIo();
      expect(await main([verb, '--help'], io)).toBe(2);
      expect(io.err()).toBe(`runbox: unknown command '${verb}'\n\n${USAGE}`);
      expect(io.out()).toBe('');
    },
  );

  it.each(Object.keys(VERBS))("'%s --help' prints that command's usage, exit 0", async (verb) => {
    const io = memoryIo();
    expect(await main([verb, '--help'], io)).toBe(0);
    expect(io.out()).toMatch(new RegExp(`^Usage:\\s+runbox ${verb}`));
    expect(io.err()).toBe('');
  });

  it("a verb's bad flag: 2, the message and that verb's usage on stderr", async () => {
    const io = memoryIo();
    expect(await main(['info', '--no-such-flag'], io)).toBe(2);
    expect(io.err()).toMatch(/^runbox: Unknown option '--no-such-flag'.*\n\nUsage: runbox info /s);
  });

  it('a missing target is a usage error naming the flag and the variable', async () => {
    const io = memoryIo({ env: {} });
    expect(await main(['languages'], io)).toBe(2);
    expect(io.err()).toMatch(/^runbox: --target is required \(or set RUNBOX_TARGET\)/);
  });
});
