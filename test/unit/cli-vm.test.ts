// `runbox vm` (host/cli/vm/): each subcommand's own flags, checked by its pure parse() (argv →
// options, or a UsageError naming the flag), and the group's dispatch with an in-memory CliIo.
// Booting, listing and stopping real VMs is test/vm/vm-cli.test.ts.
import { describe, expect, it } from 'vitest';
import type { Command } from '../../host/cli/command.js';
import { main, USAGE } from '../../host/cli/vm/index.js';
import { command as run } from '../../host/cli/vm/run.js';
import { command as stop } from '../../host/cli/vm/stop.js';
import { command as ls } from '../../host/cli/vm/ls.js';
import { command as firecrackerConfig } from '../../host/cli/vm/firecracker-config.js';
import { command as create } from '../../host/cli/vm/create.js';
import { command as pause } from '../../host/cli/vm/pause.js';
import { command as resume } from '../../host/cli/vm/resume.js';
import { command as fork } from '../../host/cli/vm/fork.js';
import { memoryIo, usageError } from '../helpers/cli-io.js';

// Every flag some vm subcommand takes, with a value where it needs one.
const ALL_FLAGS: Record<string, string[]> = {
  net: ['--net', 'user'],
  memory: ['--memory', '512'],
  cpus: ['--cpus', '2'],
  'token-file': ['--token-file', 'tok'],
  init: ['--init', 'openrc'],
  accel: ['--accel', 'kvm'],
  machine: ['--machine', 'q35'],
  isolation: ['--isolation', 'per-run'],
  'wait-ms': ['--wait-ms', '5000'],
  detach: ['--detach'],
  json: ['--json'],
  all: ['--all'],
  tap: ['--tap', 'tap0'],
  vsock: ['--vsock', '/tmp/v.sock'],
  out: ['--out', '/tmp/fc'],
  count: ['--count', '3'],
};

/** The flags of ALL_FLAGS `command` does not take: each must be refused by name. */
function foreignFlags(command: Command<unknown>): string[] {
  return Object.keys(ALL_FLAGS).filter((flag) => !Object.hasOwn(command.flags, flag));
}

// [name, command, positionals (and required flags) that make a valid call, the optional flags it takes]
describe.each<[string, Command<unknown>, string[], string[]]>([
  ['vm run', run, ['bash'], ['net', 'memory', 'cpus', 'token-file', 'init', 'accel', 'machine', 'isolation', 'wait-ms', 'detach', 'json']],
  ['vm stop', stop, ['0123abcd'], []],
  ['vm create', create, ['python'], ['net', 'memory', 'cpus', 'init', 'accel', 'machine', 'isolation', 'wait-ms', 'json']],
  ['vm pause', pause, ['0123abcd'], ['json']],
  ['vm resume', resume, ['0123abcd'], ['wait-ms', 'json']],
  ['vm fork', fork, ['0123abcd'], ['count', 'json']],
  ['vm ls', ls, [], ['json']],
  [
    'vm firecracker-config',
    firecrackerConfig,
    ['bash', '--tap', 'tap0', '--vsock', '/tmp/v.sock'],
    ['out', 'init', 'memory', 'cpus', 'token-file', 'json'],
  ],
])('%s', (name, command, base, own) => {
  it('takes exactly the flags it uses', () => {
    expect(command.name).toBe(name);
    const required = { 'vm stop': ['all'], 'vm firecracker-config': ['tap', 'vsock'] }[name] ?? [];
    expect(Object.keys(command.flags).sort()).toEqual([...own, ...required].sort());
  });

  it.each(own)('accepts --%s', (flag) => {
    expect(command.parse([...base, ...ALL_FLAGS[flag]!])).not.toBe('help');
  });

  it.each(foreignFlags(command))('refuses --%s, naming it and the subcommand', (flag) => {
    expect(usageError(command, [...base, ...ALL_FLAGS[flag]!])).toBe(`--${flag} is not an option of ${command.name}`);
  });

  it('refuses an unknown flag, long or short, by name', () => {
    expect(usageError(command, [...base, '--frobnicate'])).toBe(`--frobnicate is not an option of ${command.name}`);
    expect(usageError(command, [...base, '-x'])).toBe(`-x is not an option of ${command.name}`);
  });

  it('-h and --help ask for its usage, even with bad positionals', () => {
    expect(command.parse(['--help'])).toBe('help');
    expect(command.parse(['-h', 'one', 'two', 'three'])).toBe('help');
    expect(command.usage).toMatch(new RegExp(`^Usage: runbox ${command.name} `));
  });
});

