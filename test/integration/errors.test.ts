// Machine-readable reasons end to end: the built agent attaches google.rpc.ErrorInfo to every
// error status, and the SDK turns it into `error.reason` / `error.metadata` on its typed
// errors. The table in docs/errors.md is the agent's own table.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  Sandbox,
} from '../../host/index.js';
import { REASONS } from '../../agent/server/reasons.js';
import { REPO, type RunningAgent, useAgent } from '../helpers/agent.js';
import { failure } from '../helpers/assert.js';

describe('error reasons', () => {
  let agent: RunningAgent;
  let sb: Sandbox;
  const token = 'reasons-token';
  const fixture = useAgent({ token, args: ['--max-concurrent', '1', '--max-shells', '1'] });
  beforeAll(() => {
    ({ agent, sb } = fixture);
  });

  it.each([
    [
      'an unknown language',
      () => sb.runCode('cobol-nope', 'x'),
      InvalidArgumentError,
      'LANGUAGE_UNKNOWN',
      { field: 'language', language: 'cobol-nope' },
    ],
    ['an empty argv', () => sb.exec([]), InvalidArgumentError, 'FIELD_INVALID', { field: 'argv' }],
    ['a relative cwd', () => sb.exec(['true'], { cwd: 'rel' }), InvalidArgumentError, 'CWD_INVALID', { field: 'cwd' }],
    ['a NUL in an env value', () => sb.exec(['true'], { env: { A: 'a\0b' } }), InvalidArgumentError, 'FIELD_INVALID', { field: 'env' }],
    [
      'a missing file',
      () => sb.files.stat('/nonexistent/file'),
      NotFoundError,
      'FILE_NOT_FOUND',
      { path: '/nonexistent/file', errno: 'ENOENT' },
    ],
    ['a relative path', () => sb.files.stat('relative'), InvalidArgumentError, 'PATH_INVALID', { field: 'path' }],
    ['reading a directory', () => sb.files.read('/'), FailedPreconditionError, 'IS_A_DIRECTORY', { path: '/', errno: 'EISDIR' }],
    ['an expired shell id', () => sb.shells.attach('no-such-session'), NotFoundError, 'SHELL_NOT_FOUND', { session: 'no-such-session' }],
  ] as const)('%s', async (_name, call, type, reason, metadata) => {
    const error = await failure(call());
    expect(error).toBeInstanceOf(type);
    expect(error.reason).toBe(reason);
    expect(error.metadata).toEqual(metadata);
    expect(error.code).toBe(type.code);
    expect((await sb.exec(['echo', 'still serving'])).stdout).toBe('still serving\n');
  });

  it('TOO_MANY_RUNS names the flag and the limit', async () => {
    const busy = await sb.exec(['sleep', '30'], { background: true });
    try {
      const error = await failure(sb.exec(['true']));
      expect(error).toBeInstanceOf(ResourceExhaustedError);
      expect(error.reason).toBe('TOO_MANY_RUNS');
      expect(error.metadata).toEqual({ flag: '--max-concurrent', limit: '1' });
    } finally {
      busy.kill();
      await busy.wait();
    }
  });

  it('TOKEN_MISSING and TOKEN_MISMATCH tell the two apart', async () => {
    for (const [given, reason] of [
      [undefined, 'TOKEN_MISSING'],
      ['wrong', 'TOKEN_MISMATCH'],
    ] as const) {
      const other = await Sandbox.connect(agent.unixTarget, given === undefined ? {} : { token: given });
      try {
        const error = await failure(other.languages());
        expect(error).toBeInstanceOf(AuthenticationError);
        expect(error.reason).toBe(reason);
      } finally {
        await other.close();
      }
    }
  });

  it('a huge echoed field is cut in the message, not sent whole', async () => {
    const language = 'x'.repeat(1 << 20);
    const error = await failure(sb.runCode(language, 'x'));
    expect(error.reason).toBe('LANGUAGE_UNKNOWN');
    expect(error.message.length).toBeLessThan(4096);
    expect(error.metadata.language!.length).toBeLessThan(1024);
  });

  it("an 8 MiB echoed field leaves the agent's log lines bounded: the rejection is logged, cut", async () => {
    const logged = agent.log.length;
    const language = 'y'.repeat(8 << 20);
    const error = await failure(sb.runCode(language, 'x'));
    expect(error.reason).toMatch(/^[A-Z_]+$/);
    // The rejection's line is written before the status goes out: it is there once the call failed.
    const lines = agent.log.slice(logged);
    const rejected = lines.filter((line) => line.includes('event=run.rejected'));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toContain(`reason=${error.reason}`);
    // Each field is cut at 512 characters with a note of how much was left out (the message
    // echoes the language after its own cut at 2048).
    expect(rejected[0]).toMatch(/ message="language \\"y+\.\.\.\(\d+ more\)"$/);
    for (const line of lines) expect(line.length).toBeLessThan(4096);
  });

  it('docs/errors.md lists exactly the reasons the agent has, each with its gRPC code', () => {
    const doc = readFileSync(path.join(REPO, 'docs/errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| `([A-Z_]+)` \|/gm)].map((m) => [m[1], m[2]]);
    const grpcNames = Object.fromEntries(Object.entries(REASONS).map(([reason, spec]) => [reason, spec.code]));
    expect(rows.map(([reason]) => reason).sort()).toEqual(Object.keys(REASONS).sort());
    for (const [reason, code] of rows) expect(status[code as keyof typeof status]).toBe(grpcNames[reason!]);
  });
});
