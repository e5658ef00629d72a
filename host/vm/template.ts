// Template snapshots: an image booted cold once, to a ready agent, then saved (memory, devices,
// disk) so every later sandbox of that image restores instead of booting. Kept under
// $RUNBOX_HOME/templates/<key>/ (0700): mem.ram (the guest's RAM: the template booted with
// its RAM in this file, shared, so it holds the memory as it was when the VM stopped; clones
// map it private, copy-on-write, and never write it), mem.state (QEMU's migration stream:
// devices and CPUs, the RAM skipped), root.qcow2 (the disk exactly as it was when the memory
// was saved; clones get overlays on top of it and it is never written again), token.img (the
// template's token disk) and meta.json (0600, with the template token, which only root on
// this host can read). The key covers everything
// a restore must match: the image's artifacts, QEMU's version and the machine's shape, so a
// stale template is never restored.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, type Stats } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runboxHome } from '../image/paths.js';
import { sha256File, type ImageEntry } from '../image/manifest.js';
import { runCommand, TOOL_TIMEOUT_MS } from '../local/command.js';
import { backingFileOf } from './disks.js';
import type { BootableImage } from './image.js';
import type { BootPlan } from './boot-plan.js';
import { saveState } from './migrate.js';
import type { NetMode } from './state.js';

// 2: templates are warmed up (create.ts) before they are saved. 3: RAM in mem.ram, shared by clones.
export const TEMPLATE_FORMAT = 3;

export interface TemplateShape {
  machine: BootPlan['machine'];
  accel: BootPlan['accel'];
  cpus: number;
  memoryMiB: number;
  init: BootPlan['init'];
  net: NetMode;
  isolation: 'shared' | 'per-run';
}

export interface TemplateMeta {
  format: typeof TEMPLATE_FORMAT;
  key: string;
  image: string;
  shape: TemplateShape;
  /** The kernel command line the template booted with: a restore must use the very same. */
  append: string;
  /** The template's token: what a fresh clone answers to until it is claimed. */
  token: string;
  state: { size: number; sha256: string };
  ram: { size: number; sha256: string };
  createdAt: string;
  coldBootSeconds: number;
  saveMs: number;
}

/** What a restore loads: a saved state, the disk that belongs to it, the machine it ran as. */
export interface RestoreSource {
  /** For progress and VmState.restoredFrom: a template key or a paused sandbox id. */
  label: string;
  image: string;
  stateFile: string;
  /** The disk saved with the state: a template's frozen disk (an overlay goes on top) or a paused VM's own (moved in). */
  disk: string;
  /** move: the disk becomes the VM's (a paused VM's, resumed once); overlay: a new overlay over it (a template's). */
  diskUse: 'overlay' | 'move';
  tokenDisk: string;
  append: string;
  /** The token the saved agent answers to. */
  token: string;
  /** A template's RAM file, mapped private by the restored VM; absent: the state holds all of the RAM. */
  memoryFile?: string;
}

export interface Template {
  dir: string;
  meta: TemplateMeta;
  stateFile: string;
  memoryFile: string;
  disk: string;
  tokenDisk: string;
}

/** A template as a restore source. */
export function templateSource(t: Template): RestoreSource {
  return {
    label: `template ${t.meta.key}`,
    image: t.meta.image,
    stateFile: t.stateFile,
    disk: t.disk,
    diskUse: 'overlay',
    tokenDisk: t.tokenDisk,
    append: t.meta.append,
    token: t.meta.token,
    memoryFile: t.memoryFile,
  };
}

export function templatesDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(runboxHome(env), 'templates');
}

let qemuVersion: Promise<string> | undefined;

/** `qemu-system-x86_64 --version`'s first line: a different QEMU may not load another's stream. */
export function qemuVersionLine(): Promise<string> {
  qemuVersion ??= runCommand(['qemu-system-x86_64', '--version'], { timeoutMs: TOOL_TIMEOUT_MS }).then((out) => out.split('\n')[0]!.trim());
  return qemuVersion;
}

/** The template key: sha256 over the image's artifacts, QEMU's version and the shape. */
export async function templateKey(image: BootableImage, shape: TemplateShape): Promise<string> {
  return templateKeyOf(image.entry, shape, await qemuVersionLine());
}

/** The key of `templateKey` for a given `qemu --version` line: every input that a restore must match goes in. */
export function templateKeyOf(e: ImageEntry, shape: TemplateShape, qemuVersion: string): string {
  const what = {
    format: TEMPLATE_FORMAT,
    image: { name: e.name, cacheKey: e.cacheKey, rootfs: e.rootfs.id, kernel: e.kernel.id, initrd: e.initrd.id, bootArgs: e.bootArgs },
    qemu: qemuVersion,
    shape,
  };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 32);
}

/** The hex sha256 of a (large) file, streamed (a content id without its "sha256:"). */
export async function sha256Of(file: string): Promise<string> {
  return (await sha256File(file)).slice('sha256:'.length);
}

/** Integrity checks already passed in this process, by file identity (a rewrite changes mtime or size). */
const verified = new Set<string>();

function templateAt(dir: string, meta: TemplateMeta): Template {
  return {
    dir,
    meta,
    stateFile: join(dir, 'mem.state'),
    memoryFile: join(dir, 'mem.ram'),
    disk: join(dir, 'root.qcow2'),
    tokenDisk: join(dir, 'token.img'),
  };
}

/**
 * The template for `key`, checked before use: its files are there, the state and RAM files
 * have the recorded sizes and (once per process and file version) the recorded sha256. A
 * template that fails is removed and undefined is returned, so the caller boots cold and
 * makes a new one.
 */
