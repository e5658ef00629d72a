// The worked example of docs/sharing.md against real parts: the python image built here is
// pushed to a registry (Debian's docker-registry on loopback), pulled into an empty image
// directory with the CLI as a new host would and booted there by name; a third empty host gets only a machine package
// naming the registry and boots it with `runbox vm run ./machine.json`, then createSandbox
// takes the same package: no build on either. Prints push and pull figures against the rootfs size.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage } from '../../host/share/index.js';
import { defaultImagesDir } from '../../host/image/paths.js';
import { findImage, readManifest } from '../../host/image/manifest.js';
import { Sandbox } from '../../host/sandbox.js';
import { createSandbox } from '../../host/vm/create.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { ensureImage, figure, figures, IMAGES_DIR } from './vm-helpers.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

afterAll(() => {
  process.stdout.write(`\nVM figures:\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

describe('push python to a registry, pull it into an empty RUNBOX_HOME, boot it', () => {
  let registry: TestRegistry;
  const fresh = mkdtempSync(path.join(os.tmpdir(), 'runbox-pulled-home-'));
  beforeAll(async () => {
    if (!hasRegistry) throw new Error('docker-registry is missing: init/setup-host.sh installs it');
    await ensureImage('python');
    registry = await startRegistry();
  }, 3_600_000);
  afterAll(async () => {
    await registry?.stop();
    rmSync(fresh, { recursive: true, force: true });
  });

  it('pulls with no build on the pulling side, and boots a machine package on a third host', async () => {
    const imagesDir = IMAGES_DIR ?? defaultImagesDir();
    const entry = findImage(await readManifest(imagesDir), 'python', 'systemd')!;
    const ref = `${registry.host}/runbox/python:test`;
    let started = Date.now();
    const pushed = await pushImage('python', 'systemd', ref, { imagesDir });
    const rootfsLayer = pushed.layers.find((l) => l.kind === 'rootfs')!;
    figure(
      `push python: ${((Date.now() - started) / 1000).toFixed(1)} s, ${MiB(pushed.bytesUploaded)} uploaded; rootfs ${MiB(entry.rootfs.size)} (allocated ${MiB(entry.rootfs.allocatedBytes)}) as a ${MiB(rootfsLayer.size)} layer`,
    );

    // A new host: its own RUNBOX_HOME, nothing built; the CLI as a user runs it.
    const env = { ...process.env, RUNBOX_HOME: fresh };
    const cli = (args: string[]) =>
      execFileSync(process.execPath, [path.join(REPO, 'dist/host/cli.js'), ...args], { env, encoding: 'utf8' });
    started = Date.now();
    const pulled = JSON.parse(cli(['image', 'pull', ref, '--json'])) as { digest: string; bytesDownloaded: number };
    figure(
      `pull python into an empty RUNBOX_HOME: ${((Date.now() - started) / 1000).toFixed(1)} s, ${MiB(pulled.bytesDownloaded)} downloaded`,
    );
    expect(pulled.digest).toBe(pushed.digest);
    started = Date.now();
    const again = JSON.parse(cli(['image', 'pull', ref, '--json'])) as { bytesDownloaded: number };
    figure(`second pull (all here): ${((Date.now() - started) / 1000).toFixed(1)} s, ${again.bytesDownloaded} bytes downloaded`);
    expect(again.bytesDownloaded).toBe(0);
    expect(cli(['image', 'verify', 'python'])).toMatch(/4 artifacts checked .* 0 mismatches/);
    const pulledRootfs = statSync(path.join(fresh, 'images', entry.rootfs.file));
    expect(pulledRootfs.size).toBe(entry.rootfs.size);
    expect(pulledRootfs.blocks * 512).toBeLessThan(entry.rootfs.size);

    // After the pull, the image boots by name on the pulling host: no build, no package.
    started = Date.now();
    const booted = JSON.parse(cli(['vm', 'run', 'python', '--net', 'user', '--detach', '--json'])) as { id: string; target: string };
    figure(`vm run python on the pulling RUNBOX_HOME (cold boot): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    try {
      const sb = await Sandbox.connect(booted.target);
      try {
        const r = await sb.runCode('python', 'print(6 * 7)', { timeoutMs: 60_000 });
        expect(r.stdout).toBe('42\n');
      } finally {
        await sb.close();
      }
    } finally {
      cli(['vm', 'stop', booted.id]);
    }
    // vm run never builds (a missing image is an error); nothing a build leaves is here either.
    expect(existsSync(path.join(fresh, 'kernel-cache'))).toBe(false);

    // A third host gets only a machine package naming the registry: vm run fetches and boots.
    const third = mkdtempSync(path.join(os.tmpdir(), 'runbox-machine-home-'));
    try {
      const machine = path.join(third, 'machine.json');
      writeFileSync(machine, cli(['machine', 'export', 'python', '--repo', ref, '--out', imagesDir]));
      const thirdCli = (args: string[]) =>
        execFileSync(process.execPath, [path.join(REPO, 'dist/host/cli.js'), ...args], {
          env: { ...process.env, RUNBOX_HOME: third },
          encoding: 'utf8',
        });
      started = Date.now();
      const state = JSON.parse(thirdCli(['vm', 'run', machine, '--net', 'user', '--detach', '--json'])) as {
        id: string;
        target: string;
        memoryMiB: number;
      };
      figure(`vm run ./machine.json on an empty RUNBOX_HOME (fetch + boot): ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expect(state.memoryMiB).toBe(1024);
      try {
        const sb = await Sandbox.connect(state.target);
        try {
          const r = await sb.runCode('python', 'import sys; print(sys.version_info[0] * 14)', { timeoutMs: 60_000 });
          expect(r.stdout).toBe('42\n');
        } finally {
          await sb.close();
        }
      } finally {
        thirdCli(['vm', 'stop', state.id]);
      }

      // The SDK takes the same package: the image is there by content id now, so createSandbox
      // goes straight to the template of that content and shape (made once if there is none).
      started = Date.now();
      const steps: string[] = [];
      const created = await createSandbox(machine, {
        imagesDir: path.join(third, 'images'),
        net: 'user',
        readyTimeoutMs: 240_000,
        fetch: { onStep: (s) => steps.push(s) },
      });
      try {
        expect(steps).toEqual(['python (systemd) is here with every asset of the package']);
        expect(created.vm.state.memoryMiB).toBe(1024);
        const r = await created.runCode('python', 'print(6 * 7)', { timeoutMs: 60_000 });
        expect(r.stdout).toBe('42\n');
        figure(`createSandbox('./machine.json') -> first result: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } finally {
        await created.kill();
      }
    } finally {
      rmSync(third, { recursive: true, force: true });
    }
  }, 1_800_000);
});
