// The image a push, a publish or a machine export starts from: built (or pulled) here, or a
// NotFoundError that says how to get it.
import { NotFoundError } from '../errors.js';
import { findImage, readManifest, type ImageEntry } from '../image/manifest.js';
import { defaultImagesDir } from '../image/paths.js';
import type { InitSystem } from '../image/spec.js';

export async function localImage(
  image: string,
  init: InitSystem,
  imagesDir = defaultImagesDir(),
): Promise<{ entry: ImageEntry; imagesDir: string }> {
  const entry = findImage(await readManifest(imagesDir), image, init);
  if (!entry) {
    throw new NotFoundError(`image ${image} (${init}) is not in ${imagesDir}: build it (runbox image build ${image}) or pull it first`, {
      reason: 'IMAGE_NOT_FOUND',
      metadata: { image, init },
    });
  }
  return { entry, imagesDir };
}
