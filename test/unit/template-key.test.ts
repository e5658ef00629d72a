// The template key (host/vm/template.ts) changes with everything a restore must match: the
// image's content ids, its boot arguments, the QEMU version and each field of the machine's
// shape. A stale template is then never found. The real `qemu-system-x86_64 --version` is what
// templateKey hashes; the table feeds templateKeyOf other version lines as data.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { qemuVersionLine, templateKey, templateKeyOf, type TemplateShape } from '../../host/vm/template.js';
import type { ImageEntry } from '../../host/image/manifest.js';
import { makeImagesDir } from '../helpers/fake-image.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'runbox-template-key-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const { entry } = makeImagesDir(root, 'keyed', 1);
const SHAPE: TemplateShape = {
  machine: 'microvm',
  accel: 'tcg',
  cpus: 2,
  memoryMiB: 1024,
  init: 'systemd',
  net: 'user',
  isolation: 'shared',
};
const QEMU = 'QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u12)';
const other = (c: string): ImageEntry['rootfs']['id'] => `sha256:${c.repeat(64)}`;

const CHANGES: [string, ImageEntry, TemplateShape, string][] = [
  ['rootfs content id', { ...entry, rootfs: { ...entry.rootfs, id: other('a') } }, SHAPE, QEMU],
  ['kernel content id', { ...entry, kernel: { ...entry.kernel, id: other('b') } }, SHAPE, QEMU],
  ['initrd content id', { ...entry, initrd: { ...entry.initrd, id: other('c') } }, SHAPE, QEMU],
  ['cache key (spec, agent)', { ...entry, cacheKey: other('d') }, SHAPE, QEMU],
  ['boot arguments', { ...entry, bootArgs: `${entry.bootArgs} quiet` }, SHAPE, QEMU],
  ['QEMU version', entry, SHAPE, 'QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)'],
  ['machine type', entry, { ...SHAPE, machine: 'q35' }, QEMU],
  ['accelerator', entry, { ...SHAPE, accel: 'kvm' }, QEMU],
  ['vCPUs', entry, { ...SHAPE, cpus: 1 }, QEMU],
  ['memory', entry, { ...SHAPE, memoryMiB: 2048 }, QEMU],
  ['init system', entry, { ...SHAPE, init: 'openrc' }, QEMU],
  ['network mode', entry, { ...SHAPE, net: 'tap' }, QEMU],
  ['isolation', entry, { ...SHAPE, isolation: 'per-run' }, QEMU],
];

describe('templateKey', () => {
  const base = templateKeyOf(entry, SHAPE, QEMU);

  it('is a stable 32-hex key of the same inputs', () => {
    expect(base).toMatch(/^[0-9a-f]{32}$/);
    expect(templateKeyOf({ ...entry }, { ...SHAPE }, QEMU)).toBe(base);
    // What does not change the machine (when it was built, how long it took) does not change the key.
    expect(templateKeyOf({ ...entry, builtAt: '2001-01-01T00:00:00Z', buildSeconds: 99 }, SHAPE, QEMU)).toBe(base);
  });

  it.each(CHANGES)('changes with the %s', (_what, changedEntry, shape, qemu) => {
    expect(templateKeyOf(changedEntry, shape, qemu)).not.toBe(base);
  });

  it('every change gives a key of its own', () => {
    const keys = CHANGES.map(([, e, shape, qemu]) => templateKeyOf(e, shape, qemu));
    expect(new Set([base, ...keys]).size).toBe(CHANGES.length + 1);
  });

  it("hashes this host's own qemu-system-x86_64 --version", async () => {
    const line = await qemuVersionLine();
    expect(line).toMatch(/^QEMU emulator version \d+\.\d+/);
    const image = { entry, rootfs: '', kernel: '', vmlinux: '', initrd: '' };
    expect(await templateKey(image, SHAPE)).toBe(templateKeyOf(entry, SHAPE, line));
  });
});
