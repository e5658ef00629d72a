// The CLI's V8 code cache (host/cli/code-cache.ts) is bytecode the CLI runs: only a directory
// and files that are ours alone are used.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheDir, cacheFile, readCache, writeCache } from '../../host/cli/code-cache.js';

const isRoot = process.getuid?.() === 0;
let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));
const fresh = () => (root = mkdtempSync(path.join(os.tmpdir(), 'runbox-code-cache-')));

describe('the CLI code cache', () => {
  it('lives in <XDG_CACHE_HOME>/runbox-cli, made 0700, one file per verb, Node version and arch', () => {
    const env = { XDG_CACHE_HOME: fresh() };
    const file = cacheFile(env, 'run')!;
    expect(file).toBe(path.join(root, 'runbox-cli', `${process.version}-${process.arch}-run.v8`));
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(path.basename(cacheFile(env, '../../etc/passwd')!)).toBe(`${process.version}-${process.arch}-other.v8`);
    expect(path.basename(cacheFile(env, undefined)!)).toMatch(/-other\.v8$/);
  });

  it('a file written is read back; one others may write is not read', () => {
    const file = cacheFile({ XDG_CACHE_HOME: fresh() }, 'exec')!;
    writeCache(file, Buffer.from('bytecode'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readCache(file)?.toString()).toBe('bytecode');
    chmodSync(file, 0o620);
    expect(readCache(file)).toBeUndefined();
    chmodSync(file, 0o602);
    expect(readCache(file)).toBeUndefined();
    expect(readCache(path.join(root, 'missing'))).toBeUndefined();
  });

  it('a directory with group or other access is not used', () => {
    fresh();
    mkdirSync(path.join(root, 'runbox-cli'), { mode: 0o755 });
    chmodSync(path.join(root, 'runbox-cli'), 0o755);
    expect(cacheDir({ XDG_CACHE_HOME: root })).toBeUndefined();
    expect(cacheFile({ XDG_CACHE_HOME: root }, 'run')).toBeUndefined();
    expect(cacheDir({ XDG_CACHE_HOME: 'relative/dir' })).toBeUndefined();
  });

  it.runIf(isRoot)('a directory or a file another user owns is not used', () => {
    fresh();
    const dir = cacheDir({ XDG_CACHE_HOME: root })!;
    const file = path.join(dir, 'x.v8');
    writeFileSync(file, 'bytecode', { mode: 0o600 });
    chownSync(file, 65534, 65534);
    expect(readCache(file)).toBeUndefined();
    chownSync(dir, 65534, 65534);
    expect(cacheDir({ XDG_CACHE_HOME: root })).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toBe('bytecode');
  });
});
