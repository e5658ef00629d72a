// Image specs (host/image/spec.ts): validateSpecFile checks one parsed JSON file field by field,
// specPath tells built-in names from paths, resolveSpec follows `extends` and merges the chain.
// resolveSpec reads real files: specs written to a temporary directory, and the built-in ones.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { specsDir } from '../../host/image/paths.js';
import { resolveSpec, SpecError, specPath, validateSpecFile, type ImageSpecFile } from '../../host/image/spec.js';

function specError(fn: () => unknown): SpecError | undefined {
  try {
    fn();
  } catch (error) {
    return error as SpecError;
  }
  return undefined;
}

async function rejection(promise: Promise<unknown>): Promise<SpecError | undefined> {
  try {
    await promise;
  } catch (error) {
    return error as SpecError;
  }
  return undefined;
}

const EMPTY = { packages: [], languages: {}, env: {}, files: [], warmup: [], excludePaths: [], includePaths: [] };

describe('validateSpecFile accepts', () => {
  it.each<[string, unknown, ImageSpecFile]>([
    ['just a name, with every list empty', { name: 'x' }, { name: 'x', ...EMPTY }],
    ['the longest name', { name: 'a'.repeat(63) }, { name: 'a'.repeat(63), ...EMPTY }],
    ['a name with digits, dots, dashes, underscores', { name: '0py3.11_x-y' }, { name: '0py3.11_x-y', ...EMPTY }],
    [
      'the scalar fields',
      { name: 'x', extends: '../base.json', description: 'd', backports: true },
      { name: 'x', extends: '../base.json', description: 'd', backports: true, ...EMPTY },
    ],
    [
      'Debian package names',
      { name: 'x', packages: ['python3', 'g++', 'libc6-dev', 'golang-1.23-go', 'r8'] },
      { name: 'x', ...EMPTY, packages: ['python3', 'g++', 'libc6-dev', 'golang-1.23-go', 'r8'] },
    ],
    [
      'languages',
      { name: 'x', languages: { python: { package: 'python3' } } },
      { name: 'x', ...EMPTY, languages: { python: { package: 'python3' } } },
    ],
    [
      'env, including empty and odd values',
      { name: 'x', env: { _A: '', PATH: '/bin', Q: "it's $x" } },
      { name: 'x', ...EMPTY, env: { _A: '', PATH: '/bin', Q: "it's $x" } },
    ],
    [
      'files with and without mode and owner',
      {
        name: 'x',
        files: [
          { path: '/etc/a', content: 'a\n' },
          { path: '/b', content: '', mode: '755', owner: 'runbox' },
          { path: '/c', content: 'c', mode: '0600', owner: 'root' },
        ],
      },
      {
        name: 'x',
        ...EMPTY,
        files: [
          { path: '/etc/a', content: 'a\n', mode: undefined, owner: undefined },
          { path: '/b', content: '', mode: '755', owner: 'runbox' },
          { path: '/c', content: 'c', mode: '0600', owner: 'root' },
        ],
      },
    ],
    [
      'warm-up commands',
      { name: 'x', warmup: [{ argv: ['/bin/true'] }, { argv: ['/usr/bin/go', 'build', ''], cwd: '/tmp', env: { GOFLAGS: '-mod=mod' } }] },
      {
        name: 'x',
        ...EMPTY,
        warmup: [
          { argv: ['/bin/true'], cwd: undefined, env: {} },
          { argv: ['/usr/bin/go', 'build', ''], cwd: '/tmp', env: { GOFLAGS: '-mod=mod' } },
        ],
      },
    ],
    [
      'dpkg path globs',
      {
        name: 'x',
        excludePaths: ['/usr/share/doc/*', '/usr/lib/*/lib[alt]san*', '/usr/bin/g++-?', '/opt/a@b/c.d_e'],
        includePaths: ['/usr/share/doc/x/copyright'],
      },
      {
        name: 'x',
        ...EMPTY,
        excludePaths: ['/usr/share/doc/*', '/usr/lib/*/lib[alt]san*', '/usr/bin/g++-?', '/opt/a@b/c.d_e'],
        includePaths: ['/usr/share/doc/x/copyright'],
      },
    ],
  ])('%s', (_name, raw, expected) => {
    expect(validateSpecFile('t.json', raw)).toEqual(expected);
  });
});

