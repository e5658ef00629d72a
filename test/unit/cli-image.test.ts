// `runbox image` (host/cli/image/): each subcommand's own flags through its pure parse(), the
// group's dispatch, and failures of the work exiting 125 with one `runbox:` line. Only failures
// that happen before anything is built run here (an empty image directory, a missing agent
// bundle); real builds are test/vm/image-build.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Command } from '../../host/cli/command.js';
import { main, USAGE } from '../../host/cli/image/index.js';
import { command as build } from '../../host/cli/image/build.js';
import { command as ls } from '../../host/cli/image/ls.js';
import { command as verify } from '../../host/cli/image/verify.js';
import { command as push } from '../../host/cli/image/push.js';
import { command as pull } from '../../host/cli/image/pull.js';
import { command as publish } from '../../host/cli/image/publish.js';
import { memoryIo, usageError } from '../helpers/cli-io.js';

const ALL_FLAGS: Record<string, string[]> = {
  init: ['--init', 'openrc'],
  out: ['--out', '/tmp/images'],
  'agent-dir': ['--agent-dir', '/tmp/agent'],
  force: ['--force'],
  json: ['--json'],
  username: ['--username', 'u', '--password-stdin'],
  'password-stdin': ['--password-stdin', '--username', 'u'],
  'allow-http': ['--allow-http'],
  listing: ['--listing', './bundles.json'],
  to: ['--to', '/tmp/site', '--uri-base', 'https://x/'],
  'uri-base': ['--uri-base', 'https://x/', '--to', '/tmp/site'],
  version: ['--version', '1', '--to', '/tmp/site', '--uri-base', 'https://x/'],
};

/** Where a flag needs another to be valid in one verb. */
const WITH: Record<string, Record<string, string[]>> = { 'image pull': { init: ['--init', 'openrc', '--listing', 'l.json'] } };

const TRANSFER = ['out', 'username', 'password-stdin', 'allow-http', 'json'];

describe.each<[string, Command<unknown>, string[], string[]]>([
  ['image build', build, ['python'], ['init', 'out', 'agent-dir', 'force', 'json']],
  ['image ls', ls, [], ['out', 'json']],
  ['image verify', verify, ['python'], ['init', 'out', 'json']],
  ['image push', push, ['python', 'localhost:5000/r/python:1'], TRANSFER],
  ['image pull', pull, ['localhost:5000/r/python:1'], [...TRANSFER, 'listing', 'init']],
  ['image publish', publish, ['python', '--to', '/tmp/site', '--uri-base', 'https://x/'], ['to', 'uri-base', 'version', 'out', 'json']],
])('%s', (name, command, base, own) => {
  it('takes exactly the flags it uses', () => {
    expect(command.name).toBe(name);
    expect(Object.keys(command.flags).sort()).toEqual([...own].sort());
  });

  it.each(own)('accepts --%s', (flag) => {
    expect(command.parse([...base, ...(WITH[name]?.[flag] ?? ALL_FLAGS[flag]!)])).not.toBe('help');
  });

  it.each(Object.keys(ALL_FLAGS).filter((flag) => !own.includes(flag)))('refuses --%s, naming it', (flag) => {
    expect(usageError(command, [...base, ...ALL_FLAGS[flag]!])).toBe(`--${flag} is not an option of ${name}`);
  });

  it('refuses flags of other verbs and unknown ones by name', () => {
    expect(usageError(command, [...base, '--wait-ms', '5'])).toBe(`--wait-ms is not an option of ${name}`);
    expect(usageError(command, [...base, '-f'])).toBe(`-f is not an option of ${name}`);
  });

  it('-h and --help ask for its usage', () => {
    expect(command.parse(['--help'])).toBe('help');
    expect(command.parse(['-h', 'a', 'b'])).toBe('help');
    expect(command.usage).toMatch(new RegExp(`^Usage: runbox ${name} `));
  });
});

describe('image push and pull options', () => {
  it('push: <name>[/<init>] and a reference; the flags map', () => {
    expect(push.parse(['python/openrc', 'reg:5000/a/b:1', '--username', 'me', '--password-stdin', '--allow-http', '--out', '/o'])).toEqual({
      image: 'python',
      init: 'openrc',
      reference: 'reg:5000/a/b:1',
      outDir: '/o',
      username: 'me',
      passwordStdin: true,
      allowHttp: true,
      json: false,
    });
    expect(push.parse(['bash', 'reg/a:1'])).toMatchObject({ image: 'bash', init: 'systemd' });
  });

  it('pull --listing and publish map their flags', () => {
    expect(pull.parse(['python@2', '--listing', 'https://x/bundles.json', '--init', 'openrc'])).toMatchObject({
      reference: 'python@2',
      listing: 'https://x/bundles.json',
      init: 'openrc',
    });
    expect(publish.parse(['go/openrc', '--to', '/s', '--uri-base', 'https://x', '--version', '1.0', '--out', '/o', '--json'])).toEqual({
      image: 'go',
      init: 'openrc',
      to: '/s',
      uriBase: 'https://x',
      version: '1.0',
      outDir: '/o',
      json: true,
    });
  });

  it.each([
    [push, ['python'], 'image push takes an image and a reference'],
    [push, ['python/sysv', 'reg/a:1'], '"python/sysv": name an image as <name> or <name>/<init> (init: systemd or openrc)'],
    [pull, [], 'image pull takes one reference'],
    [pull, ['reg/a:1', '--username', 'me'], '--username and --password-stdin go together'],
    [pull, ['reg/a:1', '--password-stdin'], '--username and --password-stdin go together'],
    [pull, ['reg/a:1', '--init', 'openrc'], '--init goes with --listing'],
    [pull, ['python', '--listing', 'l.json', '--username', 'u', '--password-stdin'], '--username is for registries'],
    [publish, ['python', '--to', '/s'], 'image publish needs --to <dir|listing.json> and --uri-base <url>'],
    [publish, ['--to', '/s', '--uri-base', 'https://x'], 'image publish takes one image'],
  ] as const)('%#: refuses %j', (command, argv, message) => {
    expect(usageError(command as Command<unknown>, [...argv])).toContain(message);
  });
});

