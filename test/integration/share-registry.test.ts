// pushImage / pullImage against a real registry (Debian's docker-registry on loopback): an
// image directory made here (a sparse rootfs with data in it, kernel, vmlinux, initramfs),
// pushed, read back by a second client (skopeo), pulled into an empty directory and compared
// byte for byte; then the bad cases: unknown tag, credentials, a corrupted blob, a registry
// that dies in the middle of a download. The VM test pushes and boots a real image.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImage, pushImage, type TransferProgress } from '../../host/share/index.js';
import { listImages, upsertImage, type ImageEntry } from '../../host/image/manifest.js';
import { AuthenticationError, InvalidArgumentError, NotFoundError } from '../../host/errors.js';
import { RegistryError } from '../../host/share/errors.js';
import { hasRegistry, slowFront, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeImagesDir as makeImagesDirIn, sha } from '../helpers/fake-image.js';
import { requireInCi } from '../helpers/required.js';
import { failure } from '../helpers/assert.js';
import { rememberBlobs } from '../../host/share/blob-repos.js';
import { cli } from '../helpers/run.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'runbox-share-'));
const home = path.join(root, 'home');
afterAll(() => rmSync(root, { recursive: true, force: true }));
const hasSkopeo = existsSync('/usr/bin/skopeo');

const makeImagesDir = (name: string, dataMiB?: number) => makeImagesDirIn(root, name, dataMiB);

// The blob cache ($RUNBOX_HOME/blobs) of this file's pushes: its own.
process.env.RUNBOX_HOME = home;

/** A second image directory whose kernel, vmlinux and initramfs are `other`'s (the same content ids), its rootfs its own. */
function sharingKernelWith(other: { dir: string; entry: ImageEntry }, name: string): { dir: string; entry: ImageEntry } {
  const made = makeImagesDir(name);
  for (const kind of ['kernel', 'vmlinux', 'initrd'] as const)
    copyFileSync(path.join(other.dir, other.entry[kind].file), path.join(made.dir, other.entry[kind].file));
  return { dir: made.dir, entry: { ...made.entry, kernel: other.entry.kernel, vmlinux: other.entry.vmlinux, initrd: other.entry.initrd } };
}

