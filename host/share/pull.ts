// pullImage: a runbox artifact from an OCI registry into the image directory, verified end to
// end: the manifest against the digest the reference pins (if any), the config and every
// layer against their digests, every unpacked artifact against the content id the config
// records. Artifacts already here with the right content id are not downloaded. Nothing is
// installed until everything is verified: the artifacts are renamed into place and the
// image manifest updated last. A download broken off is kept in <images>/.pull/ and resumed
// by the next pull (HTTP Range); anything unpacked is removed.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { sha256File, upsertImage, type ImageEntry } from '../image/manifest.js';
import { defaultImagesDir } from '../image/paths.js';
import { hashPrefix, unpackLayer } from './blobs.js';
import { credentialsFor } from './credentials.js';
import { RegistryError } from './errors.js';
import { ANNOTATION, ARTIFACT_KINDS, CONFIG, LAYER, type ArtifactKind, type Descriptor, type OciManifest } from './media-types.js';
import { Meter } from './progress.js';
import { formatReference, parseReference } from './reference.js';
import { RegistryClient } from './registry.js';
import type { TransferOptions } from './push.js';
import { checkEntry } from './entry.js';

export interface PullResult {
  reference: string;
  digest: string;
  image: string;
  init: ImageEntry['init'];
  /** Per artifact: downloaded, or already here (the same content id). */
  artifacts: { kind: ArtifactKind; id: string; downloaded: boolean; bytes: number }[];
  bytesDownloaded: number;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

function mismatch(what: string, expected: string, actual: string): RegistryError {
  return new RegistryError(`${what}: expected ${expected}, got ${actual}; nothing was installed`, {
    reason: 'DIGEST_MISMATCH',
    metadata: { expected, actual },
  });
}

export async function pullImage(reference: string, options: TransferOptions = {}): Promise<PullResult> {
  const ref = parseReference(reference, { allowHttp: options.allowHttp });
  const where = formatReference(ref);
  const imagesDir = options.imagesDir ?? defaultImagesDir();
  const client = new RegistryClient(ref, { credentials: options.credentials ?? credentialsFor(ref.registry), signal: options.signal });

  const body = await client.getManifest();
  const digest = sha256(body);
  if (ref.digest && ref.digest !== digest) throw mismatch(`${where}: the manifest`, ref.digest, digest);
  const manifest = JSON.parse(body.toString('utf8')) as OciManifest;
  if (manifest.config?.mediaType !== CONFIG) {
    throw new RegistryError(
      `${where} is not a runbox image (config media type ${manifest.config?.mediaType ?? 'none'}, expected ${CONFIG})`,
      {
        reason: 'NOT_A_RUNBOX_IMAGE',
      },
    );
  }
  const configBytes = Buffer.from(await client.getBlobText(manifest.config.digest), 'utf8');
  if (sha256(configBytes) !== manifest.config.digest)
    throw mismatch(`${where}: the config blob`, manifest.config.digest, sha256(configBytes));
  const entry = checkEntry(JSON.parse(configBytes.toString('utf8')), where);

  const work = join(imagesDir, '.pull');
  await mkdir(work, { recursive: true });
  const unpacked: { tmp: string; final: string }[] = [];
  const artifacts: PullResult['artifacts'] = [];
  let bytesDownloaded = 0;
  try {
    for (const kind of ARTIFACT_KINDS) {
      const artifact = entry[kind];
      const layer = manifest.layers.find((l) => l.annotations?.[ANNOTATION.kind] === kind);
      if (!layer) throw new RegistryError(`${where}: no ${kind} layer in the manifest`, { reason: 'NOT_A_RUNBOX_IMAGE' });
      if (layer.annotations?.[ANNOTATION.contentId] !== artifact.id)
        throw mismatch(`${where}: the ${kind} layer's content id`, artifact.id, String(layer.annotations?.[ANNOTATION.contentId]));
      const final = join(imagesDir, artifact.file);
      if (await alreadyHere(final, artifact.size, artifact.id)) {
        options.onProgress?.({ stage: 'skip', what: kind, bytes: artifact.size, total: artifact.size, rate: 0, etaSeconds: 0 });
        artifacts.push({ kind, id: artifact.id, downloaded: false, bytes: 0 });
        continue;
      }
      const partial = join(work, `${layer.digest.replace(/^sha256:/, '')}.partial`);
      bytesDownloaded += await download(client, layer, partial, kind, options);
      const tmp = `${final}.pulling`;
      await mkdir(dirname(final), { recursive: true });
      const meter = new Meter(options.onProgress, 'unpack', kind, artifact.size);
      const got = await unpackLayer(partial, LAYER[kind].gzip && layer.mediaType === LAYER[kind].mediaType, tmp);
      meter.end();
      unpacked.push({ tmp, final });
      if (got.id !== artifact.id || got.size !== artifact.size)
        throw mismatch(`${where}: the unpacked ${kind}`, `${artifact.id} (${artifact.size} bytes)`, `${got.id} (${got.size} bytes)`);
      await rm(partial, { force: true });
      artifacts.push({ kind, id: artifact.id, downloaded: true, bytes: layer.size });
    }
    for (const { tmp, final } of unpacked) await rename(tmp, final);
    unpacked.length = 0;
    await upsertImage(imagesDir, entry);
  } finally {
    for (const { tmp } of unpacked) await rm(tmp, { force: true });
  }
  return { reference: where, digest, image: entry.name, init: entry.init, artifacts, bytesDownloaded };
}

async function alreadyHere(file: string, size: number, id: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  if ((await stat(file)).size !== size) return false;
  return (await sha256File(file)) === id;
}

/**
 * Downloads `layer` into `partial`, going on from what an earlier attempt left there (a Range
 * request; a registry that ignores it sends everything again), and checks its digest. A
 * mismatch removes the file: the next pull starts afresh. Returns the bytes moved now.
 */
async function download(
  client: RegistryClient,
  layer: Descriptor,
  partial: string,
  kind: string,
  options: TransferOptions,
): Promise<number> {
  const prefix = await hashPrefix(partial);
  let from = prefix.bytes;
  let hash = prefix.hash;
  if (from > layer.size) {
    await truncate(partial, 0);
    from = 0;
    hash = createHash('sha256');
  }
  let moved = 0;
  if (from < layer.size) {
    const { response, ranged } = await client.openBlob(layer.digest, from);
    if (!ranged && from > 0) {
      await truncate(partial, 0);
      from = 0;
      hash = createHash('sha256');
    }
    const meter = new Meter(options.onProgress, 'download', kind, layer.size, from);
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        moved += chunk.length;
        meter.add(chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(response.body, count, createWriteStream(partial, { flags: from > 0 ? 'a' : 'w' }));
    } catch (error) {
      throw new RegistryError(
        `${client.ref.registry}: the ${kind} download broke off after ${from + moved} of ${layer.size} bytes (${(error as Error).message}); pull again to resume`,
        {
          reason: 'TRANSFER_INTERRUPTED',
          cause: error,
        },
      );
    }
    meter.end();
  }
  const got = `sha256:${hash.digest('hex')}`;
  const size = (await stat(partial)).size;
  if (got !== layer.digest || size !== layer.size) {
    await rm(partial, { force: true });
    throw mismatch(`${formatReference(client.ref)}: the ${kind} blob`, `${layer.digest} (${layer.size} bytes)`, `${got} (${size} bytes)`);
  }
  return moved;
}