describe('vm run options', () => {
  it('maps the flags to boot options', () => {
    expect(
      run.parse([
        'python',
        '--net',
        'tap',
        '--memory',
        '512',
        '--cpus',
        '4',
        '--init',
        'openrc',
        '--accel',
        'kvm',
        '--machine',
        'q35',
        '--isolation',
        'per-run',
        '--wait-ms',
        '9000',
        '--detach',
        '--json',
        '--token-file',
        't',
      ]),
    ).toEqual({
      image: 'python',
      boot: {
        net: 'tap',
        memoryMiB: 512,
        cpus: 4,
        init: 'openrc',
        accel: 'kvm',
        machine: 'q35',
        isolation: 'per-run',
        readyTimeoutMs: 9000,
      },
      tokenFile: 't',
      detach: true,
      json: true,
    });
  });

  it.each([
    [['--net', 'bridge'], '--net bridge: expected tap or user'],
    [['--init', 'runit'], '--init runit: expected systemd or openrc'],
    [['--accel', 'hvf'], '--accel hvf: expected tcg or kvm'],
    [['--machine', 'pc'], '--machine pc: expected microvm or q35'],
    [['--isolation', 'strict'], '--isolation strict: expected shared or per-run'],
    [['--memory', 'lots'], '--memory lots: expected a non-negative integer'],
    [['--wait-ms=-1'], '--wait-ms -1: expected a non-negative integer'],
    [['--cpus'], "Option '--cpus <value>' argument missing"],
  ])('%j: %s', (flags, message) => {
    expect(usageError(run, ['bash', ...flags])).toBe(message);
  });

  it('takes exactly one image', () => {
    expect(usageError(run, [])).toMatch(/exactly one image name/);
    expect(usageError(run, ['bash', 'python'])).toMatch(/exactly one image name/);
  });
});

describe('vm stop options', () => {
  it('ids or --all', () => {
    expect(stop.parse(['0123abcd', 'deadbeef'])).toEqual({ ids: ['0123abcd', 'deadbeef'], all: false });
    expect(stop.parse(['--all'])).toEqual({ ids: [], all: true });
    expect(usageError(stop, [])).toBe('vm stop needs a VM id (see runbox vm ls) or --all');
    expect(usageError(stop, ['--all', '0123abcd'])).toBe('vm stop: give ids or --all, not both');
    expect(usageError(stop, ['../etc'])).toBe('vm stop "../etc": not a VM id (see runbox vm ls)');
  });
});

describe('vm ls and firecracker-config options', () => {
  it('vm ls takes no arguments', () => {
    expect(ls.parse([])).toEqual({ json: false });
    expect(ls.parse(['--json'])).toEqual({ json: true });
    expect(usageError(ls, ['x'])).toBe('vm ls takes no arguments');
  });

  it('firecracker-config needs --tap and --vsock, and defaults --out from the image', () => {
    expect(firecrackerConfig.parse(['go', '--tap', 't0', '--vsock', '/v.sock'])).toEqual({
      image: 'go',
      write: { tap: 't0', vsockPath: '/v.sock', outDir: 'firecracker-go', init: undefined, cpus: undefined, memoryMiB: undefined },
      json: false,
    });
    expect(usageError(firecrackerConfig, ['go', '--vsock', '/v.sock'])).toMatch(/--tap NAME is required/);
    expect(usageError(firecrackerConfig, ['go', '--tap', 't0'])).toMatch(/--vsock PATH is required/);
    expect(usageError(firecrackerConfig, ['--tap', 't0', '--vsock', '/v.sock'])).toMatch(/exactly one image name/);
  });
});

