// The ARG_MAX arithmetic runs and shells share (agent/usercode/argv.ts): each string counts
// its bytes + NUL (+ an 8-byte pointer for execve), a string over MAX_ARG_STRLEN is refused by
// name, the total is held to --max-source-bytes and to what execve() takes.
import { describe, expect, it } from 'vitest';
import { RpcError } from '../../agent/server/errors.js';
import { MAX_ARG_STRLEN, MAX_EXEC_BYTES, checkEnv, checkExecSize, checkStrings, execSize } from '../../agent/usercode/argv.js';

const refusal = (fn: () => void): RpcError | undefined => {
  try {
    fn();
  } catch (error) {
    return error as RpcError;
  }
  return undefined;
};

describe('execSize', () => {
  it.each([
    [[], {}, 0, 0],
    [['a'], {}, 2, 10],
    [['ab', 'c'], {}, 5, 21],
    [[], { K: 'v' }, 4, 12],
    [['é'], {}, 3, 11], // UTF-8 bytes, not characters
    [['x'], { A: '', BB: 'yy' }, 2 + 3 + 6, 2 + 3 + 6 + 24],
  ] as const)('%j + %j → %i bytes, %i with pointers', (argv, env, bytes, execBytes) => {
    expect(execSize(argv, env)).toMatchObject({ bytes, execBytes });
  });
});

describe('checkExecSize', () => {
  it.each([
    ['one string just under MAX_ARG_STRLEN', ['x'.repeat(MAX_ARG_STRLEN - 1)], {}, 4 << 20, undefined],
    [
      'one string at MAX_ARG_STRLEN',
      ['x'.repeat(MAX_ARG_STRLEN)],
      {},
      4 << 20,
      /argv\[0\] is 131072 bytes; the kernel takes at most 131071/,
    ],
    ['an env string at MAX_ARG_STRLEN', [], { K: 'v'.repeat(MAX_ARG_STRLEN) }, 4 << 20, /env\["K"\] is 131074 bytes/],
    [
      'the total over --max-source-bytes',
      ['a'.repeat(100), 'b'.repeat(100)],
      {},
      150,
      /total 202 bytes, over this agent's limit of 150 bytes \(--max-source-bytes\)/,
    ],
    [
      'the total over ARG_MAX',
      Array.from({ length: 20 }, () => 'z'.repeat(100_000)),
      {},
      8 << 20,
      /over the \d+ bytes a program can be started with \(the kernel's ARG_MAX\)/,
    ],
    [
      'many small strings whose pointers tip it over',
      Array.from({ length: Math.ceil(MAX_EXEC_BYTES / 9) }, () => ''),
      {},
      8 << 20,
      /ARG_MAX/,
    ],
  ] as const)('%s', (_name, argv, env, max, expected) => {
    const error = refusal(() => checkExecSize('argv', argv, env, max));
    if (expected === undefined) expect(error).toBeUndefined();
    else {
      expect(error?.reason).toBe('ARGS_TOO_LARGE');
      expect(error?.message).toMatch(expected);
      expect(error?.metadata.field).toBeTruthy();
    }
  });
});

describe('checkStrings / checkEnv', () => {
  it.each([
    [() => checkStrings('argv', ['ok', 'a\0b']), /argv\[1\] contains a NUL byte/, 'argv[1]'],
    [() => checkEnv('env', { '': 'x' }), /env key "" is invalid/, 'env'],
    [() => checkEnv('env', { 'A=B': 'x' }), /env key "A=B" is invalid/, 'env'],
    [() => checkEnv('env', { A: 'x\0' }), /env\["A"\] contains a NUL byte/, 'env'],
    [() => checkEnv('start.env', { ['K'.repeat(100)]: '\0' }), /start\.env\["K{40}\.\.\."\]/, 'start.env'],
  ])('%#: refuses with FIELD_INVALID naming the field', (fn, message, field) => {
    const error = refusal(fn);
    expect(error?.reason).toBe('FIELD_INVALID');
    expect(error?.message).toMatch(message);
    expect(error?.metadata.field).toBe(field);
  });

  it('accepts ordinary input', () => {
    expect(refusal(() => checkStrings('argv', ['ls', '-l', 'ünïcode']))).toBeUndefined();
    expect(refusal(() => checkEnv('env', { PATH: '/bin', EMPTY: '' }))).toBeUndefined();
  });
});