describe('image options', () => {
  it('build maps its flags', () => {
    expect(build.parse(['./my.json', '--init', 'openrc', '--out', '/o', '--agent-dir', '/a', '--force', '--json'])).toEqual({
      spec: './my.json',
      build: { init: 'openrc', agentDir: '/a', force: true },
      outDir: '/o',
      json: true,
    });
    expect(usageError(build, [])).toBe('image build takes exactly one spec name or spec file');
    expect(usageError(build, ['a', 'b'])).toBe('image build takes exactly one spec name or spec file');
    expect(usageError(build, ['python', '--init', 'runit'])).toBe('--init runit: expected systemd or openrc');
  });

  it('ls takes no arguments', () => {
    expect(ls.parse([])).toEqual({ json: false });
    expect(usageError(ls, ['python'])).toBe('image ls takes no arguments');
  });

  it('verify takes at most one name; --init needs it', () => {
    expect(verify.parse([])).toEqual({ json: false });
    expect(verify.parse(['go', '--init', 'openrc'])).toEqual({ only: { name: 'go', init: 'openrc' }, json: false });
    expect(verify.parse(['go'])).toEqual({ only: { name: 'go' }, json: false });
    expect(usageError(verify, ['go', 'rust'])).toBe('image verify takes at most one image name');
    expect(usageError(verify, ['--init', 'openrc'])).toMatch(/^image verify: --init selects a build of one image/);
  });
});

describe('runbox image dispatch and exit codes', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'runbox-cli-image-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('no subcommand: the overall usage on stderr, 2; --help: stdout, 0', async () => {
    const io = memoryIo();
    expect(await main([], io)).toBe(2);
    expect(io.err()).toBe(USAGE);
    const help = memoryIo();
    expect(await main(['--help'], help)).toBe(0);
    expect(help.out()).toBe(USAGE);
    // publish takes a listing file as well as a directory, and the group's usage says so.
    expect(help.out()).toContain('runbox image publish <name>[/<init>] --to <dir|listing.json> --uri-base <url>');
  });

  it('an unknown subcommand is 2 with the known ones', async () => {
    const io = memoryIo();
    expect(await main(['remove'], io)).toBe(2);
    expect(io.err()).toBe(`runbox: unknown image command 'remove': expected build, ls, verify, push, pull or publish\n\n${USAGE}`);
  });

  it('list is ls', async () => {
    const io = memoryIo();
    expect(await main(['list', '--out', empty], io)).toBe(0);
    expect(io.out()).toBe(`no images in ${empty} (build one: runbox image build python)\n`);
    const usage = memoryIo();
    expect(await main(['list', '--init', 'systemd'], usage)).toBe(2);
    expect(usage.err()).toBe(`runbox: --init is not an option of image ls\n\n${ls.usage}`);
  });

  it('verify with nothing to verify is 125 with one line', async () => {
    const io = memoryIo();
    expect(await main(['verify', '--out', empty], io)).toBe(125);
    expect(io.err()).toBe(`runbox: image verify: no images in ${empty}\n`);
    const named = memoryIo();
    expect(await main(['verify', 'python', '--out', empty, '--json'], named)).toBe(125);
    expect(named.err()).toBe(`runbox: image verify: no image python in ${empty}\n`);
    expect(JSON.parse(named.out())).toEqual({ checked: 0, problems: [] });
  });

  it("a builder's plain Error is 125 with one line, not an internal error", async () => {
    const io = memoryIo();
    expect(await main(['build', 'python', '--out', empty, '--agent-dir', path.join(empty, 'no-agent')], io)).toBe(125);
    expect(io.err()).toBe(
      `runbox: agent bundle not found: ${path.join(empty, 'no-agent', 'runbox-agent.js')} (run \`npm run build\`, or pass agentDir)\n`,
    );
  });

  it('--out defaults to $RUNBOX_HOME/images of the io env', async () => {
    const io = memoryIo({ env: { RUNBOX_HOME: empty } });
    expect(await main(['ls'], io)).toBe(0);
    expect(io.out()).toBe(`no images in ${path.join(empty, 'images')} (build one: runbox image build python)\n`);
  });
});