describe('runbox vm dispatch', () => {
  it('no subcommand: the overall usage on stdout, 2; --help, -h and help: 0', async () => {
    const io = memoryIo();
    expect(await main([], io)).toBe(2);
    expect(io.out()).toBe(USAGE);
    for (const help of ['--help', '-h', 'help']) {
      const h = memoryIo();
      expect(await main([help], h)).toBe(0);
      expect(h.out()).toBe(USAGE);
      expect(h.err()).toBe('');
    }
  });

  it('the overall usage shows each subcommand with the arguments and flags it takes', () => {
    expect(USAGE).toContain('runbox vm run <image|machine.json>');
    expect(USAGE).toContain('runbox vm create <image|machine.json>');
    expect(USAGE).toContain('runbox vm resume <id> [--wait-ms N]');
    // run's and create's synopses (each two or three lines) both name --isolation and --wait-ms.
    const synopsis = (verb: string) =>
      USAGE.slice(USAGE.indexOf(`runbox vm ${verb} `), USAGE.indexOf('runbox vm', USAGE.indexOf(`runbox vm ${verb} `) + 1));
    for (const verb of ['run', 'create']) {
      expect(synopsis(verb)).toContain('[--isolation shared|per-run]');
      expect(synopsis(verb)).toContain('[--wait-ms N]');
    }
    expect(USAGE).toMatch(/^ {6}--isolation I {4}shared/m);
    expect(USAGE).toMatch(/^ {6}--wait-ms N {6}give up/m);
    // vm ls names the CLI verb that brings a paused sandbox back, not only the SDK.
    expect(ls.usage).toContain('runbox vm resume <id>');
  });

  it('an unknown subcommand is 2 with the known ones and the overall usage', async () => {
    const io = memoryIo();
    expect(await main(['start'], io)).toBe(2);
    expect(io.err()).toBe(
      `runbox: unknown vm command 'start': expected run, create, pause, resume, fork, stop, ls or firecracker-config\n\n${USAGE}`,
    );
  });

  it("a subcommand's usage error prints that subcommand's usage", async () => {
    const io = memoryIo();
    expect(await main(['ls', '--wait-ms', '5'], io)).toBe(2);
    expect(io.err()).toBe(`runbox: --wait-ms is not an option of vm ls\n\n${ls.usage}`);
    const json = memoryIo();
    expect(await main(['stop', '--json', '0123abcd'], json)).toBe(2);
    expect(json.err()).toBe(`runbox: --json is not an option of vm stop\n\n${stop.usage}`);
  });

  it("a subcommand's --help prints its own usage on stdout", async () => {
    const io = memoryIo();
    expect(await main(['run', '--help'], io)).toBe(0);
    expect(io.out()).toBe(run.usage);
  });
});

describe('vm create, pause, resume, fork options', () => {
  it('vm create maps its flags onto createSandbox options', () => {
    expect(create.parse(['python', '--net', 'user', '--memory', '768', '--isolation', 'per-run', '--json'])).toEqual({
      image: 'python',
      create: {
        net: 'user',
        memoryMiB: 768,
        cpus: undefined,
        init: undefined,
        accel: undefined,
        machine: undefined,
        isolation: 'per-run',
        readyTimeoutMs: undefined,
      },
      json: true,
    });
  });

  it.each([
    [create, [], 'vm create takes exactly one image name, e.g. runbox vm create python'],
    [create, ['python', '--isolation', 'strict'], '--isolation strict: expected shared or per-run'],
    [pause, [], 'vm pause takes exactly one sandbox id (see runbox vm ls)'],
    [pause, ['../etc'], 'vm pause "../etc": not a sandbox id (see runbox vm ls)'],
    [resume, ['a', 'b'], 'vm resume takes exactly one paused sandbox id (see runbox vm ls)'],
    [fork, ['0123abcd', '-n', '0'], '--count 0: expected 1 to 32'],
    [fork, ['0123abcd', '--count', '33'], '--count 33: expected 1 to 32'],
  ] as const)('%s %j is a usage error naming what is wrong', (command, argv, message) => {
    expect(usageError(command as Command<unknown>, [...argv])).toBe(message);
  });

  it('vm fork takes -n as --count', () => {
    expect(fork.parse(['0123abcd', '-n', '4'])).toEqual({ id: '0123abcd', count: 4, json: false });
  });
});
