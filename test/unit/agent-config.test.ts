// runbox-agent's flags (agent/core/config.ts) parsed into its one config: defaults when a flag is
// absent, each flag landing in its field, and every bad value a ConfigError naming the flag.
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, parseListen, type AgentConfig, type ListenTarget } from '../../agent/core/config.js';

const config = (argv: string[]): AgentConfig => {
  const parsed = parseConfig(argv);
  if (parsed === 'help') throw new Error('unexpected help');
  return parsed;
};

const configError = (fn: () => unknown): ConfigError | undefined => {
  try {
    fn();
  } catch (error) {
    return error as ConfigError;
  }
  return undefined;
};

describe('parseListen', () => {
  it.each<[string, ListenTarget]>([
    ['tcp://0.0.0.0:5000', { kind: 'tcp', host: '0.0.0.0', port: 5000 }],
    ['tcp://127.0.0.1:0', { kind: 'tcp', host: '127.0.0.1', port: 0 }], // 0: any free port
    ['tcp://localhost:65535', { kind: 'tcp', host: 'localhost', port: 65535 }],
    ['tcp://[::]:5000', { kind: 'tcp', host: '::', port: 5000 }], // brackets off: net.listen takes the bare address
    ['tcp://[::1]:80', { kind: 'tcp', host: '::1', port: 80 }],
    ['unix:///run/runbox/agent.sock', { kind: 'unix', path: '/run/runbox/agent.sock' }],
    ['unix:///tmp/a b.sock', { kind: 'unix', path: '/tmp/a b.sock' }],
  ])('%s → %j', (url, expected) => {
    expect(parseListen(url)).toEqual(expected);
  });

  it.each([
    ['tcp://0.0.0.0:65536', /port must be 0-65535/],
    ['tcp://0.0.0.0:99999', /port must be 0-65535/],
    ['tcp://0.0.0.0:123456', /expected tcp:\/\/HOST:PORT or unix:\/\/\/PATH/],
    ['tcp://0.0.0.0', /expected tcp:\/\/HOST:PORT/],
    ['tcp://:5000', /expected tcp:\/\/HOST:PORT/],
    ['tcp://::1:5000', /expected tcp:\/\/HOST:PORT/],
    ['tcp://h:5000/', /expected tcp:\/\/HOST:PORT/],
    ['0.0.0.0:5000', /expected tcp:\/\/HOST:PORT/],
    ['vsock://5000', /expected tcp:\/\/HOST:PORT/],
    ['unix://agent.sock', /unix socket path must be absolute/],
    ['unix://', /unix socket path must be absolute/],
    ['', /expected tcp:\/\/HOST:PORT/],
  ])('%j is a ConfigError (%s)', (url, message) => {
    const error = configError(() => parseListen(url));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).toMatch(message);
    expect(error!.message).toContain(`--listen ${url}`);
  });
});