/** Does `repo` of the registry have the blob (HEAD, as a registry answers per repository)? */
async function repoHasBlob(host: string, repo: string, digest: string): Promise<boolean> {
  return (await fetch(`http://${host}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status === 200;
}

function needRegistry(): void {
  if (!hasRegistry) throw new Error('docker-registry is missing: init/setup-host.sh installs it (apt-get install docker-registry skopeo)');
}

describe('push and pull through a registry (open)', () => {
  let registry: TestRegistry;
  let source: { dir: string; entry: ImageEntry };
  beforeAll(async () => {
    needRegistry();
    registry = await startRegistry();
    source = makeImagesDir('demo');
    await upsertImage(source.dir, source.entry);
  }, 60_000);
  afterAll(() => registry?.stop());

  it('pushes an image as one artifact; a second push uploads nothing', async () => {
    const stages: TransferProgress[] = [];
    const ref = `${registry.host}/runbox/demo:v1`;
    const first = await pushImage('demo', 'systemd', ref, { imagesDir: source.dir, onProgress: (p) => stages.push(p) });
    expect(first.reference).toBe(ref);
    expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.layers.map((l) => [l.kind, l.uploaded])).toEqual([
      ['rootfs', true],
      ['kernel', true],
      ['vmlinux', true],
      ['initrd', true],
      ['config', true],
    ]);
    // Holes and zeros do not cost bandwidth: the rootfs layer is about its 8 MiB of data.
    const rootfs = first.layers.find((l) => l.kind === 'rootfs')!;
    expect(rootfs.size).toBeLessThan(9 << 20);
    expect(stages.some((p) => p.stage === 'upload' && p.what === 'rootfs' && p.bytes === p.total)).toBe(true);
    const again = await pushImage('demo', 'systemd', ref, { imagesDir: source.dir });
    expect(again.digest).toBe(first.digest);
    expect(again.bytesUploaded).toBe(0);
    expect(again.layers.every((l) => !l.uploaded)).toBe(true);
  });

  it('is readable by a second client: skopeo sees the manifest and copies every blob with the digests runbox reported', async (ctx) => {
    requireInCi(ctx, hasSkopeo, 'skopeo (Debian package)');
    const ref = `${registry.host}/runbox/demo:v1`;
    const pushed = await pushImage('demo', 'systemd', ref, { imagesDir: source.dir });
    const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
    expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(pushed.digest);
    const copy = path.join(root, 'skopeo-copy');
    execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${copy}`], { stdio: 'pipe' });
    for (const layer of pushed.layers) expect(sha(path.join(copy, layer.digest.replace(/^sha256:/, '')))).toBe(layer.digest);
  });

  it('pulls into an empty directory: every artifact byte for byte, the rootfs sparse again, the entry listed; a second pull downloads nothing', async () => {
    const target = path.join(root, 'pulled');
    const ref = `${registry.host}/runbox/demo:v1`;
    const pulled = await pullImage(ref, { imagesDir: target });
    expect(pulled).toMatchObject({ image: 'demo', init: 'systemd' });
    expect(pulled.artifacts.every((a) => a.downloaded)).toBe(true);
    for (const kind of ['rootfs', 'kernel', 'vmlinux', 'initrd'] as const) {
      expect(sha(path.join(target, source.entry[kind].file))).toBe(source.entry[kind].id);
    }
    const rootfs = statSync(path.join(target, source.entry.rootfs.file));
    expect(rootfs.size).toBe(40 << 20);
    expect(rootfs.blocks * 512).toBeLessThan(10 << 20);
    expect((await listImages(target)).map((e) => e.name)).toEqual(['demo']);
    const again = await pullImage(ref, { imagesDir: target });
    expect(again.bytesDownloaded).toBe(0);
    expect(again.artifacts.every((a) => !a.downloaded)).toBe(true);
    // A pull by the digest the tag resolved to gives the same.
    expect((await pullImage(`oci://${registry.host}/runbox/demo@${pulled.digest}`, { imagesDir: target })).digest).toBe(pulled.digest);
  });

  it('a blob another repository of the registry got from this host is mounted, not uploaded again; skopeo and a pull read the second repository whole', async (ctx) => {
    const a = makeImagesDir('mount-a');
    await upsertImage(a.dir, a.entry);
    const b = sharingKernelWith(a, 'mount-b');
    await upsertImage(b.dir, b.entry);
    const first = await pushImage('mount-a', 'systemd', `${registry.host}/runbox/mount-a:v1`, { imagesDir: a.dir });
    expect(first.layers.every((l) => l.uploaded)).toBe(true);
    const kernel = first.layers.find((l) => l.kind === 'kernel')!.digest;
    // A registry answers HEAD per repository: runbox/mount-b does not have the kernel yet.
    expect(await repoHasBlob(registry.host, 'runbox/mount-b', kernel)).toBe(false);

    const stages: TransferProgress[] = [];
    const second = await pushImage('mount-b', 'systemd', `${registry.host}/runbox/mount-b:v1`, {
      imagesDir: b.dir,
      onProgress: (p) => stages.push(p),
    });
    expect(second.layers.map((l) => [l.kind, l.uploaded, l.mountedFrom])).toEqual([
      ['rootfs', true, undefined],
      ['kernel', false, 'runbox/mount-a'],
      ['vmlinux', false, 'runbox/mount-a'],
      ['initrd', false, 'runbox/mount-a'],
      ['config', true, undefined],
    ]);
    expect(second.bytesUploaded).toBe(second.layers.filter((l) => l.uploaded).reduce((n, l) => n + l.size, 0));
    expect(stages.filter((p) => p.stage === 'upload').map((p) => p.what)).not.toContain('kernel');
    expect(stages.filter((p) => p.stage === 'mount').map((p) => p.what)).toEqual(['kernel', 'vmlinux', 'initrd']);
    expect(await repoHasBlob(registry.host, 'runbox/mount-b', kernel)).toBe(true);

    const pulled = await pullImage(`${registry.host}/runbox/mount-b:v1`, { imagesDir: path.join(root, 'mount-b-pulled') });
    for (const kind of ['rootfs', 'kernel', 'vmlinux', 'initrd'] as const)
      expect(sha(path.join(root, 'mount-b-pulled', b.entry[kind].file))).toBe(b.entry[kind].id);
    expect(pulled.digest).toBe(second.digest);

    requireInCi(ctx, hasSkopeo, 'skopeo (Debian package)');
    const copy = path.join(root, 'skopeo-mount-b');
    execFileSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/runbox/mount-b:v1`, `dir:${copy}`], {
      stdio: 'pipe',
    });
    for (const layer of second.layers) expect(sha(path.join(copy, layer.digest.replace(/^sha256:/, '')))).toBe(layer.digest);
  });

  it('a mount the registry cannot make (202) goes on as a normal upload into the upload it started', async () => {
    const c = makeImagesDir('mount-c');
    await upsertImage(c.dir, c.entry);
    const kernelId = c.entry.kernel.id; // the kernel layer is the file as it is: its digest is its content id
    // This host believes runbox/gone has the kernel; the registry has never seen it.
    await rememberBlobs(registry.host, 'runbox/gone', [kernelId]);
    const pushed = await pushImage('mount-c', 'systemd', `${registry.host}/runbox/mount-c:v1`, { imagesDir: c.dir });
    expect(pushed.layers.find((l) => l.kind === 'kernel')).toMatchObject({ uploaded: true, digest: kernelId });
    expect(pushed.layers.every((l) => l.mountedFrom === undefined)).toBe(true);
    const pulled = await pullImage(`${registry.host}/runbox/mount-c:v1`, { imagesDir: path.join(root, 'mount-c-pulled') });
    expect(pulled.artifacts.every((a) => a.downloaded)).toBe(true);
    expect(sha(path.join(root, 'mount-c-pulled', c.entry.kernel.file))).toBe(kernelId);
  });

  it('the CLI prints progress lines with rate and time left while a transfer moves', async () => {
    // A front passing 1 MiB/s: the ~8 MiB rootfs layer takes several seconds, so the CLI's
    // every-2-s line comes while the download is in the middle, with a rate and a time left.
    const front = await slowFront(registry.host, 1 << 20);
    try {
      const out = path.join(root, 'cli-progress');
      const r = await cli(['image', 'pull', `${front.host}/runbox/demo:v1`, '--out', out], { env: { RUNBOX_HOME: home } });
      expect(r.stderr).toMatch(/^download rootfs: \d+\.\d MiB of \d+\.\d MiB, \d+\.\d (KiB|MiB)\/s, \d+ s left$/m);
      // Each step ends with a line of its own: all bytes, the rate, no time left.
      expect(r.stderr).toMatch(/^download rootfs: (\d+\.\d MiB) of \1, \d+\.\d (KiB|MiB)\/s$/m);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toMatch(/^pulled demo \(systemd\) from .*: \d+\.\d MiB downloaded\n$/);
    } finally {
      await front.close();
    }
  });

  it('names what is wrong: an unknown tag, a bad reference, an image not built here', async () => {
    const unknown = await failure(pullImage(`${registry.host}/runbox/demo:nope`, { imagesDir: path.join(root, 'none') }));
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown.message).toMatch(/manifest nope not found \(MANIFEST_UNKNOWN/);
    expect(existsSync(path.join(root, 'none', 'manifest.json'))).toBe(false);
    const bad = await failure(pullImage('no-registry-here'));
    expect(bad).toBeInstanceOf(InvalidArgumentError);
    expect(bad.reason).toBe('REFERENCE_INVALID');
    const missing = await failure(pushImage('python', 'openrc', `${registry.host}/x:y`, { imagesDir: source.dir }));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.message).toMatch(/image python \(openrc\) is not in .*: build it/);
  });

  it('a blob corrupted in the registry is refused (digest mismatch), nothing is installed; once repaired a pull succeeds', async () => {
    const ref = `${registry.host}/runbox/demo:v1`;
    const pushed = await pushImage('demo', 'systemd', ref, { imagesDir: source.dir });
    const blob = registry.blobFile(pushed.layers.find((l) => l.kind === 'vmlinux')!.digest);
    const good = readFileSync(blob);
    const broken = Buffer.from(good);
    broken[broken.length >> 1]! ^= 0xff;
    writeFileSync(blob, broken);
    const target = path.join(root, 'corrupt');
    try {
      const error = await failure(pullImage(ref, { imagesDir: target }));
      expect(error).toBeInstanceOf(RegistryError);
      expect(error.reason).toBe('DIGEST_MISMATCH');
      expect(error.message).toMatch(/the vmlinux blob: expected sha256:[0-9a-f]{64} .* got sha256:[0-9a-f]{64}/);
      expect(existsSync(path.join(target, 'manifest.json'))).toBe(false);
      expect(existsSync(path.join(target, source.entry.rootfs.file))).toBe(false);
      expect(readdirSync(path.join(target, '.pull')).filter((f) => !f.endsWith('.partial'))).toEqual([]);
    } finally {
      writeFileSync(blob, good);
    }
    const pulled = await pullImage(ref, { imagesDir: target });
    expect(sha(path.join(target, source.entry.vmlinux.file))).toBe(source.entry.vmlinux.id);
    expect(pulled.image).toBe('demo');
  });

  it('a registry that dies in the middle of a download: a clear error, nothing installed; the next pull resumes where it broke off', async () => {
    const big = makeImagesDir('big', 24);
    await upsertImage(big.dir, big.entry);
    const pushed = await pushImage('big', 'systemd', `${registry.host}/runbox/big:v1`, { imagesDir: big.dir });
    const rootfsLayer = pushed.layers.find((l) => l.kind === 'rootfs')!;
    // The pull goes through a front that passes 16 MiB/s on: the kill lands in the middle.
    const front = await slowFront(registry.host, 16 << 20);
    const ref = `${front.host}/runbox/big:v1`;
    const target = path.join(root, 'interrupted');
    let killed: Promise<void> | undefined;
    try {
      const error = await failure(
        pullImage(ref, {
          imagesDir: target,
          onProgress: (p) => {
            if (p.stage === 'download' && p.what === 'rootfs' && p.bytes > rootfsLayer.size / 4) killed ??= registry.kill();
          },
        }),
      );
      await killed;
      expect(error).toBeInstanceOf(RegistryError);
      expect(error.reason).toBe('TRANSFER_INTERRUPTED');
      expect(error.message).toMatch(/the rootfs download broke off after \d+ of \d+ bytes .*pull again to resume/);
      expect(existsSync(path.join(target, 'manifest.json'))).toBe(false);
      expect(existsSync(path.join(target, big.entry.rootfs.file))).toBe(false);
      await registry.restart();
      const resumed = await pullImage(ref, { imagesDir: target });
      const rootfs = resumed.artifacts.find((a) => a.kind === 'rootfs')!;
      expect(rootfs.downloaded).toBe(true);
      // Only what the first attempt did not get came down again.
      expect(resumed.bytesDownloaded).toBeLessThan(rootfsLayer.size);
      expect(sha(path.join(target, big.entry.rootfs.file))).toBe(big.entry.rootfs.id);
    } finally {
      await front.close();
    }
  });
});

describe('push and pull through a registry behind htpasswd (basic auth)', () => {
  const auth = { username: 'runbox', password: `pw-${randomBytes(6).toString('hex')}` };
  let registry: TestRegistry;
  let source: { dir: string; entry: ImageEntry };
  beforeAll(async () => {
    needRegistry();
    registry = await startRegistry(auth);
    source = makeImagesDir('authed');
    await upsertImage(source.dir, source.entry);
  }, 60_000);
  afterAll(() => registry?.stop());

  it('without credentials, and with wrong ones: AuthenticationError saying which, never the password', async () => {
    const ref = `${registry.host}/runbox/authed:v1`;
    const none = await failure(pushImage('authed', 'systemd', ref, { imagesDir: source.dir }));
    expect(none).toBeInstanceOf(AuthenticationError);
    expect(none.reason).toBe('REGISTRY_UNAUTHORIZED');
    expect(none.message).toMatch(/requires credentials and none were found/);
    const wrong = await failure(
      pushImage('authed', 'systemd', ref, { imagesDir: source.dir, credentials: { username: 'runbox', password: 'nope-secret' } }),
    );
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(wrong.message).toMatch(/the credentials were refused/);
    expect(wrong.message).not.toContain('nope-secret');
  });

  it('a pull refused for a wrong password installs nothing, and a later pull with the right one succeeds', async () => {
    const ref = `${registry.host}/runbox/authed:v2`;
    await pushImage('authed', 'systemd', ref, { imagesDir: source.dir, credentials: auth });
    const target = path.join(root, 'authed-retry');
    const wrong = await failure(pullImage(ref, { imagesDir: target, credentials: { username: auth.username, password: 'wrong-secret' } }));
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(wrong.message).toMatch(/the credentials were refused/);
    expect(wrong.message).not.toContain('wrong-secret');
    expect(existsSync(path.join(target, 'manifest.json'))).toBe(false);
    const pulled = await pullImage(ref, { imagesDir: target, credentials: auth });
    expect(pulled.artifacts.every((a) => a.downloaded)).toBe(true);
    expect(sha(path.join(target, source.entry.rootfs.file))).toBe(source.entry.rootfs.id);
  });

  it('with the credentials of ~/.docker/config.json ($DOCKER_CONFIG): push and pull work', async () => {
    const dockerDir = path.join(root, 'docker-config');
    mkdirSync(dockerDir, { recursive: true });
    writeFileSync(
      path.join(dockerDir, 'config.json'),
      JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString('base64') } } }),
    );
    const before = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = dockerDir;
    try {
      const ref = `${registry.host}/runbox/authed:v1`;
      const pushed = await pushImage('authed', 'systemd', ref, { imagesDir: source.dir });
      const pulled = await pullImage(ref, { imagesDir: path.join(root, 'authed-pulled') });
      expect(pulled.digest).toBe(pushed.digest);
      expect(pulled.artifacts.every((a) => a.downloaded)).toBe(true);
    } finally {
      if (before === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = before;
    }
  });
});

describe('push and pull through a registry behind a bearer token service', () => {
  const auth = { username: 'runbox', password: `pw-${randomBytes(6).toString('hex')}`, scheme: 'bearer' as const };
  let registry: TestRegistry;
  let source: { dir: string; entry: ImageEntry };
  beforeAll(async () => {
    needRegistry();
    registry = await startRegistry(auth);
    source = makeImagesDir('tokened');
    await upsertImage(source.dir, source.entry);
  }, 60_000);
  afterAll(() => registry?.stop());

  it('follows WWW-Authenticate to the token service with the credentials, and sends the token it gets', async () => {
    const ref = `${registry.host}/runbox/tokened:v1`;
    const credentials = { username: auth.username, password: auth.password };
    const pushed = await pushImage('tokened', 'systemd', ref, { imagesDir: source.dir, credentials });
    const pulled = await pullImage(ref, { imagesDir: path.join(root, 'tokened-pulled'), credentials });
    expect(pulled.digest).toBe(pushed.digest);
    expect(registry.tokensIssued()).toBeGreaterThanOrEqual(2);
    const wrong = await failure(
      pullImage(ref, { imagesDir: path.join(root, 'tokened-wrong'), credentials: { ...credentials, password: 'nope' } }),
    );
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expect(wrong.message).toMatch(/the token service refused the credentials/);
  });

  it('mounts a shared kernel into another repository with a token for both (two scopes)', async () => {
    const credentials = { username: auth.username, password: auth.password };
    const b = sharingKernelWith(source, 'tokened-b');
    await upsertImage(b.dir, b.entry);
    await pushImage('tokened', 'systemd', `${registry.host}/runbox/tokened:v1`, { imagesDir: source.dir, credentials });
    const second = await pushImage('tokened-b', 'systemd', `${registry.host}/runbox/tokened-b:v1`, { imagesDir: b.dir, credentials });
    expect(second.layers.filter((l) => l.mountedFrom === 'runbox/tokened').map((l) => l.kind)).toEqual(['kernel', 'vmlinux', 'initrd']);
    const pulled = await pullImage(`${registry.host}/runbox/tokened-b:v1`, { imagesDir: path.join(root, 'tokened-b-pulled'), credentials });
    expect(pulled.digest).toBe(second.digest);
  });
});
