// A small image directory for the sharing tests: one manifest entry whose rootfs is a sparse
// file with random data in it, and kernel, vmlinux and initramfs files of random bytes. Real
// files with real content ids; nothing here boots (test/vm/share.test.ts boots a real image).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { ImageEntry } from '../../host/image/manifest.js';

export const sha = (file: string) => `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;

/** An image directory holding one entry `name` whose rootfs is mostly holes, `dataMiB` of random data in it (at 16 MiB). */
export function makeImagesDir(root: string, name: string, dataMiB = 8): { dir: string; entry: ImageEntry } {
  const dir = path.join(root, `src-${name}`);
  mkdirSync(path.join(dir, name, 'systemd'), { recursive: true });
  mkdirSync(path.join(dir, 'kernel'), { recursive: true });
  const rootfs = path.join(dir, name, 'systemd', 'rootfs.ext4');
  const fd = openSync(rootfs, 'w');
  const size = (32 + dataMiB) << 20;
  ftruncateSync(fd, size);
  for (let i = 0; i < dataMiB; i++) writeSync(fd, randomBytes(1 << 20), 0, 1 << 20, (16 + i) << 20);
  writeSync(fd, Buffer.from('the end'), 0, 7, size - 7);
  closeSync(fd);
  const files = {
    kernel: 'kernel/vmlinuz-test',
    vmlinux: 'kernel/vmlinux-test',
    initrd: 'kernel/initrd-test.img',
  } as const;
  writeFileSync(path.join(dir, files.kernel), randomBytes(300_000));
  writeFileSync(path.join(dir, files.vmlinux), Buffer.concat([randomBytes(200_000), Buffer.alloc(800_000)]));
  writeFileSync(path.join(dir, files.initrd), randomBytes(50_000));
  const artifact = (file: string) => ({
    file,
    size: statSync(path.join(dir, file)).size,
    id: sha(path.join(dir, file)) as `sha256:${string}`,
  });
  const entry = {
    name,
    init: 'systemd',
    description: 'a test image',
    chain: ['base', name],
    specHash: `sha256:${'1'.repeat(64)}`,
    cacheKey: `sha256:${'2'.repeat(64)}`,
    builderVersion: 'test',
    builtAt: new Date().toISOString(),
    buildSeconds: 1,
    rootfs: { ...artifact(`${name}/systemd/rootfs.ext4`), allocatedBytes: 8 << 20, blocksUsed: 2048, blocksTotal: 16384, fsUuid: 'test' },
    kernel: { ...artifact(files.kernel), release: '6.1-test', package: 'linux-image-test', packageVersion: '1' },
    vmlinux: artifact(files.vmlinux),
    initrd: { ...artifact(files.initrd), modules: [], builtinDrivers: [] },
    bootArgs: 'console=ttyS0',
    languages: {},
    env: {},
    packages: [],
  } as ImageEntry;
  return { dir, entry };
}
