// The image's env file (agent/core/env-file.ts): KEY=VALUE lines, '#' comments, values optionally
// in POSIX single quotes with '\'' for a quote. Fed both hand-written text and exactly what the
// image builder writes (host/image/rootfs.ts envFile), which must come back unchanged.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnvFile, readEnvFile } from '../../agent/core/env-file.js';
import { envFile } from '../../host/image/rootfs.js';

describe('parseEnvFile', () => {
  it.each<[string, string, Record<string, string>]>([
    ['an empty file', '', {}],
    ['only blank lines and comments', '\n   \n# a comment\n  # indented comment\n', {}],
    ['one variable', 'A=1', { A: '1' }],
    ['a trailing newline', 'A=1\n', { A: '1' }],
    ['CRLF line ends', 'A=1\r\nB=2\r\n', { A: '1', B: '2' }],
    ['surrounding whitespace of the line', '  A=1  \n\tB=2\t', { A: '1', B: '2' }],
    ['an empty value', 'A=', { A: '' }],
    ['an empty quoted value', "A=''", { A: '' }],
    ['"=" inside the value', 'A=b=c', { A: 'b=c' }],
    ['underscores and digits in names', '_X=1\nA_1=2', { _X: '1', A_1: '2' }],
    ['lower-case names', 'path=x', { path: 'x' }],
    ['a single-quoted value with spaces', "A='a b  c'", { A: 'a b  c' }],
    ['whitespace kept inside quotes', "A='  x  '", { A: '  x  ' }],
    ["an escaped quote ('\\'')", "A='it'\\''s'", { A: "it's" }],
    ['only a quote', "A=''\\'''", { A: "'" }],
    ['backslash is literal inside quotes', "A='a\\b\\'", { A: 'a\\b\\' }],
    ['backslash escapes the next character outside quotes', 'A=a\\ b\\\\c', { A: 'a b\\c' }],
    ['a lone trailing backslash is kept', 'A=a\\', { A: 'a\\' }],
    ['quoted and unquoted parts concatenate', "A=pre'mid dle'post", { A: 'premid dlepost' }],
    ['shell metacharacters are not expanded', "A='$HOME `id` $(id) ; | &'", { A: '$HOME `id` $(id) ; | &' }],
    ['"#" after the value is part of it', 'A=1 # not a comment', { A: '1 # not a comment' }],
    ['double quotes are not quoting', 'A="x"', { A: '"x"' }],
    ['a later line wins', 'A=1\nA=2', { A: '2' }],
    ['UTF-8 values', "A='héllo – ☃'", { A: 'héllo – ☃' }],
  ])('%s', (_name, text, expected) => {
    expect(parseEnvFile(text, 'env')).toEqual(expected);
  });

  it.each([
    ['a line without "="', 'JUST_A_NAME', '--env-file /etc/runbox/env:1: expected NAME=VALUE'],
    ['an empty name', '=value', '--env-file /etc/runbox/env:1: expected NAME=VALUE'],
    ['a name starting with a digit', '1A=x', '--env-file /etc/runbox/env:1: expected NAME=VALUE'],
    ['a dash in the name', 'A-B=x', '--env-file /etc/runbox/env:1: expected NAME=VALUE'],
    ['space before "="', 'A =x', '--env-file /etc/runbox/env:1: expected NAME=VALUE'],
    ['an export prefix', 'export A=x', '--env-file /etc/runbox/env:1: expected NAME=VALUE'],
    ['an unterminated quote', "A='open", '--env-file /etc/runbox/env:1: unterminated single quote'],
    ['an unterminated quote after an escaped one', "A='it'\\''s", '--env-file /etc/runbox/env:1: unterminated single quote'],
    [
      'the bad line numbered from 1, counting blanks and comments',
      '# header\n\nA=1\nbad\n',
      '--env-file /etc/runbox/env:4: expected NAME=VALUE',
    ],
  ])('%s is refused: %s', (_name, text, message) => {
    expect(() => parseEnvFile(text, '/etc/runbox/env')).toThrow(new Error(message));
  });
});

describe("the image builder's env file", () => {
  // Values as a spec may hold them: single-line strings without NUL (host/image/spec.ts).
  const env: Record<string, string> = {
    PLAIN: 'value',
    EMPTY: '',
    SPACES: '  a  b  ',
    QUOTE: "it's",
    QUOTES: "''",
    DOUBLE: '"x"',
    BACKSLASH: 'C:\\dir\\',
    SHELL: '$PATH:`id`;$(rm -rf /)&|<>*?',
    HASH: '# not a comment',
    EQUALS: 'a=b=c',
    TAB_CR: '\tx\r',
    UNICODE: 'héllo – ☃',
    PATH: '/usr/local/bin:/usr/bin:/bin',
  };

  it('parses back to exactly the spec’s env', () => {
    expect(parseEnvFile(envFile(env), '/etc/runbox/env')).toEqual(env);
  });

  it.each(Object.entries(env))('%s survives alone', (key, value) => {
    expect(parseEnvFile(envFile({ [key]: value }), 'env')).toEqual({ [key]: value });
  });

  it('is empty for an empty env and parses to nothing', () => {
    expect(envFile({})).toBe('');
    expect(parseEnvFile(envFile({}), 'env')).toEqual({});
  });
});

describe('readEnvFile', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-env-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and parses a file, naming it in errors', () => {
    const good = path.join(dir, 'good');
    writeFileSync(good, "# image env\nLANG='C.UTF-8'\nGOPATH=/home/runbox/go\n");
    expect(readEnvFile(good)).toEqual({ LANG: 'C.UTF-8', GOPATH: '/home/runbox/go' });
    const bad = path.join(dir, 'bad');
    writeFileSync(bad, 'A=1\nnope\n');
    expect(() => readEnvFile(bad)).toThrow(`--env-file ${bad}:2: expected NAME=VALUE`);
  });

  it('throws ENOENT for a missing file', () => {
    expect(() => readEnvFile(path.join(dir, 'missing'))).toThrow(/^ENOENT: no such file or directory/);
  });
});
