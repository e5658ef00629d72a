// buildImage: spec -> Debian tree (mmdebstrap) -> runbox customization -> ext4 -> kernel/initrd -> manifest.
// Cached by a key over everything that shapes the image, so an unchanged rebuild takes seconds.
import { mkdir, readdir, readFile, rm, rename, stat, writeFile } from 'node:fs/promises';
import { createWriteStream, existsSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { join, relative } from 'node:path';
import { resolveSpec } from './spec.js';
import type { InitSystem, ResolvedSpec } from './spec.js';
import { debootstrap, customize, clampTimes, treeUsage, basePackages } from './rootfs.js';
import { makeExt4, checkExt4, fileUsage, uuidFrom } from './ext4.js';
import { ensureKernel } from './kernel.js';
import { artifactOf, readManifest, findImage, upsertImage } from './manifest.js';
import type { ContentId, ImageEntry, PackageInfo, LanguageInfo } from './manifest.js';
import { defaultImagesDir, defaultAgentDir, initDir, kernelCacheDir } from './paths.js';
import { dirDigest, sha256, specHash } from './digests.js';
import { dpkgPackages, ext4Blocks } from './inspect.js';

export { specHash } from './digests.js';
import { FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import { BuildError } from './errors.js';

export { BuildError };

/** Bump when a builder change alters image contents: it invalidates every cache entry. */
export const BUILDER_VERSION = '3';
/** Default SOURCE_DATE_EPOCH (2024-01-01T00:00:00Z): every timestamp in the image. */
export const DEFAULT_EPOCH = 1704067200;
/** Kernel arguments every runbox image expects; the VM adds ip=..., tsc_early_khz=..., console=... */
export const BASE_BOOT_ARGS = 'root=/dev/vda rw panic=-1 reboot=k i8042.noaux i8042.nokbd quiet';

export interface ProgressEvent {
  /** Short stage name: resolve, cache, kernel, debootstrap, customize, ext4, fsck, manifest, done. */
  stage: string;
  message: string;
  /** Seconds since buildImage started. */
  elapsed: number;
}

export interface BuildOptions {
  init?: InitSystem;
  /** Output directory (default $RUNBOX_HOME/images). */
  outDir?: string;
  /** Directory holding the agent bundle (default <repo>/dist/agent). Every file in it goes to /opt/runbox. */
  agentDir?: string;
  onProgress?: (e: ProgressEvent) => void;
  /** Rebuild even when the cache key matches. */
  force?: boolean;
  /** Free space in the filesystem for the sandbox's own files (MiB, default 256). */
  slackMiB?: number;
  /** SOURCE_DATE_EPOCH for the build (default $SOURCE_DATE_EPOCH or DEFAULT_EPOCH). */
  epoch?: number;
}

export interface BuildResult {
  entry: ImageEntry;
  /** True when the cache key matched and nothing was rebuilt. */
  cached: boolean;
  outDir: string;
  /** Absolute paths of the artifacts. */
  paths: { rootfs: string; kernel: string; vmlinux: string; initrd: string; log: string };
}

export function imagePaths(name: string, init: InitSystem): { dir: string; rootfs: string; log: string } {
  const dir = join(name, init);
  return { dir, rootfs: join(dir, 'rootfs.ext4'), log: join(dir, 'build.log') };
}

interface BuildInputs {
  init: InitSystem;
  outDir: string;
  agentDir: string;
  epoch: number;
  slackMiB: number;
}

/** Checks options and preconditions before anything is written. */
function checkInputs(options: BuildOptions): BuildInputs {
  const init: InitSystem = options.init ?? 'systemd';
  if (init !== 'systemd' && init !== 'openrc')
    throw new InvalidArgumentError(`init must be "systemd" or "openrc" (got ${JSON.stringify(init)})`, {
      reason: 'FIELD_INVALID',
      metadata: { field: 'init' },
    });
  const agentDir = options.agentDir ?? defaultAgentDir();
  const epoch = options.epoch ?? (process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) : DEFAULT_EPOCH);
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new InvalidArgumentError(`SOURCE_DATE_EPOCH must be a non-negative integer (got ${epoch})`, {
      reason: 'FIELD_INVALID',
      metadata: { field: 'epoch' },
    });
  if (!existsSync(join(agentDir, 'runbox-agent.js'))) {
    throw new FailedPreconditionError(
      `agent bundle not found: ${join(agentDir, 'runbox-agent.js')} (run \`npm run build\`, or pass agentDir)`,
      { reason: 'AGENT_BUNDLE_MISSING' },
    );
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new FailedPreconditionError('building an image needs root (mmdebstrap --mode=root and chroot); run as root', {
      reason: 'ROOT_REQUIRED',
    });
  }
  return { init, outDir: options.outDir ?? defaultImagesDir(), agentDir, epoch, slackMiB: options.slackMiB ?? 256 };
}

/** Everything that decides the image's bytes: a change to any of it is a rebuild. */
async function cacheKeyOf(specHashValue: ContentId, inputs: BuildInputs): Promise<ContentId> {
  return sha256(
    JSON.stringify({
      builder: BUILDER_VERSION,
      spec: specHashValue,
      init: inputs.init,
      epoch: inputs.epoch,
      slack: inputs.slackMiB,
      agent: await dirDigest(inputs.agentDir),
      guest: await dirDigest(initDir()),
      // init/images is part of initDir's digest too, which is fine: specs are tiny and rarely change.
    }),
  );
}

/** The prior entry when its cache key matches and every artifact is still there at its size. */
async function reusable(inputs: BuildInputs, spec: ResolvedSpec, cacheKey: ContentId, rootfsPath: string): Promise<ImageEntry | undefined> {
  const prior = findImage(await readManifest(inputs.outDir), spec.name, inputs.init);
  if (!prior || prior.cacheKey !== cacheKey || !existsSync(rootfsPath)) return undefined;
  if ((await stat(rootfsPath)).size !== prior.rootfs.size) return undefined;
  return [prior.kernel, prior.vmlinux, prior.initrd].every((a) => existsSync(join(inputs.outDir, a.file))) ? prior : undefined;
}

type Progress = (stage: string, message: string) => void;

/** The root tree: mmdebstrap, then runbox's customisation; returns the languages with their package versions. */
async function makeTree(
  spec: ResolvedSpec,
  inputs: BuildInputs,
  tree: string,
  log: WriteStream,
  progress: Progress,
): Promise<{ languages: Record<string, LanguageInfo>; packages: PackageInfo[] }> {
  const { init, agentDir, epoch } = inputs;
  progress('debootstrap', `mmdebstrap bookworm minbase: ${[...basePackages(init), ...spec.packages].join(' ')}`);
  let lastInfo = 0;
  await debootstrap({
    spec,
    init,
    agentDir,
    root: tree,
    epoch,
    log,
    onInfo: (l) => {
      // mmdebstrap is chatty: show its stage lines at most every 2 s.
      if (Date.now() - lastInfo > 2000) {
        lastInfo = Date.now();
        progress('debootstrap', l.slice(0, 120));
      }
    },
  });
  progress('customize', 'runbox user, agent, services, network, warm-up');
  await customize({ spec, init, agentDir, root: tree, epoch, log, onInfo: (l) => progress('customize', l) });
  const packages = await dpkgPackages(tree, log);
  const languages: Record<string, LanguageInfo> = {};
  for (const [lang, l] of Object.entries(spec.languages)) {
    const p = packages.find((x) => x.name === l.package);
    if (!p) throw new Error(`language ${lang}: package ${l.package} is not installed in the image`);
    languages[lang] = { package: l.package, version: p.version };
  }
  // What users (and tools) can read about the image from inside it.
  await writeFile(
    join(tree, 'etc/runbox/image.json'),
    JSON.stringify(
      {
        name: spec.name,
        init,
        chain: spec.chain,
        description: spec.description,
        languages,
        env: spec.env,
      },
      null,
      2,
    ) + '\n',
  );
  await clampTimes(tree, epoch);
  return { languages, packages };
}

/** The ext4 image from the tree, checked, renamed into place only when whole. */
async function packRootfs(
  spec: ResolvedSpec,
  inputs: BuildInputs,
  tree: string,
  tmpImage: string,
  rootfsPath: string,
  log: WriteStream,
  progress: Progress,
): Promise<void> {
  const usage = await treeUsage(tree);
  progress('ext4', `mkfs.ext4 -d (${Math.round(usage.bytes / 1048576)} MiB in ${usage.inodes} inodes)`);
  await makeExt4({
    tree,
    out: tmpImage,
    usedBytes: usage.bytes,
    inodes: usage.inodes,
    slackMiB: inputs.slackMiB,
    seed: `${spec.name}/${inputs.init}`,
    epoch: inputs.epoch,
    log,
  });
  progress('fsck', 'e2fsck -fn');
  await checkExt4(tmpImage, log);
  await rename(tmpImage, rootfsPath);
}

interface Built {
  spec: ResolvedSpec;
  specHash: ContentId;
  cacheKey: ContentId;
  rootfsRel: string;
  kernel: Awaited<ReturnType<typeof ensureKernel>>;
  languages: Record<string, LanguageInfo>;
  packages: PackageInfo[];
  seconds: number;
}

/** The manifest entry: content ids of every artifact, and what the image holds. */
async function describeImage(outDir: string, init: InitSystem, b: Built, log: WriteStream): Promise<ImageEntry> {
  const rootfsPath = join(outDir, b.rootfsRel);
  const blocks = await ext4Blocks(rootfsPath, log);
  return {
    name: b.spec.name,
    init,
    description: b.spec.description,
    chain: b.spec.chain,
    specHash: b.specHash,
    cacheKey: b.cacheKey,
    builderVersion: BUILDER_VERSION,
    builtAt: new Date().toISOString(),
    buildSeconds: b.seconds,
    rootfs: {
      ...(await artifactOf(outDir, b.rootfsRel)),
      allocatedBytes: (await fileUsage(rootfsPath)).allocated,
      blocksUsed: blocks.used,
      blocksTotal: blocks.total,
      fsUuid: uuidFrom(`uuid:${b.spec.name}/${init}`),
    },
    kernel: {
      ...(await artifactOf(outDir, relative(outDir, b.kernel.vmlinuz))),
      release: b.kernel.release,
      package: b.kernel.package,
      packageVersion: b.kernel.packageVersion,
    },
    vmlinux: await artifactOf(outDir, relative(outDir, b.kernel.vmlinux)),
    initrd: {
      ...(await artifactOf(outDir, relative(outDir, b.kernel.initrd))),
      modules: b.kernel.modules,
      builtinDrivers: b.kernel.builtin,
    },
    bootArgs: BASE_BOOT_ARGS,
    languages: b.languages,
    env: b.spec.env,
    packages: b.packages,
  };
}

/**
 * Build (or reuse from cache) the image for a spec name ("python") or spec path ("./my.json").
 * Needs root (mmdebstrap --mode=root, chroot) and network access to the Debian mirror. A
 * build that fails or is killed leaves no artifact in place: the rootfs is renamed in whole.
 */
export async function buildImage(specRef: string, options: BuildOptions = {}): Promise<BuildResult> {
  const t0 = Date.now();
  const inputs = checkInputs(options);
  const { init, outDir } = inputs;
  const progress: Progress = (stage, message) =>
    options.onProgress?.({ stage, message, elapsed: Math.round((Date.now() - t0) / 100) / 10 });

  const spec = await resolveSpec(specRef);
  progress('resolve', `${spec.chain.join(' -> ')} (${init})`);
  const sHash = await specHash(spec);
  const cacheKey = await cacheKeyOf(sHash, inputs);
  const rel = imagePaths(spec.name, init);
  const rootfsPath = join(outDir, rel.rootfs);
  const logPath = join(outDir, rel.log);
  await mkdir(join(outDir, rel.dir), { recursive: true });

  const prior = options.force ? undefined : await reusable(inputs, spec, cacheKey, rootfsPath);
  if (prior) {
    progress('cache', `cache hit ${cacheKey.slice(0, 19)}: ${rel.rootfs}`);
    return { entry: prior, cached: true, outDir, paths: absPaths(outDir, prior, logPath) };
  }
  progress('cache', `building (cache key ${cacheKey.slice(0, 19)})`);

  await removeStaleWorkDirs(join(outDir, '.work'));
  const log = createWriteStream(logPath, { flags: 'w' });
  const work = join(outDir, '.work', `${spec.name}-${init}-${process.pid}`);
  const tree = join(work, 'root');
  try {
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    progress('kernel', 'kernel + initramfs');
    const kernel = await ensureKernel(kernelCacheDir(), join(outDir, 'kernel'), log, (l) => progress('kernel', l));
    const { languages, packages } = await makeTree(spec, inputs, tree, log, progress);
    await packRootfs(spec, inputs, tree, join(work, 'rootfs.ext4'), rootfsPath, log, progress);
    progress('manifest', 'hashing artifacts');
    const built: Built = {
      spec,
      specHash: sHash,
      cacheKey,
      rootfsRel: rel.rootfs,
      kernel,
      languages,
      packages,
      seconds: Math.round((Date.now() - t0) / 1000),
    };
    const entry = await describeImage(outDir, init, built, log);
    await upsertImage(outDir, entry);
    progress(
      'done',
      `${rel.rootfs} ${Math.round(entry.rootfs.size / 1048576)} MiB, ${entry.rootfs.blocksUsed} blocks used, ${entry.rootfs.id.slice(0, 19)}`,
    );
    return { entry, cached: false, outDir, paths: absPaths(outDir, entry, logPath) };
  } catch (e) {
    throw new BuildError(`building image ${spec.name} (${init}) failed: ${(e as Error).message}`, logPath, { cause: e });
  } finally {
    await new Promise<void>((r) => log.end(() => r()));
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * A build killed midway leaves its tree in .work/<name>-<init>-<pid>. Remove those whose process is
 * gone, unless something is still mounted inside (an interrupted mmdebstrap): never delete through a mount.
 */
async function removeStaleWorkDirs(workRoot: string): Promise<void> {
  if (!existsSync(workRoot)) return;
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  for (const d of await readdir(workRoot)) {
    const pid = Number(/-(\d+)$/.exec(d)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue;
    } catch {
      /* not running */
    }
    const dir = join(workRoot, d);
    if (mounts.split('\n').some((l) => l.split(' ')[1]?.startsWith(`${dir}/`))) continue;
    await rm(dir, { recursive: true, force: true });
  }
}

function absPaths(outDir: string, e: ImageEntry, log: string): BuildResult['paths'] {
  return {
    rootfs: join(outDir, e.rootfs.file),
    kernel: join(outDir, e.kernel.file),
    vmlinux: join(outDir, e.vmlinux.file),
    initrd: join(outDir, e.initrd.file),
    log,
  };
}