describe('validateSpecFile refuses', () => {
  it.each<[string, unknown, RegExp]>([
    ['null', null, /must be a JSON object/],
    ['an array', [{ name: 'x' }], /must be a JSON object/],
    ['a string', 'x', /must be a JSON object/],
    ['an unknown field', { name: 'x', pacakges: [] }, /unknown field "pacakges" \(known: name, extends,/],
    ['a missing name', {}, /"name" must match .* \(got undefined\)/],
    ['a non-string name', { name: 3 }, /"name" must match .* \(got 3\)/],
    ['an empty name', { name: '' }, /"name" must match/],
    ['an upper-case name', { name: 'Python' }, /"name" must match .* \(got "Python"\)/],
    ['a name starting with a dash', { name: '-x' }, /"name" must match/],
    ['a name with a slash', { name: 'a/b' }, /"name" must match/],
    ['a name of 64 characters', { name: 'a'.repeat(64) }, /"name" must match/],
    ['an empty extends', { name: 'x', extends: '' }, /"extends" must be a spec name or a path/],
    ['a non-string extends', { name: 'x', extends: ['base'] }, /"extends" must be a spec name or a path/],
    ['a non-string description', { name: 'x', description: 1 }, /"description" must be a string/],
    ['backports as a string', { name: 'x', backports: 'true' }, /"backports" must be true or false/],
    ['packages as a string', { name: 'x', packages: 'python3' }, /"packages" must be an array of strings/],
    ['a non-string package', { name: 'x', packages: ['python3', 3] }, /"packages" must be an array of strings/],
    ['a one-character package', { name: 'x', packages: ['r'] }, /package "r" is not a Debian package name/],
    ['a package with a version', { name: 'x', packages: ['python3=3.11'] }, /package "python3=3.11" is not a Debian package name/],
    ['a package with a suite', { name: 'x', packages: ['golang/bookworm-backports'] }, /is not a Debian package name/],
    ['an upper-case package', { name: 'x', packages: ['Python3'] }, /is not a Debian package name/],
    ['a package that looks like an option', { name: 'x', packages: ['-y'] }, /is not a Debian package name/],
    ['languages as an array', { name: 'x', languages: [] }, /"languages" must be an object/],
    ['a bad language name', { name: 'x', languages: { 'C++': { package: 'g++' } } }, /language name "C\+\+" is invalid/],
    ['a language as a string', { name: 'x', languages: { python: 'python3' } }, /"languages.python.package" must be a Debian package name/],
    ['a language without a package', { name: 'x', languages: { python: {} } }, /"languages.python.package" must be a Debian package name/],
    ['a language with a bad package', { name: 'x', languages: { python: { package: 'py thon' } } }, /"languages.python.package"/],
    ['env as an array', { name: 'x', env: ['A=1'] }, /"env" must be an object of strings/],
    ['an env name with a dash', { name: 'x', env: { 'A-B': '1' } }, /"env" key "A-B" is not a valid variable name/],
    ['an env name starting with a digit', { name: 'x', env: { '1A': '1' } }, /"env" key "1A" is not a valid variable name/],
    ['an empty env name', { name: 'x', env: { '': '1' } }, /"env" key "" is not a valid variable name/],
    ['a non-string env value', { name: 'x', env: { A: 1 } }, /"env.A" must be a single-line string/],
    ['a multi-line env value', { name: 'x', env: { A: 'a\nb' } }, /"env.A" must be a single-line string/],
    ['a NUL in an env value', { name: 'x', env: { A: 'a\0b' } }, /"env.A" must be a single-line string/],
    ['files as an object', { name: 'x', files: { '/a': 'x' } }, /"files" must be an array/],
    ['a file that is a string', { name: 'x', files: ['/a'] }, /"files\[0\]" must be an object/],
    [
      'a relative file path',
      { name: 'x', files: [{ path: 'etc/a', content: '' }] },
      /"files\[0\].path" must be an absolute path without "\.\." \(got "etc\/a"\)/,
    ],
    ['a file path with ..', { name: 'x', files: [{ path: '/etc/../root/x', content: '' }] }, /"files\[0\].path" must be an absolute path/],
    ['a file path with a NUL', { name: 'x', files: [{ path: '/a\0b', content: '' }] }, /"files\[0\].path" must be an absolute path/],
    ['a missing file path', { name: 'x', files: [{ content: '' }] }, /"files\[0\].path" must be an absolute path .* \(got undefined\)/],
    ['missing content', { name: 'x', files: [{ path: '/a' }] }, /"files\[0\].content" must be a string/],
    [
      'the second file bad',
      {
        name: 'x',
        files: [
          { path: '/a', content: '' },
          { path: '/b', content: 1 },
        ],
      },
      /"files\[1\].content" must be a string/,
    ],
    [
      'a numeric mode',
      { name: 'x', files: [{ path: '/a', content: '', mode: 644 }] },
      /"files\[0\].mode" must be an octal string like "0644"/,
    ],
    ['a non-octal mode', { name: 'x', files: [{ path: '/a', content: '', mode: '0648' }] }, /"files\[0\].mode" must be an octal string/],
    [
      'a symbolic mode',
      { name: 'x', files: [{ path: '/a', content: '', mode: 'rw-r--r--' }] },
      /"files\[0\].mode" must be an octal string/,
    ],
    ['a two-digit mode', { name: 'x', files: [{ path: '/a', content: '', mode: '44' }] }, /"files\[0\].mode" must be an octal string/],
    [
      'another owner',
      { name: 'x', files: [{ path: '/a', content: '', owner: 'nobody' }] },
      /"files\[0\].owner" must be "root" or "runbox"/,
    ],
    ['warmup as an object', { name: 'x', warmup: { argv: ['/bin/true'] } }, /"warmup" must be an array/],
    ['a warm-up command that is a string', { name: 'x', warmup: ['/bin/true'] }, /"warmup\[0\]" must be an object/],
    ['a shell string as argv', { name: 'x', warmup: [{ argv: '/bin/true' }] }, /"warmup\[0\].argv" must be an array of strings/],
    ['a missing argv', { name: 'x', warmup: [{}] }, /"warmup\[0\].argv" must not be empty/],
    ['an empty argv', { name: 'x', warmup: [{ argv: [] }] }, /"warmup\[0\].argv" must not be empty/],
    ['a program found on PATH', { name: 'x', warmup: [{ argv: ['go', 'build'] }] }, /"warmup\[0\].argv\[0\]" must be an absolute path/],
    ['a NUL in an argument', { name: 'x', warmup: [{ argv: ['/bin/echo', 'a\0b'] }] }, /"warmup\[0\].argv" contains a NUL byte/],
    ['a relative cwd', { name: 'x', warmup: [{ argv: ['/bin/true'], cwd: 'tmp' }] }, /"warmup\[0\].cwd" must be an absolute path/],
    [
      'a bad warm-up env',
      { name: 'x', warmup: [{ argv: ['/bin/true'], env: { A: 'a\nb' } }] },
      /"warmup\[0\].env.A" must be a single-line string/,
    ],
    ['excludePaths as a string', { name: 'x', excludePaths: '/usr/share/doc/*' }, /"excludePaths" must be an array of strings/],
    [
      'a relative glob',
      { name: 'x', excludePaths: ['usr/share/doc/*'] },
      /"excludePaths" entry "usr\/share\/doc\/\*" must be an absolute dpkg path glob/,
    ],
    [
      'a glob with ..',
      { name: 'x', includePaths: ['/usr/../etc/*'] },
      /"includePaths" entry "\/usr\/..\/etc\/\*" must be an absolute dpkg path glob/,
    ],
    [
      'a glob with a space',
      { name: 'x', excludePaths: ['/usr/share/my doc'] },
      /"excludePaths" entry .* must be an absolute dpkg path glob/,
    ],
    [
      'a glob with a newline',
      { name: 'x', excludePaths: ['/usr/*\npath-include=/'] },
      /"excludePaths" entry .* must be an absolute dpkg path glob/,
    ],
  ])('%s', (_name, raw, message) => {
    const error = specError(() => validateSpecFile('t.json', raw));
    expect(error).toBeInstanceOf(SpecError);
    expect(error!.name).toBe('SpecError');
    expect(error!.message).toMatch(/^image spec t\.json: /);
    expect(error!.message).toMatch(message);
  });
});

describe('specPath', () => {
  it.each([
    ['a built-in name', 'python', undefined, path.join(specsDir(), 'python.json')],
    ['a name with a dot', 'python3.11', undefined, path.join(specsDir(), 'python3.11.json')],
    ['an absolute path', '/srv/specs/my.json', '/elsewhere', '/srv/specs/my.json'],
    ['a relative path', './my.json', '/srv/specs', '/srv/specs/my.json'],
    ['a parent-relative path', '../base.json', '/srv/specs/child', '/srv/specs/base.json'],
    ['a bare .json file name', 'my.json', '/srv/specs', '/srv/specs/my.json'],
    ['a path without .json', 'specs/my', '/srv', '/srv/specs/my'],
    ['a relative path and no base: the working directory', 'my.json', undefined, path.resolve('my.json')],
  ])('%s: %s (relative to %s) → %s', (_name, ref, relativeTo, expected) => {
    expect(specPath(ref, relativeTo)).toBe(expected);
  });

  it.each(['Python', 'my spec', '', '-x'])('%j is neither a name nor a path', (ref) => {
    const error = specError(() => specPath(ref));
    expect(error).toBeInstanceOf(SpecError);
    expect(error!.message).toBe(`image spec ${ref}: is neither a spec name nor a path to a .json file`);
  });
});

describe('resolveSpec', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-spec-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, spec: unknown): string => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof spec === 'string' ? spec : JSON.stringify(spec));
    return file;
  };

  it('merges a chain, parents first: union of packages, child env and languages win, files by path, filters in order', async () => {
    write('root.json', {
      name: 'root',
      description: 'the root',
      packages: ['pa', 'shared'],
      languages: { one: { package: 'p1' }, two: { package: 'p2' } },
      env: { A: 'root', B: 'root' },
      files: [
        { path: '/f1', content: 'root' },
        { path: '/f2', content: 'root' },
      ],
      warmup: [{ argv: ['/bin/root'] }],
      excludePaths: ['/usr/share/doc/*'],
    });
    write('mid.json', {
      name: 'mid',
      extends: './root.json',
      backports: true,
      packages: ['shared', 'mid'],
      env: { B: 'mid' },
      includePaths: ['/usr/share/doc/keep'],
    });
    const leaf = write('leaf.json', {
      name: 'leaf',
      extends: 'mid.json',
      packages: ['pa', 'leaf'],
      languages: { two: { package: 'p2-leaf' } },
      env: { C: 'leaf' },
      files: [{ path: '/f1', content: 'leaf', mode: '0600' }],
      warmup: [{ argv: ['/bin/leaf'], cwd: '/tmp' }],
      excludePaths: ['/usr/share/doc/keep'],
    });
    expect(await resolveSpec(leaf)).toEqual({
      name: 'leaf',
      description: '', // the leaf's own, not inherited
      chain: ['root', 'mid', 'leaf'],
      backports: true, // any spec in the chain
      packages: ['pa', 'shared', 'mid', 'leaf'],
      languages: { one: { package: 'p1' }, two: { package: 'p2-leaf' } },
      env: { A: 'root', B: 'mid', C: 'leaf' },
      files: [
        { path: '/f2', content: 'root' },
        { path: '/f1', content: 'leaf', mode: '0600' },
      ],
      warmup: [
        { argv: ['/bin/root'], env: {} },
        { argv: ['/bin/leaf'], cwd: '/tmp', env: {} },
      ],
      pathFilters: [
        { action: 'exclude', glob: '/usr/share/doc/*' },
        { action: 'include', glob: '/usr/share/doc/keep' },
        { action: 'exclude', glob: '/usr/share/doc/keep' },
      ],
    });
  });

  it('resolves a bare name in extends to the built-in spec, wherever the child lives', async () => {
    const child = write('on-python.json', { name: 'mine', extends: 'python', packages: ['python3-jwt'] });
    const resolved = await resolveSpec(child);
    expect(resolved.chain).toEqual([...(await resolveSpec('python')).chain, 'mine']);
    expect(resolved.packages).toContain('python3');
    expect(resolved.packages.at(-1)).toBe('python3-jwt');
  });

  it.each<[string, () => string, RegExp]>([
    ['a missing file', () => path.join(dir, 'missing.json'), /missing\.json: file not found \(built-in specs live in init\/images\/\)/],
    ['a missing parent', () => write('orphan.json', { name: 'orphan', extends: './nowhere.json' }), /nowhere\.json: file not found/],
    ['a missing built-in', () => write('on-nothing.json', { name: 'x', extends: 'no-such-image' }), /no-such-image\.json: file not found/],
    ['invalid JSON', () => write('broken.json', '{"name": "x",'), /broken\.json: is not valid JSON: /],
    [
      'an invalid parent, named by its path',
      () => (write('bad-parent.json', { name: 'BAD' }), write('good-child.json', { name: 'c', extends: './bad-parent.json' })),
      /bad-parent\.json: "name" must match/,
    ],
    [
      'a spec extending itself',
      () => write('self.json', { name: 'self', extends: './self.json' }),
      /self\.json: "extends" cycle: .*self\.json/,
    ],
    [
      'a two-spec cycle',
      () => (write('ping.json', { name: 'ping', extends: './pong.json' }), write('pong.json', { name: 'pong', extends: './ping.json' })),
      /"extends" cycle: .*pong\.json -> .*ping\.json/,
    ],
    [
      'a chain deeper than 16',
      () => {
        for (let i = 0; i < 20; i++) write(`deep${i}.json`, { name: `deep${i}`, extends: `./deep${i + 1}.json` });
        write('deep20.json', { name: 'deep20' });
        return path.join(dir, 'deep0.json');
      },
      /"extends" chain deeper than 16/,
    ],
  ])('refuses %s with a SpecError', async (_name, setup, message) => {
    const file = setup();
    const error = await rejection(resolveSpec(file));
    expect(error).toBeInstanceOf(SpecError);
    expect(error!.message).toMatch(message);
  });

  it('accepts a chain of exactly 16 extends', async () => {
    for (let i = 0; i < 16; i++) write(`ok${i}.json`, { name: `ok${i}`, extends: `./ok${i + 1}.json` });
    write('ok16.json', { name: 'ok16' });
    expect((await resolveSpec(path.join(dir, 'ok0.json'))).chain).toHaveLength(17);
  });

  const builtIns = readdirSync(specsDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length));

  it.each(builtIns)('the built-in spec %s resolves, named as its file, on top of base', async (name) => {
    const resolved = await resolveSpec(name);
    expect(resolved.name).toBe(name);
    expect(resolved.chain[0]).toBe('base');
    expect(resolved.chain.at(-1)).toBe(name);
    expect(new Set(resolved.packages).size).toBe(resolved.packages.length);
  });
});
