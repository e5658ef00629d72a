// Installing a pulled image, whatever it came from (a registry, a listing): for each artifact
// not already here with its content id, download the published blob (resuming a .partial
// an earlier attempt left), check its digest, unpack it sparsely beside its final name and
// check the content id; only when all four passed are they renamed into place and the image
// manifest updated. A failure removes what was unpacked and keeps nothing half-installed.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256File, upsertImage, type ImageEntry } from '../image/manifest.js';
import { hashPrefix, unpackLayer } from './blobs.js';
import { RegistryError } from './errors.js';
import { ARTIFACT_KINDS, type ArtifactKind } from './media-types.js';
import { Meter, type OnProgress } from './progress.js';

/** One artifact as published: a blob (gzip or not) with its digest and size. */
export interface ArtifactSource {
  digest: string;
  size: number;
  gzip: boolean;
  /** The blob from byte `from` on; ranged: whether it really starts there (else from 0). */
  open(from: number): Promise<{ body: Readable; ranged: boolean }>;
}

export interface InstalledArtifact {
  kind: ArtifactKind;
  id: string;
  /** false: it was here already (the same content id). */
  downloaded: boolean;
  bytes: number;
}

export function mismatch(what: string, expected: string, actual: string): RegistryError {
  return new RegistryError(`${what}: expected ${expected}, got ${actual}; nothing was installed`, {
    reason: 'DIGEST_MISMATCH',
    metadata: { expected, actual },
  });
}

/** Installs `entry` (already checked by checkEntry) into `imagesDir` from `sourceOf(kind)`; `where` names the origin in errors. */
export async function installImage(
  entry: ImageEntry,
  imagesDir: string,
  where: string,
  sourceOf: (kind: ArtifactKind) => ArtifactSource,
  onProgress?: OnProgress,
): Promise<{ artifacts: InstalledArtifact[]; bytesDownloaded: number }> {
  const work = join(imagesDir, '.pull');
  await mkdir(work, { recursive: true });
  const unpacked: { tmp: string; final: string }[] = [];
  const artifacts: InstalledArtifact[] = [];
  let bytesDownloaded = 0;
  try {
    for (const kind of ARTIFACT_KINDS) {
      const artifact = entry[kind];
      const final = join(imagesDir, artifact.file);
      if (await alreadyHere(final, artifact.size, artifact.id)) {
        onProgress?.({ stage: 'skip', what: kind, bytes: artifact.size, total: artifact.size, rate: 0, etaSeconds: 0 });
        artifacts.push({ kind, id: artifact.id, downloaded: false, bytes: 0 });
        continue;
      }
      const source = sourceOf(kind);
      const partial = join(work, `${source.digest.replace(/^sha256:/, '')}.partial`);
      bytesDownloaded += await download(source, partial, where, kind, onProgress);
      const tmp = `${final}.pulling`;
      await mkdir(dirname(final), { recursive: true });
      const meter = new Meter(onProgress, 'unpack', kind, artifact.size);
      unpacked.push({ tmp, final });
      const got = await unpackLayer(partial, source.gzip, tmp);
      meter.end();
      if (got.id !== artifact.id || got.size !== artifact.size)
        throw mismatch(`${where}: the unpacked ${kind}`, `${artifact.id} (${artifact.size} bytes)`, `${got.id} (${got.size} bytes)`);
      await rm(partial, { force: true });
      artifacts.push({ kind, id: artifact.id, downloaded: true, bytes: source.size });
    }
    for (const { tmp, final } of unpacked) await rename(tmp, final);
    unpacked.length = 0;
    await upsertImage(imagesDir, entry);
  } finally {
    for (const { tmp } of unpacked) await rm(tmp, { force: true });
  }
  return { artifacts, bytesDownloaded };
}

async function alreadyHere(file: string, size: number, id: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  if ((await stat(file)).size !== size) return false;
  return (await sha256File(file)) === id;
}

/**
 * Downloads `source` into `partial`, going on from what an earlier attempt left there (a
 * source that cannot start there sends everything again), and checks its digest. A mismatch
 * removes the file: the next pull starts afresh. Returns the bytes moved now.
 */
async function download(source: ArtifactSource, partial: string, where: string, kind: string, onProgress?: OnProgress): Promise<number> {
  const prefix = await hashPrefix(partial);
  let from = prefix.bytes;
  let hash = prefix.hash;
  if (from > source.size) {
    await truncate(partial, 0);
    from = 0;
    hash = createHash('sha256');
  }
  let moved = 0;
  if (from < source.size) {
    const { body, ranged } = await source.open(from);
    if (!ranged && from > 0) {
      await truncate(partial, 0);
      from = 0;
      hash = createHash('sha256');
    }
    const meter = new Meter(onProgress, 'download', kind, source.size, from);
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        moved += chunk.length;
        meter.add(chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, count, createWriteStream(partial, { flags: from > 0 ? 'a' : 'w' }));
    } catch (error) {
      throw new RegistryError(
        `${where}: the ${kind} download broke off after ${from + moved} of ${source.size} bytes (${(error as Error).message}); pull again to resume`,
        { reason: 'TRANSFER_INTERRUPTED', cause: error },
      );
    }
    meter.end();
  }
  const got = `sha256:${hash.digest('hex')}`;
  const size = (await stat(partial)).size;
  if (got !== source.digest || size !== source.size) {
    await rm(partial, { force: true });
    throw mismatch(`${where}: the ${kind} blob`, `${source.digest} (${source.size} bytes)`, `${got} (${size} bytes)`);
  }
  return moved;
}
