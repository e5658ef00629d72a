// What image sharing (host/share/) decides without a network: references, auth challenges,
// credentials from a Docker config file, and the checks on a pulled config.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReference, formatReference } from '../../host/share/reference.js';
import { parseChallenge } from '../../host/share/registry.js';
import { credentialsFor } from '../../host/share/credentials.js';
import { checkEntry } from '../../host/share/entry.js';
import { InvalidArgumentError } from '../../host/errors.js';

describe('parseReference', () => {
  it.each([
    ['127.0.0.1:5000/runbox/python:1', { registry: '127.0.0.1:5000', repository: 'runbox/python', tag: '1', plainHttp: true }],
    ['oci://localhost/python', { registry: 'localhost', repository: 'python', tag: 'latest', plainHttp: true }],
    ['[::1]:5000/a/b/c:v1.2-rc_3', { registry: '[::1]:5000', repository: 'a/b/c', tag: 'v1.2-rc_3', plainHttp: true }],
    ['ghcr.io/org/img:tag', { registry: 'ghcr.io', repository: 'org/img', tag: 'tag', plainHttp: false }],
    [
      `reg.example:443/x@sha256:${'a'.repeat(64)}`,
      { registry: 'reg.example:443', repository: 'x', digest: `sha256:${'a'.repeat(64)}`, plainHttp: false },
    ],
    [`reg.example/x:t@sha256:${'b'.repeat(64)}`, { repository: 'x', tag: 't', digest: `sha256:${'b'.repeat(64)}` }],
    ['127.1.2.3:80/my_repo/with-dash__x:t', { registry: '127.1.2.3:80', repository: 'my_repo/with-dash__x', plainHttp: true }],
  ])('%s', (ref, expected) => {
    expect(parseReference(ref)).toMatchObject(expected);
  });

  it('plain HTTP elsewhere than loopback only when asked', () => {
    expect(parseReference('reg.lan:5000/a:1').plainHttp).toBe(false);
    expect(parseReference('reg.lan:5000/a:1', { allowHttp: true }).plainHttp).toBe(true);
  });

  it.each([
    ['python', 'no registry host'],
    ['/python:1', 'no registry host'],
    ['reg/Python:1', 'is not a repository name'],
    ['reg/a//b:1', 'is not a repository name'],
    ['reg/a:', 'is not a tag'],
    ['reg/a:-x', 'is not a tag'],
    ['reg/a@sha256:abc', 'is not a sha256 digest'],
    ['re g/a:1', 'is not a host[:port]'],
  ])('refuses %s (%s) with REFERENCE_INVALID', (ref, why) => {
    let error: unknown;
    try {
      parseReference(ref);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).reason).toBe('REFERENCE_INVALID');
    expect((error as Error).message).toContain(why);
    expect((error as Error).message).toContain('[oci://]host[:port]/repo[:tag|@sha256:<64 hex>]');
  });

  it('formats back', () => {
    expect(formatReference(parseReference('oci://127.0.0.1:5000/a/b:1'))).toBe('127.0.0.1:5000/a/b:1');
  });
});

describe('parseChallenge', () => {
  it.each([
    ['Basic realm="basic-realm"', { scheme: 'basic', params: { realm: 'basic-realm' } }],
    [
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ],
    ['bearer Realm="x"', { scheme: 'bearer', params: { realm: 'x' } }],
  ])('%s', (header, expected) => {
    expect(parseChallenge(header)).toEqual(expected);
  });
});

describe('credentialsFor (Docker config file)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runbox-docker-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DOCKER_CONFIG: dir };
  const write = (auths: unknown) => writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths }));

  it('reads auths.<host>.auth (base64 user:password, a colon in the password kept)', () => {
    write({ 'reg:5000': { auth: Buffer.from('me:pa:ss').toString('base64') } });
    expect(credentialsFor('reg:5000', env)).toEqual({ username: 'me', password: 'pa:ss' });
    expect(credentialsFor('other', env)).toBeUndefined();
  });

  it('takes an https:// key and username/password fields', () => {
    write({ 'https://reg': { username: 'u', password: 'p' } });
    expect(credentialsFor('reg', env)).toEqual({ username: 'u', password: 'p' });
  });

  it('no file: no credentials; a broken one: an error naming the file, not the secret', () => {
    expect(credentialsFor('reg', { DOCKER_CONFIG: path.join(dir, 'nowhere') })).toBeUndefined();
    write({ reg: { auth: Buffer.from('no-colon-secret').toString('base64') } });
    expect(() => credentialsFor('reg', env)).toThrow(/auths\.reg\.auth is not base64 of user:password/);
    try {
      credentialsFor('reg', env);
    } catch (error) {
      expect((error as Error).message).not.toContain('no-colon-secret');
    }
    writeFileSync(path.join(dir, 'config.json'), '{not json');
    expect(() => credentialsFor('reg', env)).toThrow(/config\.json is not JSON/);
  });
});

describe('checkEntry (a pulled config names files only inside the image directory)', () => {
  const artifact = (file: string) => ({ file, size: 1, id: `sha256:${'c'.repeat(64)}` });
  const good = {
    name: 'python',
    init: 'systemd',
    rootfs: artifact('python/systemd/rootfs.ext4'),
    kernel: artifact('kernel/vmlinuz-6.1'),
    vmlinux: artifact('kernel/vmlinux-6.1'),
    initrd: artifact('kernel/initrd.img'),
  };

  it('accepts what a build writes', () => {
    expect(checkEntry(good, 'r').name).toBe('python');
  });

  it.each([
    ['a path out of the directory', { rootfs: artifact('../../etc/passwd') }, 'rootfs.file'],
    ['an absolute path', { kernel: artifact('/boot/vmlinuz') }, 'kernel.file'],
    ['a hidden component', { initrd: artifact('.pull/x') }, 'initrd.file'],
    ['a dot-dot component', { vmlinux: artifact('kernel/../../x') }, 'vmlinux.file'],
    ['a bad content id', { rootfs: { ...artifact('a/b'), id: 'md5:x' } }, 'rootfs.id'],
    ['a negative size', { rootfs: { ...artifact('a/b'), size: -1 } }, 'rootfs.size'],
    ['a name with a slash', { name: 'a/b' }, 'name'],
    ['an unknown init', { init: 'sysv' }, 'init'],
  ])('refuses %s (CONFIG_INVALID)', (_name, change, field) => {
    expect(() => checkEntry({ ...good, ...change }, 'reg/x:1')).toThrow(
      new RegExp(`reg/x:1: its config is not a valid runbox image entry: ${field.replace('.', '\\.')}`),
    );
  });
});
