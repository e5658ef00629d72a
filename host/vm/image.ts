// Finds a built image in the image manifest and turns its artifacts into absolute paths.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, findImage, type ImageEntry } from '../image/manifest.js';
import { defaultImagesDir } from '../image/paths.js';
import type { InitSystem } from '../image/spec.js';
import { NotFoundError } from '../errors.js';

export interface BootableImage {
  entry: ImageEntry;
  rootfs: string;
  /** bzImage (QEMU). */
  kernel: string;
  /** ELF vmlinux (Firecracker). */
  vmlinux: string;
  initrd: string;
}

export async function findBootableImage(
  name: string,
  init: InitSystem = 'systemd',
  imagesDir = defaultImagesDir(),
): Promise<BootableImage> {
  const manifest = await readManifest(imagesDir);
  const entry = findImage(manifest, name, init);
  if (!entry) {
    const have = manifest.images.map((e) => `${e.name} (${e.init})`).join(', ') || 'none';
    throw new NotFoundError(
      `image ${name} (${init}) is not built in ${imagesDir} (built: ${have}); run: runbox image build ${name}${init === 'openrc' ? ' --init openrc' : ''}`,
    );
  }
  const image: BootableImage = {
    entry,
    rootfs: join(imagesDir, entry.rootfs.file),
    kernel: join(imagesDir, entry.kernel.file),
    vmlinux: join(imagesDir, entry.vmlinux.file),
    initrd: join(imagesDir, entry.initrd.file),
  };
  for (const [what, file] of Object.entries(image)) {
    if (what !== 'entry' && !existsSync(file as string)) {
      throw new NotFoundError(`image ${name} (${init}): ${what} ${file} is missing; rebuild with: runbox image build ${name} --force`);
    }
  }
  return image;
}
