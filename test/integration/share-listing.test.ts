// Listings (publishImage / pullFromListing) with real parts: an image directory made here is
// published into a directory that busybox httpd (a static web server) serves on loopback;
// the listing validates against docs/schemas/listing.schema.json; pulls over HTTP and from
// the local path reproduce every artifact; versions resolve; a corrupted bundle and unknown
// names are clear errors that install nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { publishImage, pullFromListing, type Listing } from '../../host/share/index.js';
import { listImages, upsertImage, type ImageEntry } from '../../host/image/manifest.js';
import { NotFoundError } from '../../host/errors.js';
import { RegistryError } from '../../host/share/errors.js';
import { makeImagesDir, sha } from '../helpers/fake-image.js';
import { failure } from '../helpers/assert.js';
import { REPO } from '../helpers/agent.js';
import { freePort } from '../helpers/registry.js';
import { cli } from '../helpers/run.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'runbox-listing-'));
process.env.RUNBOX_HOME = path.join(root, 'home');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const schema = JSON.parse(readFileSync(path.join(REPO, 'docs/schemas/listing.schema.json'), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(schema);

describe('listings served by a static web server', () => {
  const site = path.join(root, 'site');
  let httpd: ChildProcess;
  let base = '';
  let source: { dir: string; entry: ImageEntry };
  beforeAll(async () => {
    if (!existsSync('/usr/bin/busybox')) throw new Error('busybox is missing: init/setup-host.sh installs busybox-static');
    source = makeImagesDir(root, 'demo');
    await upsertImage(source.dir, source.entry);
    await publishImage('demo', 'systemd', { to: site, uriBase: 'http://placeholder/', imagesDir: source.dir });
    const port = await freePort();
    httpd = spawn('/usr/bin/busybox', ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', site], { stdio: 'ignore' });
    base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`${base}/bundles.json`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('busybox httpd did not serve');
  }, 60_000);
  afterAll(() => httpd?.kill());

  it('publishes the artifacts named by content id and a listing that validates against the schema', async () => {
    const result = await publishImage('demo', 'systemd', { to: site, uriBase: `${base}/`, version: '1.0', imagesDir: source.dir });
    expect(result.listing).toBe(path.join(site, 'bundles.json'));
    const listing = JSON.parse(readFileSync(result.listing, 'utf8')) as Listing;
    expect(validate(listing), JSON.stringify(validate.errors)).toBe(true);
    for (const kind of ['rootfs', 'kernel', 'vmlinux', 'initrd'] as const) {
      const bundle = listing.bundles.find((b) => b.id === source.entry[kind].id)!;
      expect(bundle).toMatchObject({ kind, name: 'demo', version: '1.0', uri: `${base}/${bundle.file}` });
      expect(bundle.file.startsWith(source.entry[kind].id.slice('sha256:'.length))).toBe(true);
      expect(sha(path.join(site, bundle.file))).toBe(bundle.digest);
    }
    expect(listing.images.map((i) => [i.name, i.version])).toContainEqual(['demo', '1.0']);
    // Publishing again copies nothing: the files are there by content id.
    expect(
      (await publishImage('demo', 'systemd', { to: site, uriBase: `${base}/`, version: '1.0', imagesDir: source.dir })).copied,
    ).toEqual([]);
  });

  it('pulls name@version over HTTP into an empty directory, and from the listing on disk', async () => {
    await publishImage('demo', 'systemd', { to: site, uriBase: `${base}/`, version: '1.0', imagesDir: source.dir });
    const over = path.join(root, 'over-http');
    const pulled = await pullFromListing(`${base}/bundles.json`, 'demo@1.0', { imagesDir: over });
    expect(pulled).toMatchObject({ image: 'demo', version: '1.0' });
    for (const kind of ['rootfs', 'kernel', 'vmlinux', 'initrd'] as const)
      expect(sha(path.join(over, source.entry[kind].file))).toBe(source.entry[kind].id);
    expect((await listImages(over)).map((e) => e.name)).toEqual(['demo']);
    expect((await pullFromListing(`${base}/bundles.json`, 'demo', { imagesDir: over })).bytesDownloaded).toBe(0);
    const local = path.join(root, 'from-disk');
    await pullFromListing(path.join(site, 'bundles.json'), 'demo@1.0', { imagesDir: local });
    expect(sha(path.join(local, source.entry.rootfs.file))).toBe(source.entry.rootfs.id);
  });

  it('runbox image publish --to <listing.json>: a listing file of that name, the artifacts beside it; image pull --listing reads it', async () => {
    const listingFile = path.join(root, 'named-site', 'runbox-images.json');
    // Served from where it is written (a local disk, a mounted share): the URIs are file: URLs.
    const uriBase = pathToFileURL(path.join(root, 'named-site') + '/').href;
    const env = { RUNBOX_HOME: process.env.RUNBOX_HOME };
    const published = await cli(
      ['image', 'publish', 'demo', '--to', listingFile, '--uri-base', uriBase, '--version', '2.0', '--out', source.dir],
      { env },
    );
    expect(published.stderr).not.toMatch(/runbox:/);
    expect(published.code).toBe(0);
    expect(published.stdout.toString()).toBe(`published demo@2.0 in ${listingFile} (4 files copied)\n`);
    expect(existsSync(path.join(root, 'named-site', 'bundles.json'))).toBe(false);
    const listing = JSON.parse(readFileSync(listingFile, 'utf8')) as Listing;
    expect(validate(listing), JSON.stringify(validate.errors)).toBe(true);
    for (const kind of ['rootfs', 'kernel', 'vmlinux', 'initrd'] as const) {
      const bundle = listing.bundles.find((b) => b.id === source.entry[kind].id)!;
      expect(bundle.uri).toBe(`${uriBase}${bundle.file}`);
      expect(sha(path.join(root, 'named-site', bundle.file))).toBe(bundle.digest);
    }
    const target = path.join(root, 'from-named-listing');
    const pulled = await cli(['image', 'pull', '--listing', listingFile, 'demo@2.0', '--out', target], { env });
    expect(pulled.stderr).not.toMatch(/runbox:/);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout.toString()).toMatch(/^pulled demo@2\.0 \(systemd\) from .*runbox-images\.json: [\d.]+ MiB downloaded\n$/);
    for (const kind of ['rootfs', 'kernel', 'vmlinux', 'initrd'] as const)
      expect(sha(path.join(target, source.entry[kind].file))).toBe(source.entry[kind].id);
  });

  it('names what is wrong: an unknown image or version, a corrupted bundle (nothing installed)', async () => {
    await publishImage('demo', 'systemd', { to: site, uriBase: `${base}/`, version: '1.0', imagesDir: source.dir });
    const unknown = await failure(pullFromListing(`${base}/bundles.json`, 'demo@9', { imagesDir: path.join(root, 'x') }));
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown.message).toMatch(/has no demo@9 \(systemd\); it lists: .*demo@1\.0 \(systemd\)/);
    const listing = JSON.parse(readFileSync(path.join(site, 'bundles.json'), 'utf8')) as Listing;
    const kernel = listing.bundles.find((b) => b.kind === 'kernel')!;
    const file = path.join(site, kernel.file);
    const good = readFileSync(file);
    const broken = Buffer.from(good);
    broken[100]! ^= 1;
    writeFileSync(file, broken);
    const target = path.join(root, 'corrupt');
    try {
      const error = await failure(pullFromListing(`${base}/bundles.json`, 'demo@1.0', { imagesDir: target }));
      expect(error).toBeInstanceOf(RegistryError);
      expect(error.reason).toBe('DIGEST_MISMATCH');
      expect(error.message).toMatch(/the kernel blob: expected sha256:/);
      expect(existsSync(path.join(target, 'manifest.json'))).toBe(false);
      expect(existsSync(path.join(target, source.entry.rootfs.file))).toBe(false);
    } finally {
      writeFileSync(file, good);
    }
    const notListing = path.join(root, 'not-a-listing.json');
    writeFileSync(notListing, '{"hello": 1}');
    expect((await failure(pullFromListing(notListing, 'demo'))).reason).toBe('LISTING_INVALID');
  });
});
