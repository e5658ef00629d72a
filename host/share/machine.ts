// Machine packages: one portable JSON describing a whole machine — each asset by content id
// with its kind and size, the machine's shape (type, memory, vCPUs), init system and boot
// arguments — and the repos (registry references, listings) to fetch the assets from.
// `exportMachine` writes one from a built image; `resolveMachine` makes sure an image with
// exactly those assets is in the image directory (fetching it from the repos, verified, when
// it is not) and returns the image name and shape to boot (`runbox vm run ./machine.json`).
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { findImage, readManifest, type ImageEntry } from '../image/manifest.js';
import { defaultImagesDir } from '../image/paths.js';
import type { InitSystem } from '../image/spec.js';
import { localImage } from './local-image.js';
import { ARTIFACT_KINDS, type ArtifactKind } from './media-types.js';
import { pullImage } from './pull.js';
import { pullFromListing } from './listing.js';
import { parseReference } from './reference.js';
import type { OnProgress } from './progress.js';
import type { Credentials } from './credentials.js';

export type MachineRepo = { type: 'registry'; ref: string } | { type: 'listing'; uri: string; version?: string };

export interface MachinePackage {
  schemaVersion: 1;
  kind: 'runbox.machine';
  name: string;
  init: InitSystem;
  machine: { type: 'microvm' | 'q35'; memoryMiB: number; cpus: number };
  bootArgs: string;
  assets: { kind: ArtifactKind; id: string; size: number }[];
  repos: MachineRepo[];
}

export interface ExportOptions {
  imagesDir?: string;
  machine?: Partial<MachinePackage['machine']>;
  repos?: MachineRepo[];
}

/** `--repo` values: a listing URL or path (ends in .json) or a registry reference. */
export function parseRepo(value: string): MachineRepo {
  if (/\.json(?:[?#].*)?$/.test(value)) return { type: 'listing', uri: value };
  parseReference(value);
  return { type: 'registry', ref: value };
}

export async function exportMachine(image: string, init: InitSystem, options: ExportOptions = {}): Promise<MachinePackage> {
  const { entry } = await localImage(image, init, options.imagesDir);
  return {
    schemaVersion: 1,
    kind: 'runbox.machine',
    name: entry.name,
    init: entry.init,
    machine: { type: options.machine?.type ?? 'microvm', memoryMiB: options.machine?.memoryMiB ?? 1024, cpus: options.machine?.cpus ?? 2 },
    bootArgs: entry.bootArgs,
    assets: ARTIFACT_KINDS.map((kind) => ({ kind, id: entry[kind].id, size: entry[kind].size })),
    repos: options.repos ?? [],
  };
}

function bad(file: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`${file} is not a runbox machine package: ${why} (docs/sharing.md, docs/schemas/machine.schema.json)`, {
    reason: 'MACHINE_INVALID',
    metadata: { path: file },
  });
}

export async function readMachine(file: string): Promise<MachinePackage> {
  let m: MachinePackage;
  try {
    m = JSON.parse(await readFile(file, 'utf8')) as MachinePackage;
  } catch (error) {
    throw bad(file, (error as Error).message);
  }
  if (m.schemaVersion !== 1 || m.kind !== 'runbox.machine') throw bad(file, 'schemaVersion 1 and kind "runbox.machine" expected');
  if (typeof m.name !== 'string' || (m.init !== 'systemd' && m.init !== 'openrc'))
    throw bad(file, 'name and init (systemd or openrc) are required');
  for (const kind of ARTIFACT_KINDS) {
    if (!m.assets?.some((a) => a.kind === kind && /^sha256:[0-9a-f]{64}$/.test(a.id)))
      throw bad(file, `no ${kind} asset with a sha256 content id`);
  }
  if (!['microvm', 'q35'].includes(m.machine?.type) || !Number.isInteger(m.machine.memoryMiB) || !Number.isInteger(m.machine.cpus))
    throw bad(file, 'machine needs type (microvm or q35), memoryMiB and cpus');
  return m;
}

/** Does `entry` have exactly the package's assets? */
function matches(entry: ImageEntry | undefined, m: MachinePackage): boolean {
  return entry !== undefined && m.assets.every((a) => entry[a.kind].id === a.id && entry[a.kind].size === a.size);
}

export interface ResolveOptions {
  imagesDir?: string;
  credentials?: Credentials;
  allowHttp?: boolean;
  onProgress?: OnProgress;
  /** What it is doing, for a CLI's stderr. */
  onStep?: (message: string) => void;
}

/**
 * Makes sure the image the package describes is in the image directory, asset for asset by
 * content id: already there, or fetched from the first repo that has it. Returns the image
 * name, its init and the machine's shape.
 * @throws NotFoundError when no repo has an image with exactly these assets (each repo's
 *   reason is in the message).
 */
export async function resolveMachine(m: MachinePackage, options: ResolveOptions = {}): Promise<MachinePackage> {
  const imagesDir = options.imagesDir ?? defaultImagesDir();
  if (matches(findImage(await readManifest(imagesDir), m.name, m.init), m)) {
    options.onStep?.(`${m.name} (${m.init}) is here with every asset of the package`);
    return m;
  }
  const tried: string[] = [];
  for (const repo of m.repos) {
    const where = repo.type === 'registry' ? repo.ref : repo.uri;
    options.onStep?.(`fetching ${m.name} (${m.init}) from ${where}`);
    try {
      if (repo.type === 'registry') {
        await pullImage(repo.ref, {
          imagesDir,
          credentials: options.credentials,
          allowHttp: options.allowHttp,
          onProgress: options.onProgress,
        });
      } else {
        await pullFromListing(repo.uri, repo.version ? `${m.name}@${repo.version}` : m.name, {
          init: m.init,
          imagesDir,
          allowHttp: options.allowHttp,
          onProgress: options.onProgress,
        });
      }
    } catch (error) {
      tried.push(`${where}: ${(error as Error).message}`);
      continue;
    }
    if (matches(findImage(await readManifest(imagesDir), m.name, m.init), m)) return m;
    tried.push(`${where}: its ${m.name} (${m.init}) has other content ids than the package names`);
  }
  throw new NotFoundError(
    `no image ${m.name} (${m.init}) with the package's assets here or in its repos${tried.length ? `: ${tried.join('; ')}` : ' (it lists none)'}`,
    { reason: 'MACHINE_UNRESOLVED' },
  );
}

/** The boot options a package describes. */
export interface MachineBootOptions {
  init: InitSystem;
  machine: MachinePackage['machine']['type'];
  memoryMiB: number;
  cpus: number;
}

/** The package's boot options under the ones the caller set (`undefined` is not set). */
export function machineBootOptions<T extends object>(m: MachinePackage, given: T): MachineBootOptions & T {
  const set = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const described: MachineBootOptions = { init: m.init, machine: m.machine.type, memoryMiB: m.machine.memoryMiB, cpus: m.machine.cpus };
  return { ...described, ...set } as MachineBootOptions & T;
}
