// pullImage: a runbox artifact from an OCI registry into the image directory, verified end to
// end: the manifest against the digest the reference pins (if any), the config against its
// digest and checkEntry, each layer's content id against the config's; then install.ts
// downloads (resuming with HTTP Range), checks and installs the artifacts.
import { createHash } from 'node:crypto';
import type { ImageEntry } from '../image/manifest.js';
import { defaultImagesDir } from '../image/paths.js';
import { credentialsFor } from './credentials.js';
import { RegistryError } from './errors.js';
import { installImage, mismatch, type InstalledArtifact } from './install.js';
import { ANNOTATION, ARTIFACT_KINDS, CONFIG, LAYER, type ArtifactKind, type Descriptor, type OciManifest } from './media-types.js';
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
  artifacts: InstalledArtifact[];
  bytesDownloaded: number;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

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

  const layers = new Map<ArtifactKind, Descriptor>();
  for (const kind of ARTIFACT_KINDS) {
    const layer = manifest.layers.find((l) => l.annotations?.[ANNOTATION.kind] === kind);
    if (!layer) throw new RegistryError(`${where}: no ${kind} layer in the manifest`, { reason: 'NOT_A_RUNBOX_IMAGE' });
    if (layer.annotations?.[ANNOTATION.contentId] !== entry[kind].id)
      throw mismatch(`${where}: the ${kind} layer's content id`, entry[kind].id, String(layer.annotations?.[ANNOTATION.contentId]));
    layers.set(kind, layer);
  }
  const { artifacts, bytesDownloaded } = await installImage(
    entry,
    imagesDir,
    where,
    (kind) => {
      const layer = layers.get(kind)!;
      return {
        digest: layer.digest,
        size: layer.size,
        gzip: LAYER[kind].gzip && layer.mediaType === LAYER[kind].mediaType,
        open: async (from) => {
          const { response, ranged } = await client.openBlob(layer.digest, from);
          return { body: response.body, ranged };
        },
      };
    },
    options.onProgress,
  );
  return { reference: where, digest, image: entry.name, init: entry.init, artifacts, bytesDownloaded };
}
