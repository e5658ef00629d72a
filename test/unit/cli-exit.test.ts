// How a CLI verb's error becomes its exit code and stderr (host/cli/exit.ts failure(), used by
// runVerb): usage errors 2 with the usage; every failure of the work 125 with one `runbox:` line,
// the image builder's SpecError, BuildError and CommandError are RunboxErrors like the rest;
// a stack only for the built-in classes that mean a bug in runbox.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { failure, runVerb, UsageError } from '../../host/cli/exit.js';
import { AuthenticationError, InvalidArgumentError, NotFoundError, RunboxError, SandboxUnavailableError } from '../../host/errors.js';
import { SpecError } from '../../host/image/spec.js';
import { BuildError } from '../../host/image/build.js';
import { CommandError } from '../../host/local/command.js';
import { VmBootError } from '../../host/vm/boot.js';
import { memoryIo } from '../helpers/cli-io.js';

const USAGE = 'Usage: runbox thing [--flag]\n';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

describe('failure: the exit code and text of an error', () => {
  it('a usage error is 2, its message, a blank line and the usage', () => {
    expect(failure(new UsageError('--net bridge: expected tap or user'), USAGE)).toEqual({
      exitCode: 2,
      text: `runbox: --net bridge: expected tap or user\n\n${USAGE}`,
    });
  });

  // The expected line is the error's own message: the builder's classes may change their wording
  // (and their base class) without this mapping changing.
  const oneLine: [string, Error][] = [
    ['RunboxError', new RunboxError('--token-file /x: ENOENT')],
    ['NotFoundError', new NotFoundError('vm deadbeef: no such VM (see runbox vm ls)')],
    ['SandboxUnavailableError', new SandboxUnavailableError('agent not reachable')],
    ['AuthenticationError', new AuthenticationError('the agent requires a token')],
    ['InvalidArgumentError', new InvalidArgumentError('language "cobol" is unknown')],
    ['VmBootError', new VmBootError('QEMU exited before the agent answered', '/tmp/console.log')],
    ['SpecError', new SpecError('./my.json', 'is not valid JSON')],
    ['BuildError', new BuildError('mmdebstrap failed', '/tmp/build.log')],
    ['CommandError', new CommandError(['mkfs.ext4', '-q', 'x'], 1, null, 'no space')],
    ['a bare Error of the builder', new Error('building an image needs root')],
    ['a Node system error (ENOENT)', thrown(() => readFileSync('/nonexistent/runbox-file')) as Error],
    ['a SyntaxError from a corrupt JSON file', thrown(() => JSON.parse('{"images": [')) as Error],
  ];
  it.each(oneLine)('%s is 125 with one runbox: line, no stack', (_name, error) => {
    const { exitCode, text } = failure(error, USAGE);
    expect(exitCode).toBe(125);
    expect(text).toBe(`runbox: ${error.message}\n`);
    expect(text).not.toMatch(/^\s+at /m); // no stack frame
    expect(text).not.toContain('internal error');
    expect(text).not.toContain(USAGE);
  });

  const bugs: [string, unknown][] = [
    ['TypeError', thrown(() => (undefined as unknown as { x: number }).x)],
    ['ReferenceError', new ReferenceError('frobnicate is not defined')],
    ['RangeError', new RangeError('Maximum call stack size exceeded')],
    ['EvalError', new EvalError('no')],
    ['URIError', thrown(() => decodeURIComponent('%'))],
    ['a thrown string', 'boom'],
    ['a thrown object', { reason: 'boom' }],
  ];
  it.each(bugs)('%s is a bug: 125 with "internal error" and the stack', (_name, error) => {
    const { exitCode, text } = failure(error, USAGE);
    expect(exitCode).toBe(125);
    expect(text).toMatch(/^runbox: internal error: /);
    if (error instanceof Error) expect(text).toContain(error.stack!);
    else expect(text).toBe(`runbox: internal error: ${String(error)}\n`);
  });
});

describe('runVerb', () => {
  it('passes the exit code of a verb that returns', async () => {
    const io = memoryIo();
    expect(await runVerb(USAGE, io, () => Promise.resolve(7))).toBe(7);
    expect(io.err()).toBe('');
  });

  it('writes the failure to stderr (not stdout) and returns its code', async () => {
    const io = memoryIo();
    expect(await runVerb(USAGE, io, () => Promise.reject(new SpecError('x', 'bad')))).toBe(125);
    expect(io.err()).toBe('runbox: image spec x: bad\n');
    expect(io.out()).toBe('');
    const usage = memoryIo();
    expect(await runVerb(USAGE, usage, () => Promise.reject(new UsageError('no')))).toBe(2);
    expect(usage.err()).toBe(`runbox: no\n\n${USAGE}`);
  });
});

describe('the image builder and launcher errors are RunboxErrors with codes and reasons', () => {
  it.each([
    [new SpecError('./my.json', 'is not valid JSON'), 'invalid_argument', 'SPEC_INVALID'],
    [new BuildError('mmdebstrap failed', '/tmp/build.log'), 'build_failed', 'BUILD_FAILED'],
    [new CommandError(['mkfs.ext4', '-q', 'x'], 1, null, 'no space'), 'command_failed', 'COMMAND_FAILED'],
    [new VmBootError('QEMU exited', '/tmp/console.log'), 'vm_boot_failed', 'VM_BOOT_FAILED'],
  ])('%s', (error, code, reason) => {
    expect(error).toBeInstanceOf(RunboxError);
    expect(error.code).toBe(code);
    expect(error.reason).toBe(reason);
  });
});
