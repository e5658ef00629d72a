// Listings, for people without a registry (after Carti's bundles.json): `publishImage` copies
// an image's artifacts, compressed and named by content id, into a directory any static web
// server or git host can serve, and records them in the directory's bundles.json: one bundle
// per artifact (kind, name, version, file, content id, digest, size, compression, URI) and
// one image per published version (its manifest entry). `pullFromListing` resolves
// `name[@version]` in a listing (a file or an http(s) URL), fetches each bundle from its
// URI, and installs it with the same checks as a registry pull (install.ts).
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import type { ImageEntry } from '../image/manifest.js';
import { defaultImagesDir } from '../image/paths.js';
import type { InitSystem } from '../image/spec.js';
import { localImage } from './local-image.js';
import { gzipLayer } from './blobs.js';
import { checkEntry } from './entry.js';
import { RegistryError } from './errors.js';
import { request } from './http.js';
import { installImage, type InstalledArtifact } from './install.js';
import { ARTIFACT_KINDS, LAYER, type ArtifactKind } from './media-types.js';
import { Meter, type OnProgress } from './progress.js';
import { isLoopbackHost } from './reference.js';

export const LISTING_FILE = 'bundles.json';

export interface Bundle {
  kind: ArtifactKind;
  /** The image it was published with. */
  name: string;
  version: string;
  /** Its file name in the listing's directory. */
  file: string;
  /** Content id of the artifact itself (uncompressed). */
  id: string;
  /** sha256 and size of the file as published (compressed or not). */
  digest: string;
  size: number;
  compression: 'gzip' | 'none';
  uri: string;
}

export interface ListedImage {
  name: string;
  init: InitSystem;
  version: string;
  publishedAt: string;
  entry: ImageEntry;
}

export interface Listing {
  schemaVersion: 1;
  bundles: Bundle[];
  images: ListedImage[];
}

export interface PublishOptions {
  /** A directory, or the listing file itself (…/bundles.json or any .json); created if missing. */
  to: string;
  /** Where the directory will be served from: each bundle's URI is <uriBase>/<file>. */
  uriBase: string;
  /** Default: the first 12 hex digits of the image's cache key. */
  version?: string;
  imagesDir?: string;
  onProgress?: OnProgress;
}

export interface PublishResult {
  listing: string;
  version: string;
  /** Files copied now; the rest were there (the same content id). */
  copied: string[];
}

const VERSION = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,63}$/;

function listingPath(to: string): string {
  return extname(to) === '.json' ? resolve(to) : join(resolve(to), LISTING_FILE);
}

async function readListing(file: string): Promise<Listing> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { schemaVersion: 1, bundles: [], images: [] };
  }
  return parseListing(text, file);
}

function parseListing(text: string, where: string): Listing {
  let listing: Listing;
  try {
    listing = JSON.parse(text) as Listing;
  } catch {
    throw new RegistryError(`${where} is not JSON`, { reason: 'LISTING_INVALID' });
  }
  if (listing.schemaVersion !== 1 || !Array.isArray(listing.bundles) || !Array.isArray(listing.images)) {
    throw new RegistryError(`${where} is not a runbox listing (schemaVersion 1 with bundles and images)`, { reason: 'LISTING_INVALID' });
  }
  return listing;
}

