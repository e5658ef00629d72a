// pushImage: one built image (an entry of the image manifest) to an OCI registry as one
// artifact — its entry as the config, its four artifacts as layers — then the manifest under
// the reference's tag. Blobs the repository already has (an earlier push) are not uploaded
// again, and blobs another repository of the same registry received from this host (the
// kernel another image shares) are mounted from there instead of uploaded.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuthenticationError, InvalidArgumentError } from '../errors.js';
import type { ImageEntry } from '../image/manifest.js';
import type { InitSystem } from '../image/spec.js';
import { localImage } from './local-image.js';
import { blobCacheDir, gzipLayer, type Layer } from './blobs.js';
import { credentialsFor, type Credentials } from './credentials.js';
import {
  ANNOTATION,
  ARTIFACT_KINDS,
  ARTIFACT_TYPE,
  CONFIG,
  LAYER,
  OCI_MANIFEST,
  type ArtifactKind,
  type OciManifest,
} from './media-types.js';
import { Meter, type OnProgress } from './progress.js';
import { formatReference, parseReference } from './reference.js';
import { RegistryClient } from './registry.js';
import { rememberBlobs, reposWithBlob } from './blob-repos.js';

export interface TransferOptions {
  /** Image directory (default $RUNBOX_HOME/images). */
  imagesDir?: string;
  /** Default: the registry's entry in the Docker config file, if any. */
  credentials?: Credentials;
  /** Plain HTTP to a registry that is not on loopback. */
  allowHttp?: boolean;
  signal?: AbortSignal;
  onProgress?: OnProgress;
}

export interface PushedLayer {
  kind: ArtifactKind | 'config';
  digest: string;
  size: number;
  /** false: the repository had it already, or it was mounted. */
  uploaded: boolean;
  /** The repository of the same registry it was mounted from (cross-repository mount: no bytes moved). */
  mountedFrom?: string;
}

export interface PushResult {
  reference: string;
  /** The manifest's digest: `<registry>/<repo>@<digest>` names exactly this push. */
  digest: string;
  layers: PushedLayer[];
  bytesUploaded: number;
}

export async function pushImage(image: string, init: InitSystem, reference: string, options: TransferOptions = {}): Promise<PushResult> {
  const ref = parseReference(reference, { allowHttp: options.allowHttp });
  if (!ref.tag || ref.digest)
    throw new InvalidArgumentError(`${reference}: push needs a tag (…:tag), not a digest`, { reason: 'REFERENCE_INVALID' });
  const { entry, imagesDir } = await localImage(image, init, options.imagesDir);
  const client = new RegistryClient(ref, { credentials: options.credentials ?? credentialsFor(ref.registry), signal: options.signal });
  await client.ping();

  const layers: { kind: ArtifactKind; layer: Layer }[] = [];
  for (const kind of ARTIFACT_KINDS) {
    const artifact = entry[kind];
    const file = join(imagesDir, artifact.file);
    if (LAYER[kind].gzip) {
      const meter = new Meter(options.onProgress, 'pack', kind, artifact.size);
      layers.push({ kind, layer: await gzipLayer(file, artifact.id, (n) => meter.add(n)) });
      meter.end();
    } else layers.push({ kind, layer: { file, digest: artifact.id, size: artifact.size } });
  }
  const config = await configBlob(entry);

  const pushed: PushedLayer[] = [];
  for (const { kind, layer } of [...layers, { kind: 'config' as const, layer: config }]) {
    pushed.push({ kind, digest: layer.digest, size: layer.size, ...(await sendBlob(client, kind, layer, options.onProgress)) });
  }
  const bytesUploaded = pushed.reduce((sum, l) => sum + (l.uploaded ? l.size : 0), 0);
  await rememberBlobs(
    ref.registry,
    ref.repository,
    pushed.map((l) => l.digest),
  );

  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: ARTIFACT_TYPE,
    config: { mediaType: CONFIG, digest: config.digest, size: config.size },
    layers: layers.map(({ kind, layer }) => ({
      mediaType: LAYER[kind].mediaType,
      digest: layer.digest,
      size: layer.size,
      annotations: {
        [ANNOTATION.title]: entry[kind].file.split('/').pop()!,
        [ANNOTATION.kind]: kind,
        [ANNOTATION.contentId]: entry[kind].id,
        [ANNOTATION.size]: String(entry[kind].size),
      },
    })),
    annotations: { 'org.opencontainers.image.title': `${entry.name} (${entry.init})`, 'dev.runbox.cache-key': entry.cacheKey },
  };
  const body = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  options.onProgress?.({ stage: 'manifest', what: 'manifest', bytes: body.length, total: body.length, rate: 0, etaSeconds: 0 });
  const reported = await client.putManifest(ref.tag, body);
  return { reference: formatReference(ref), digest: reported || digest, layers: pushed, bytesUploaded };
}

/**
 * One blob into the client's repository: nothing when it is there, a mount from a repository
 * of the same registry that received it from this host, else an upload (into the upload a
 * refused mount started, if it started one).
 */
async function sendBlob(
  client: RegistryClient,
  kind: PushedLayer['kind'],
  layer: Layer,
  onProgress: OnProgress | undefined,
): Promise<Pick<PushedLayer, 'uploaded' | 'mountedFrom'>> {
  const done = (stage: 'skip' | 'mount') =>
    onProgress?.({ stage, what: kind, bytes: layer.size, total: layer.size, rate: 0, etaSeconds: 0 });
  if (await client.hasBlob(layer.digest)) {
    done('skip');
    return { uploaded: false };
  }
  let upload: URL | undefined;
  for (const from of await reposWithBlob(client.ref.registry, layer.digest, client.ref.repository)) {
    try {
      const mounted = await client.mountBlob(layer.digest, from);
      if (mounted === true) {
        done('mount');
        return { uploaded: false, mountedFrom: from };
      }
      upload = mounted;
      break; // the registry started an upload instead: continue with that one
    } catch (error) {
      // No pull right on `from` (a token scoped to this repository only): a plain upload will do.
      if (!(error instanceof AuthenticationError)) throw error;
    }
  }
  const meter = new Meter(onProgress, 'upload', kind, layer.size);
  await client.uploadBlob(layer.file, layer.digest, layer.size, (n) => meter.add(n), upload);
  meter.end();
  return { uploaded: true };
}

/** The entry as the config blob, kept in the blob cache so it uploads like any other. */
async function configBlob(entry: ImageEntry): Promise<Layer> {
  const body = Buffer.from(JSON.stringify(entry, null, 2) + '\n');
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const dir = blobCacheDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${digest.slice('sha256:'.length)}.json`);
  await writeFile(file, body);
  return { file, digest, size: body.length };
}