export async function findTemplate(
  key: string,
  onUnusable: (why: string) => void = () => {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Template | undefined> {
  const dir = join(templatesDir(env), key);
  let meta: TemplateMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as TemplateMeta;
  } catch {
    return undefined;
  }
  const template = templateAt(dir, meta);
  const problem = await checkTemplate(template, key);
  if (problem === undefined) return template;
  await rm(dir, { recursive: true, force: true });
  onUnusable(`template ${key} (${meta.image}) was unusable and has been removed: ${problem}`);
  return undefined;
}

async function identityOf(file: string, info?: Stats): Promise<string> {
  const { ino, size, mtimeMs } = info ?? (await stat(file));
  return `${file}:${ino}:${size}:${mtimeMs}`;
}

/** Why `file` is not the one recorded (size, then sha256 once per process and file version), or undefined. */
async function fileProblem(file: string, recorded: { size: number; sha256: string }): Promise<string | undefined> {
  const name = basename(file);
  const info = await stat(file);
  if (info.size !== recorded.size) return `${name} is ${info.size} bytes, ${recorded.size} were saved (truncated or replaced)`;
  const identity = await identityOf(file, info);
  if (verified.has(identity)) return undefined;
  const sum = await sha256Of(file);
  if (sum !== recorded.sha256) return `${name}'s sha256 is ${sum}, ${recorded.sha256} was saved (corrupted)`;
  verified.add(identity);
  return undefined;
}

async function checkTemplate(t: Template, key: string): Promise<string | undefined> {
  if (t.meta.format !== TEMPLATE_FORMAT || t.meta.key !== key) return `meta.json is of another format or key`;
  try {
    await stat(t.disk);
    await stat(t.tokenDisk);
    // The saved disk reads through to the rootfs it was booted from, by path: an image
    // directory removed since (a temporary RUNBOX_HOME) leaves a template that cannot restore.
    const rootfs = await backingFileOf(t.disk);
    if (rootfs !== undefined && !existsSync(rootfs)) return `its disk's backing rootfs ${rootfs} is gone`;
    return (await fileProblem(t.stateFile, t.meta.state)) ?? (await fileProblem(t.memoryFile, t.meta.ram));
  } catch (error) {
    return (error as Error).message;
  }
}

/** Where a template is being made: its RAM file is there from the cold boot on. */
export interface TemplateWork {
  dir: string;
  memoryFile: string;
}

/**
 * A temporary directory for the template `key`, with an empty RAM file (0600) the cold boot
 * maps shared. captureTemplate renames it into place whole; discardTemplateWork removes it.
 */
export async function startTemplateWork(key: string, env: NodeJS.ProcessEnv = process.env): Promise<TemplateWork> {
  const root = templatesDir(env);
  await mkdir(root, { recursive: true, mode: 0o700 });
  const dir = join(root, `.tmp-${key}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  const memoryFile = join(dir, 'mem.ram');
  await writeFile(memoryFile, '', { mode: 0o600 });
  return { dir, memoryFile };
}

export async function discardTemplateWork(work: TemplateWork): Promise<void> {
  await rm(work.dir, { recursive: true, force: true });
}

export interface CapturedVm {
  qmpSocket: string;
  /** The overlay and token disk of the running VM: moved into the template. */
  overlay: string;
  tokenDisk: string;
  append: string;
  bootToReadySeconds: number;
  /** Ends the VM (QEMU exits): from then on nothing writes to the RAM file. */
  stop: () => Promise<unknown>;
}

/**
 * Saves a ready, just-booted VM (booted with its RAM in `work.memoryFile`, shared) as the
 * template for `key`, and ends the VM. The template is renamed into place only once QEMU has
 * exited, so no clone ever maps RAM that is still written; on any failure the work directory
 * is removed (a crash leaves only a .tmp- directory, never a template); a template another
 * process made meanwhile wins.
 */
export async function captureTemplate(
  work: TemplateWork,
  key: string,
  image: string,
  shape: TemplateShape,
  token: string,
  vm: CapturedVm,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Template> {
  const temp = work.dir;
  try {
    const saved = await saveState(vm.qmpSocket, join(temp, 'mem.state'));
    // QEMU flushed the disk when the migration completed and the guest no longer runs: this
    // overlay is now exactly the disk that belongs to mem.state (and mem.ram).
    await rename(vm.overlay, join(temp, 'root.qcow2'));
    await rename(vm.tokenDisk, join(temp, 'token.img'));
    await vm.stop();
    const meta: TemplateMeta = {
      format: TEMPLATE_FORMAT,
      key,
      image,
      shape,
      append: vm.append,
      token,
      state: { size: saved.bytes, sha256: await sha256Of(join(temp, 'mem.state')) },
      ram: { size: (await stat(work.memoryFile)).size, sha256: await sha256Of(work.memoryFile) },
      createdAt: new Date().toISOString(),
      coldBootSeconds: vm.bootToReadySeconds,
      saveMs: saved.ms,
    };
    await writeFile(join(temp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n', { mode: 0o600 });
    const dir = join(templatesDir(env), key);
    try {
      await rename(temp, dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      await discardTemplateWork(work);
      const other = await findTemplate(key, undefined, env);
      if (other) return other;
      throw error;
    }
    const made = templateAt(dir, meta);
    // Hashed just now: a restore in this process need not read the files again.
    for (const file of [made.stateFile, made.memoryFile]) verified.add(await identityOf(file));
    return made;
  } catch (error) {
    await discardTemplateWork(work);
    throw error;
  }
}