/** Publishes image `image` (`init`) into a listing; see the file comment. */
export async function publishImage(image: string, init: InitSystem, options: PublishOptions): Promise<PublishResult> {
  const { entry, imagesDir } = await localImage(image, init, options.imagesDir);
  const version = options.version ?? entry.cacheKey.replace(/^sha256:/, '').slice(0, 12);
  if (!VERSION.test(version))
    throw new InvalidArgumentError(`version ${JSON.stringify(version)}: letters, digits and . _ + -, at most 64`, {
      reason: 'FIELD_INVALID',
      metadata: { field: 'version' },
    });
  let base: URL;
  try {
    base = new URL(options.uriBase.endsWith('/') ? options.uriBase : `${options.uriBase}/`);
  } catch {
    throw new InvalidArgumentError(`--uri-base ${JSON.stringify(options.uriBase)} is not a URL (e.g. https://example.org/runbox/)`, {
      reason: 'FIELD_INVALID',
      metadata: { field: 'uriBase' },
    });
  }
  const file = listingPath(options.to);
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const listing = await readListing(file);
  const copied: string[] = [];
  for (const kind of ARTIFACT_KINDS) {
    const artifact = entry[kind];
    const source = join(imagesDir, artifact.file);
    const gzip = LAYER[kind].gzip;
    const meter = new Meter(options.onProgress, 'pack', kind, artifact.size);
    const layer = gzip
      ? await gzipLayer(source, artifact.id, (n) => meter.add(n))
      : { file: source, digest: artifact.id, size: artifact.size };
    meter.end();
    const name = `${artifact.id.replace(/^sha256:/, '')}.${kind}${gzip ? '.gz' : ''}`;
    const target = join(dir, name);
    if ((await stat(target).catch(() => undefined))?.size !== layer.size) {
      await copyFile(layer.file, `${target}.tmp`);
      await rename(`${target}.tmp`, target);
      copied.push(name);
    }
    const bundle: Bundle = {
      kind,
      name: entry.name,
      version,
      file: name,
      id: artifact.id,
      digest: layer.digest,
      size: layer.size,
      compression: gzip ? 'gzip' : 'none',
      uri: new URL(name, base).href,
    };
    listing.bundles = listing.bundles.filter((b) => !(b.id === bundle.id && b.compression === bundle.compression));
    listing.bundles.push(bundle);
  }
  listing.images = listing.images.filter((i) => !(i.name === entry.name && i.init === entry.init && i.version === version));
  listing.images.push({ name: entry.name, init: entry.init, version, publishedAt: new Date().toISOString(), entry });
  await writeFile(`${file}.tmp`, JSON.stringify(listing, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
  return { listing: file, version, copied };
}

export interface ListingPullOptions {
  init?: InitSystem;
  imagesDir?: string;
  allowHttp?: boolean;
  signal?: AbortSignal;
  onProgress?: OnProgress;
}

export interface ListingPullResult {
  listing: string;
  image: string;
  init: InitSystem;
  version: string;
  artifacts: InstalledArtifact[];
  bytesDownloaded: number;
}

function checkScheme(url: URL, allowHttp: boolean | undefined): void {
  if (url.protocol === 'https:' || url.protocol === 'file:') return;
  if (url.protocol === 'http:' && (isLoopbackHost(url.host) || allowHttp)) return;
  throw new InvalidArgumentError(`${url.href}: only https (http to loopback, or with --allow-http) and local files`, {
    reason: 'FIELD_INVALID',
    metadata: { field: 'uri' },
  });
}

/** The listing at `where` (a path or an http(s) URL) and the URL its relative URIs resolve against. */
async function loadListing(where: string, options: ListingPullOptions): Promise<{ listing: Listing; base: URL }> {
  const base = /^[a-z]+:\/\//i.test(where) ? new URL(where) : pathToFileURL(resolve(where));
  checkScheme(base, options.allowHttp);
  if (base.protocol === 'file:') {
    const text = await readFile(fileURLToPath(base), 'utf8').catch((error: unknown) => {
      throw new NotFoundError(`listing ${where}: ${(error as Error).message}`, { reason: 'LISTING_NOT_FOUND' });
    });
    return { listing: parseListing(text, where), base };
  }
  const answer = await request({ method: 'GET', url: base, signal: options.signal }).catch((error: unknown) => {
    throw new RegistryError(`listing ${where}: ${(error as Error).message}`, { reason: 'REGISTRY_UNREACHABLE', cause: error });
  });
  const text = await answer.text();
  if (answer.status === 404) throw new NotFoundError(`listing ${where}: not found (HTTP 404)`, { reason: 'LISTING_NOT_FOUND' });
  if (answer.status !== 200) throw new RegistryError(`listing ${where}: HTTP ${answer.status}`, { reason: 'REGISTRY_REFUSED' });
  return { listing: parseListing(text, where), base };
}

/** Pulls `nameAtVersion` (`python`, `python@1.2`; the latest published when no version) from a listing. */
export async function pullFromListing(where: string, nameAtVersion: string, options: ListingPullOptions = {}): Promise<ListingPullResult> {
  const [name, version] = nameAtVersion.split('@') as [string, string | undefined];
  const init = options.init ?? 'systemd';
  const { listing, base } = await loadListing(where, options);
  const candidates = listing.images.filter((i) => i.name === name && i.init === init && (version === undefined || i.version === version));
  const chosen = candidates.sort((a, b) => a.publishedAt.localeCompare(b.publishedAt)).at(-1);
  if (!chosen) {
    const known = listing.images.map((i) => `${i.name}@${i.version} (${i.init})`).join(', ') || 'none';
    throw new NotFoundError(`listing ${where} has no ${nameAtVersion} (${init}); it lists: ${known}`, { reason: 'NOT_FOUND' });
  }
  const entry = checkEntry(chosen.entry, `listing ${where}`);
  const bundles = new Map<ArtifactKind, Bundle>();
  for (const kind of ARTIFACT_KINDS) {
    const bundle = listing.bundles.find((b) => b.id === entry[kind].id && b.kind === kind);
    if (!bundle)
      throw new RegistryError(`listing ${where}: no bundle with the ${kind}'s content id ${entry[kind].id}`, { reason: 'LISTING_INVALID' });
    bundles.set(kind, bundle);
  }
  const imagesDir = options.imagesDir ?? defaultImagesDir();
  const { artifacts, bytesDownloaded } = await installImage(
    entry,
    imagesDir,
    `listing ${where}`,
    (kind) => {
      const bundle = bundles.get(kind)!;
      const uri = new URL(bundle.uri, base);
      return {
        digest: bundle.digest,
        size: bundle.size,
        gzip: bundle.compression === 'gzip',
        open: async (from) => {
          checkScheme(uri, options.allowHttp);
          // A local file is read only from a local listing: a listing from the web names web files.
          if (uri.protocol === 'file:') {
            if (base.protocol !== 'file:')
              throw new RegistryError(`${uri.href}: a listing from ${base.host} may not name local files`, { reason: 'LISTING_INVALID' });
            return { body: createReadStream(fileURLToPath(uri), { start: from }), ranged: true };
          }
          const answer = await request({
            method: 'GET',
            url: uri,
            headers: from > 0 ? { range: `bytes=${from}-` } : {},
            signal: options.signal,
            timeoutMs: 120_000,
          });
          if (answer.status !== 200 && answer.status !== 206) {
            await answer.text();
            const error = `${uri.href}: HTTP ${answer.status}`;
            if (answer.status === 404) throw new NotFoundError(error, { reason: 'NOT_FOUND' });
            throw new RegistryError(error, { reason: 'REGISTRY_REFUSED' });
          }
          return { body: answer.body, ranged: answer.status === 206 };
        },
      };
    },
    options.onProgress,
  );
  return { listing: where, image: entry.name, init: entry.init, version: chosen.version, artifacts, bytesDownloaded };
}