describe('parseConfig', () => {
  it('has the documented defaults when given no flags', () => {
    const isRoot = process.getuid?.() === 0;
    const c = config([]);
    expect(c).toEqual<AgentConfig>({
      listen: [
        { kind: 'tcp', host: '0.0.0.0', port: 5000 },
        { kind: 'unix', path: '/run/runbox/agent.sock' },
      ],
      tokenFile: undefined,
      claimedTokenFile: undefined,
      manageGuest: false,
      envFile: undefined,
      user: undefined,
      maxConcurrent: 32,
      maxSourceBytes: 4 * 1024 * 1024,
      maxMessageBytes: 16 * 1024 * 1024,
      cgroups: 'auto',
      workDir: isRoot ? '/var/lib/runbox/runs' : path.join(os.tmpdir(), 'runbox-runs'),
      cacheDir: isRoot ? '/var/cache/runbox' : path.join(os.homedir(), '.cache', 'runbox-agent'),
      defaults: {
        timeoutMs: 30_000,
        compileTimeoutMs: 120_000,
        outputLimitBytes: 1024 * 1024,
        memoryBytes: 512 * 1024 * 1024,
        maxProcesses: 256,
      },
      maximums: {
        timeoutMs: 3_600_000,
        compileTimeoutMs: 1_800_000,
        outputLimitBytes: 64 * 1024 * 1024,
        memoryBytes: Math.max(512 * 1024 * 1024, os.totalmem()),
        maxProcesses: 32_768,
      },
      shellGraceMs: 60_000,
      maxShells: 64,
      maxContexts: 8,
      contextIdleMs: 1_800_000,
      fileTimeoutMs: 60_000,
      idleTimeoutMs: 120_000,
      isolation: 'shared',
      runUids: { first: 61000, last: 61999 },
    });
  });

  it.each<[string, string[], Partial<AgentConfig>]>([
    ['--listen replaces both defaults', ['--listen', 'tcp://127.0.0.1:7000'], { listen: [{ kind: 'tcp', host: '127.0.0.1', port: 7000 }] }],
    [
      '--listen is repeatable, in order',
      ['--listen', 'unix:///tmp/a.sock', '--listen=tcp://[::1]:1'],
      {
        listen: [
          { kind: 'unix', path: '/tmp/a.sock' },
          { kind: 'tcp', host: '::1', port: 1 },
        ],
      },
    ],
    ['--token-file', ['--token-file', '/dev/vdb'], { tokenFile: '/dev/vdb' }],
    ['--claimed-token-file', ['--claimed-token-file', '/run/runbox/claimed-token'], { claimedTokenFile: '/run/runbox/claimed-token' }],
    ['--manage-guest', ['--manage-guest'], { manageGuest: true }],
    ['--env-file', ['--env-file=/etc/runbox/env'], { envFile: '/etc/runbox/env' }],
    ['--user', ['--user', 'nobody'], { user: 'nobody' }],
    ['--max-concurrent', ['--max-concurrent', '1'], { maxConcurrent: 1 }],
    ['a repeated single flag keeps the last value', ['--max-concurrent', '2', '--max-concurrent', '3'], { maxConcurrent: 3 }],
    [
      '--max-source-bytes and --max-message-bytes',
      ['--max-source-bytes', '100', '--max-message-bytes', '101'],
      { maxSourceBytes: 100, maxMessageBytes: 101 },
    ],
    ['--cgroups off', ['--cgroups', 'off'], { cgroups: 'off' }],
    ['--cgroups auto', ['--cgroups=auto'], { cgroups: 'auto' }],
    ['--work-dir', ['--work-dir', '/srv/runs'], { workDir: '/srv/runs' }],
    ['--cache-dir', ['--cache-dir', '/srv/cache'], { cacheDir: '/srv/cache' }],
    ['--shell-grace-ms', ['--shell-grace-ms', '5'], { shellGraceMs: 5 }],
    ['--max-shells', ['--max-shells', '9007199254740991'], { maxShells: Number.MAX_SAFE_INTEGER }],
    ['--file-timeout-ms', ['--file-timeout-ms', '1500'], { fileTimeoutMs: 1500 }],
    ['--isolation per-run', ['--isolation', 'per-run'], { isolation: 'per-run' }],
    ['--run-uids', ['--run-uids', '70000-70095'], { runUids: { first: 70000, last: 70095 } }],
    [
      '--run-uids exactly big enough',
      ['--isolation=per-run', '--run-uids', '70000-70003', '--max-concurrent', '2', '--max-shells', '1', '--max-contexts', '1'],
      { runUids: { first: 70000, last: 70003 } },
    ],
    ['--max-contexts', ['--max-contexts', '3'], { maxContexts: 3 }],
    ['--context-idle-ms', ['--context-idle-ms', '60000'], { contextIdleMs: 60_000 }],
  ])('%s', (_name, argv, expected) => {
    expect(config(argv)).toMatchObject(expected);
  });

  it.each([
    ['--default-timeout-ms', 'timeoutMs', 1234],
    ['--default-output-bytes', 'outputLimitBytes', 10],
    ['--default-memory-bytes', 'memoryBytes', 64 << 20],
    ['--default-max-processes', 'maxProcesses', 7],
  ] as const)('%s sets defaults.%s, not the maximum', (flag, field, value) => {
    const c = config([flag, String(value)]);
    expect(c.defaults[field]).toBe(value);
    expect(c.maximums).toEqual(config([]).maximums);
  });

  it('raises the memory maximum to a default above the machine’s memory', () => {
    const huge = os.totalmem() * 4;
    expect(config(['--default-memory-bytes', String(huge)]).maximums.memoryBytes).toBe(huge);
  });

  it.each([
    [['--help']],
    [['--listen', 'tcp://0.0.0.0:5000', '--help']],
    // --help wins over values that would be refused later
    [['--help', '--cgroups', 'bogus', '--max-concurrent', '0']],
  ])('%j → help', (argv) => {
    expect(parseConfig(argv)).toBe('help');
  });

  it.each([
    ['an unknown flag', ['--bogus'], /bogus/],
    ['an unknown flag even with --help', ['--help', '--bogus'], /bogus/],
    ['a positional argument', ['serve'], /serve/],
    ['a string flag without its value', ['--listen'], /--listen/],
    ['a value given to --help', ['--help=yes'], /help/],
    ['a dash value without =', ['--max-concurrent', '-1'], /--max-concurrent/],
    ['a bad --listen', ['--listen', 'tcp://h'], /--listen tcp:\/\/h: expected/],
    ['--cgroups other than auto/off', ['--cgroups', 'on'], /--cgroups on: expected auto or off/],
    ['--max-concurrent 0', ['--max-concurrent', '0'], /--max-concurrent 0: expected a positive integer/],
    ['--max-concurrent negative', ['--max-concurrent=-1'], /--max-concurrent -1: expected a positive integer/],
    ['--max-concurrent fractional', ['--max-concurrent', '1.5'], /--max-concurrent 1.5: expected a positive integer/],
    ['--max-concurrent not a number', ['--max-concurrent', 'many'], /--max-concurrent many: expected a positive integer/],
    ['--max-concurrent empty', ['--max-concurrent='], /--max-concurrent : expected a positive integer/],
    [
      '--max-shells beyond a safe integer',
      ['--max-shells', '9007199254740992'],
      /--max-shells 9007199254740992: expected a positive integer/,
    ],
    ['--default-timeout-ms 0', ['--default-timeout-ms', '0'], /--default-timeout-ms 0/],
    ['--default-output-bytes Infinity', ['--default-output-bytes', 'Infinity'], /--default-output-bytes Infinity/],
    ['--default-memory-bytes NaN', ['--default-memory-bytes', 'NaN'], /--default-memory-bytes NaN/],
    ['--default-max-processes 0', ['--default-max-processes', '0'], /--default-max-processes 0/],
    ['--shell-grace-ms 0', ['--shell-grace-ms', '0'], /--shell-grace-ms 0/],
    ['--max-source-bytes 0', ['--max-source-bytes', '0'], /--max-source-bytes 0/],
    ['--max-message-bytes 0', ['--max-message-bytes', '0'], /--max-message-bytes 0/],
    [
      '--max-message-bytes equal to --max-source-bytes',
      ['--max-source-bytes', '100', '--max-message-bytes', '100'],
      /--max-message-bytes must be larger than --max-source-bytes/,
    ],
    [
      '--max-message-bytes below --max-source-bytes',
      ['--max-message-bytes', '1000'],
      /--max-message-bytes must be larger than --max-source-bytes/,
    ],
    ['--isolation other than shared/per-run', ['--isolation', 'strict'], /--isolation strict: expected shared or per-run/],
    ['--run-uids not a range', ['--run-uids', '61000'], /--run-uids 61000: expected FIRST-LAST/],
    ['--run-uids in the system range', ['--run-uids', '0-5000'], /--run-uids 0-5000: expected FIRST-LAST with 1000 <= FIRST/],
    ['--run-uids reversed', ['--run-uids', '62000-61000'], /FIRST <= LAST/],
    ['--run-uids up to 2^31-1', ['--run-uids', '61000-2147483647'], /< 2147483647/],
    [
      '--run-uids smaller than the runs, shells and contexts it must serve',
      ['--isolation', 'per-run', '--run-uids', '61000-61009'],
      /--run-uids 61000-61009: 10 uids, fewer than --max-concurrent \+ --max-shells \+ --max-contexts \(104\)/,
    ],
    ['--max-source-bytes at the default message size', ['--max-source-bytes', String(16 << 20)], /--max-message-bytes must be larger/],
  ])('%s is a ConfigError', (_name, argv, message) => {
    const error = configError(() => parseConfig(argv));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).toMatch(message);
  });
});
