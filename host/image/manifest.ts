// The image manifest (<outDir>/manifest.json): one entry per (image name, init system), each artifact
// with its size and content id (`sha256:<hex>`, the OCI digest form). Also `image ls` / `image verify`.
import { readFile, writeFile, rename, open, rm, stat } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { InitSystem } from './spec.js';
import { FailedPreconditionError } from '../errors.js';

export type ContentId = `sha256:${string}`;

export interface Artifact {
  /** Path relative to the manifest's directory. */
  file: string;
  /** Apparent size in bytes. */
  size: number;
  id: ContentId;
}

export interface RootfsArtifact extends Artifact {
  /** Disk space the sparse file takes on the host. */
  allocatedBytes: number;
  /** ext4 blocks in use (4 KiB each) and total, from the superblock. */
  blocksUsed: number;
  blocksTotal: number;
  fsUuid: string;
}

export interface KernelArtifact extends Artifact {
  release: string;
  package: string;
  packageVersion: string;
}

export interface InitrdArtifact extends Artifact {
  /** Modules the initramfs loads, in order; drivers the kernel has built in need none. */
  modules: string[];
  builtinDrivers: string[];
}

export interface LanguageInfo {
  package: string;
  version: string;
}
export interface PackageInfo {
  name: string;
  version: string;
}

export interface ImageEntry {
  name: string;
  init: InitSystem;
  description: string;
  /** Specs merged to make this one, root first. */
  chain: string[];
  /** sha256 of the resolved spec; cacheKey adds init system, agent bundle, guest files and builder version. */
  specHash: ContentId;
  cacheKey: ContentId;
  builderVersion: string;
  builtAt: string;
  buildSeconds: number;
  rootfs: RootfsArtifact;
  /** bzImage, for QEMU. */
  kernel: KernelArtifact;
  /** ELF kernel, for Firecracker. */
  vmlinux: Artifact;
  initrd: InitrdArtifact;
  /** Kernel arguments the image expects (add ip=... and tsc_early_khz=... per VM). */
  bootArgs: string;
  languages: Record<string, LanguageInfo>;
  env: Record<string, string>;
  packages: PackageInfo[];
}

export interface Manifest {
  schemaVersion: 1;
  images: ImageEntry[];
}

export const MANIFEST_FILE = 'manifest.json';

export async function sha256File(path: string): Promise<ContentId> {
  const h = createHash('sha256');
  await new Promise<void>((res, rej) => {
    createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })
      .on('data', (d) => h.update(d))
      .on('end', () => res())
      .on('error', rej);
  });
  return `sha256:${h.digest('hex')}`;
}

export async function artifactOf(outDir: string, rel: string): Promise<Artifact> {
  const p = join(outDir, rel);
  return { file: rel, size: (await stat(p)).size, id: await sha256File(p) };
}

export async function readManifest(outDir: string): Promise<Manifest> {
  const p = join(outDir, MANIFEST_FILE);
  if (!existsSync(p)) return { schemaVersion: 1, images: [] };
  const m = JSON.parse(await readFile(p, 'utf8')) as Manifest;
  if (m.schemaVersion !== 1 || !Array.isArray(m.images))
    throw new FailedPreconditionError(`${p}: not a runbox image manifest (schemaVersion 1)`, {
      reason: 'MANIFEST_INVALID',
      metadata: { path: p },
    });
  return m;
}

/** Find an entry: init defaults to systemd. */
export function findImage(m: Manifest, name: string, init: InitSystem = 'systemd'): ImageEntry | undefined {
  return m.images.find((e) => e.name === name && e.init === init);
}

/** Serialise concurrent builds that update the same manifest: an O_EXCL lock file with a short retry. */
async function withLock<T>(outDir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(outDir, `${MANIFEST_FILE}.lock`);
  for (let i = 0; ; i++) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (i > 300)
        throw new FailedPreconditionError(`${lock} held for over 30 s; remove it if no build is running`, {
          reason: 'MANIFEST_LOCKED',
          metadata: { path: lock },
        });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/** Insert or replace the entry for (name, init); atomic rename so readers never see half a file. */
export async function upsertImage(outDir: string, entry: ImageEntry): Promise<void> {
  await withLock(outDir, async () => {
    const m = await readManifest(outDir);
    m.images = m.images.filter((e) => !(e.name === entry.name && e.init === entry.init));
    m.images.push(entry);
    m.images.sort((a, b) => a.name.localeCompare(b.name) || a.init.localeCompare(b.init));
    const p = join(outDir, MANIFEST_FILE);
    await writeFile(`${p}.${process.pid}.tmp`, JSON.stringify(m, null, 2) + '\n');
    await rename(`${p}.${process.pid}.tmp`, p);
  });
}

/** `image ls`: the entries, or [] when nothing was built into outDir yet. */
export async function listImages(outDir: string): Promise<ImageEntry[]> {
  return (await readManifest(outDir)).images;
}

export interface VerifyProblem {
  image: string;
  init: InitSystem;
  artifact: 'rootfs' | 'kernel' | 'vmlinux' | 'initrd';
  file: string;
  problem: 'missing' | 'size' | 'content';
  expected: string;
  actual: string;
}

/** `image verify`: re-hash every artifact of every entry (or of one image) and report mismatches. */
export async function verifyImages(
  outDir: string,
  only?: { name: string; init?: InitSystem },
): Promise<{ checked: number; problems: VerifyProblem[] }> {
  const m = await readManifest(outDir);
  const problems: VerifyProblem[] = [];
  let checked = 0;
  const hashed = new Map<string, ContentId>(); // kernel files are shared between entries
  for (const e of m.images) {
    if (only && (e.name !== only.name || (only.init && e.init !== only.init))) continue;
    for (const kind of ['rootfs', 'kernel', 'vmlinux', 'initrd'] as const) {
      const a = e[kind];
      const p = join(outDir, a.file);
      checked++;
      const base = { image: e.name, init: e.init, artifact: kind, file: a.file };
      if (!existsSync(p)) {
        problems.push({ ...base, problem: 'missing', expected: a.id, actual: 'no such file' });
        continue;
      }
      const size = (await stat(p)).size;
      if (size !== a.size) {
        problems.push({ ...base, problem: 'size', expected: String(a.size), actual: String(size) });
        continue;
      }
      const id = hashed.get(p) ?? (await sha256File(p));
      hashed.set(p, id);
      if (id !== a.id) problems.push({ ...base, problem: 'content', expected: a.id, actual: id });
    }
  }
  return { checked, problems };
}
