// Machine packages (host/share/machine.ts) with real files: exported from an image directory,
// validated against docs/schemas/machine.schema.json, resolved into an empty image directory
// from a listing repo (fetched, verified), and the failures: a package no repo can satisfy,
// a file that is not a package. The VM test boots one from a registry repo with the CLI.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { exportMachine, publishImage, readMachine, resolveMachine, type MachinePackage } from '../../host/share/index.js';
import { findImage, readManifest, upsertImage, type ImageEntry } from '../../host/image/manifest.js';
import { InvalidArgumentError, NotFoundError } from '../../host/errors.js';
import { command as exportCommand } from '../../host/cli/machine/export.js';
import { makeImagesDir } from '../helpers/fake-image.js';
import { createSandbox } from '../../host/vm/create.js';
import { failure } from '../helpers/assert.js';
import { REPO } from '../helpers/agent.js';
import { usageError } from '../helpers/cli-io.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'runbox-machine-'));
process.env.RUNBOX_HOME = path.join(root, 'home');
afterAll(() => rmSync(root, { recursive: true, force: true }));
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(
  JSON.parse(readFileSync(path.join(REPO, 'docs/schemas/machine.schema.json'), 'utf8')) as object,
);

describe('machine packages', () => {
  let source: { dir: string; entry: ImageEntry };
  const site = path.join(root, 'site');
  beforeAll(async () => {
    source = makeImagesDir(root, 'demo');
    await upsertImage(source.dir, source.entry);
    await publishImage('demo', 'systemd', { to: site, uriBase: 'file:///unused/', imagesDir: source.dir, version: '1' });
  });

  it('exports every asset by content id, the shape and the repos; the package validates against the schema', async () => {
    const m = await exportMachine('demo', 'systemd', {
      imagesDir: source.dir,
      machine: { memoryMiB: 2048 },
      repos: [
        { type: 'registry', ref: '127.0.0.1:5000/runbox/demo:1' },
        { type: 'listing', uri: 'https://example.org/bundles.json' },
      ],
    });
    expect(validate(m), JSON.stringify(validate.errors)).toBe(true);
    expect(m.machine).toEqual({ type: 'microvm', memoryMiB: 2048, cpus: 2 });
    expect(m.assets).toEqual(
      (['rootfs', 'kernel', 'vmlinux', 'initrd'] as const).map((kind) => ({
        kind,
        id: source.entry[kind].id,
        size: source.entry[kind].size,
      })),
    );
    expect(m.bootArgs).toBe(source.entry.bootArgs);
  });

  it('resolves into an empty image directory from its listing repo, verified; then finds it there', async () => {
    // A listing on disk whose bundle URIs are relative (they resolve against the listing).
    const listingFile = path.join(site, 'bundles.json');
    const listing = JSON.parse(readFileSync(listingFile, 'utf8')) as { bundles: { uri: string; file: string }[] };
    for (const b of listing.bundles) b.uri = b.file;
    writeFileSync(listingFile, JSON.stringify(listing));
    const m = await exportMachine('demo', 'systemd', { imagesDir: source.dir, repos: [{ type: 'listing', uri: listingFile }] });
    const file = path.join(root, 'machine.json');
    writeFileSync(file, JSON.stringify(m));
    const target = path.join(root, 'resolved');
    const steps: string[] = [];
    const resolved = await resolveMachine(await readMachine(file), { imagesDir: target, onStep: (s) => steps.push(s) });
    expect(resolved.name).toBe('demo');
    expect(findImage(await readManifest(target), 'demo', 'systemd')?.rootfs.id).toBe(source.entry.rootfs.id);
    expect(steps).toEqual([`fetching demo (systemd) from ${listingFile}`]);
    steps.length = 0;
    await resolveMachine(m, { imagesDir: target, onStep: (s) => steps.push(s) });
    expect(steps).toEqual(['demo (systemd) is here with every asset of the package']);
  });

  it("a package no repo can satisfy is NotFoundError with each repo's reason; a file that is not one is MACHINE_INVALID", async () => {
    const m = await exportMachine('demo', 'systemd', {
      imagesDir: source.dir,
      repos: [{ type: 'listing', uri: path.join(root, 'nowhere.json') }],
    });
    const other: MachinePackage = {
      ...m,
      assets: m.assets.map((a) => (a.kind === 'kernel' ? { ...a, id: `sha256:${'0'.repeat(64)}` } : a)),
    };
    const error = await failure(resolveMachine(other, { imagesDir: path.join(root, 'empty') }));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.reason).toBe('MACHINE_UNRESOLVED');
    expect(error.message).toMatch(/nowhere\.json: listing .*nowhere\.json: ENOENT/);
    const notOne = path.join(root, 'not-a-machine.json');
    writeFileSync(notOne, JSON.stringify({ schemaVersion: 1, kind: 'something' }));
    const invalid = await failure(readMachine(notOne));
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    expect(invalid.reason).toBe('MACHINE_INVALID');
  });

  it('createSandbox(./machine.json) refuses, before booting anything, a package that is not one or that no repo resolves', async () => {
    const bad = path.join(root, 'broken-machine.json');
    writeFileSync(bad, '{ not json');
    const invalid = await failure(createSandbox(bad, { imagesDir: path.join(root, 'empty') }));
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    expect(invalid.reason).toBe('MACHINE_INVALID');
    expect(invalid.message).toMatch(/broken-machine\.json is not a runbox machine package/);
    const m = await exportMachine('demo', 'systemd', {
      imagesDir: source.dir,
      repos: [{ type: 'listing', uri: path.join(root, 'gone.json') }],
    });
    const file = path.join(root, 'unresolvable-machine.json');
    writeFileSync(file, JSON.stringify({ ...m, assets: m.assets.map((a) => ({ ...a, id: `sha256:${'1'.repeat(64)}` })) }));
    const steps: string[] = [];
    const unresolved = await failure(createSandbox(file, { imagesDir: path.join(root, 'empty'), fetch: { onStep: (s) => steps.push(s) } }));
    expect(unresolved).toBeInstanceOf(NotFoundError);
    expect(unresolved.reason).toBe('MACHINE_UNRESOLVED');
    expect(steps).toEqual([`fetching demo (systemd) from ${path.join(root, 'gone.json')}`]);
  });

  it('runbox machine export: its flags', () => {
    expect(
      exportCommand.parse([
        'demo/openrc',
        '--repo',
        'reg:5000/a/demo:1',
        '--repo',
        './bundles.json',
        '--memory',
        '512',
        '--machine',
        'q35',
      ]),
    ).toEqual({
      image: 'demo',
      init: 'openrc',
      repos: [
        { type: 'registry', ref: 'reg:5000/a/demo:1' },
        { type: 'listing', uri: './bundles.json' },
      ],
      memoryMiB: 512,
      machine: 'q35',
    });
    expect(usageError(exportCommand, ['demo', '--repo', 'not a ref'])).toMatch(/^--repo: "not a ref": no registry host/);
    expect(usageError(exportCommand, [])).toMatch(/machine export takes one image/);
  });
});
