// A run's private directory: <workDir>/<id>, owned by the run-as user, mode 0700, removed
// after the run. The parent is root-owned 0711 (traversable, not listable), so the random id
// is the only way in: other runs cannot find, let alone change, this run's files. (node:fs's
// callback API, not node:fs/promises: that would load seven more of Node's modules at start.)
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  fchownSync,
  mkdirSync,
  opendirSync,
  openSync,
  rm,
  rmdirSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { log } from '../core/log.js';
import type { RunAsUser } from '../core/users.js';

const isRoot = () => process.getuid?.() === 0;
const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code;

/** Work roots made (and made root's 0711) by this agent: once each, not once per run. */
const ensuredRoots = new Set<string>();

/** Creates the parent once per agent; idempotent. */
export function ensureWorkRoot(workDir: string): void {
  mkdirSync(workDir, { recursive: true, mode: 0o711 });
  if (isRoot()) {
    chownSync(workDir, 0, 0);
    chmodSync(workDir, 0o711);
  }
  ensuredRoots.add(workDir);
}

/** Creates <workDir>/<id> owned by `user`, mode 0700. */
export function createPrivateDir(workDir: string, id: string, user: RunAsUser): string {
  if (!ensuredRoots.has(workDir)) ensureWorkRoot(workDir);
  const dir = path.join(workDir, id);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    // The root went away under us (someone removed it): make it again, once.
    if (errnoOf(error) !== 'ENOENT') throw error;
    ensureWorkRoot(workDir);
    mkdirSync(dir, { mode: 0o700 });
  }
  if (isRoot()) chownSync(dir, user.uid, user.gid);
  return dir;
}

/** Writes a new file (never following or replacing anything) owned by `user`. */
export function writePrivateFile(file: string, data: Uint8Array, user: RunAsUser, mode = 0o600): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    if (isRoot()) fchownSync(fd, user.uid, user.gid);
    for (let offset = 0; offset < data.length;) offset += writeSync(fd, data, offset);
  } finally {
    closeSync(fd);
  }
}

/** Where coreutils' rm lives on every supported image. */
const RM = '/bin/rm';

/** Entries removed in-process at most; a larger directory goes to rm (a process: no long block of the event loop). */
const IN_PROCESS_ENTRIES = 64;

/**
 * Removes a private directory and everything the run left in it. Never throws.
 *
 * The usual directory (empty after an exec, the source file after runCode) holds no
 * subdirectory and is removed in-process (removeFlat). Anything else goes to coreutils' rm:
 * not fs.rm, which walks by path string (lstat, then readdir/unlink of "dir/sub/..."), so a
 * process of the run-as user that is still alive (a shell session, a concurrent run) could
 * swap a subdirectory for a symlink between the lstat and the walk and make root delete
 * files outside. rm descends with openat(O_NOFOLLOW) and checks each directory's
 * device/inode, which such a swap cannot fool. The directory path is ours, passed as argv.
 */
export async function removePrivateDir(dir: string): Promise<void> {
  if (removeFlat(dir)) return;
  const removed = await new Promise<boolean>((resolve) => {
    const child = spawn(RM, ['-rf', '--one-file-system', '--', dir], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
  if (removed || !existsSync(dir)) return;
  try {
    // No coreutils rm (or it failed): only the unprivileged case can get here safely.
    if (!isRoot()) await new Promise((resolve) => rm(dir, { recursive: true, force: true, maxRetries: 3 }, resolve));
    else log.warn('run.dir_left', { path: dir, reason: `${RM} could not remove it` });
  } catch {
    /* best effort; the next run uses a fresh id anyway */
  }
}

/**
 * Removes `dir` when it holds at most IN_PROCESS_ENTRIES entries and no directory; false
 * (nothing or part removed) leaves the rest to rm. Safe as root without openat: `dir` is
 * <workDir>/<id> in the root-owned 0711 work root, so the user cannot replace `dir` itself,
 * and inside it only unlink() and rmdir() run, which act on the entry named and never follow
 * a symlink. Nothing is descended into: an entry that is (or has meanwhile become) a
 * directory makes unlink fail with EISDIR, and rm takes over.
 */
function removeFlat(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return true;
    if (errnoOf(error) !== 'ENOTEMPTY' && errnoOf(error) !== 'EEXIST') return false;
  }
  const names: Buffer[] = [];
  try {
    // Names as bytes (a run may leave names that are not UTF-8): Node's Dir takes 'buffer'
    // as its encoding and yields Buffer names, which @types/node does not model.
    const listing = opendirSync(dir, { encoding: 'buffer' as BufferEncoding });
    try {
      for (let entry = listing.readSync(); entry; entry = listing.readSync()) {
        if (entry.isDirectory() || names.length === IN_PROCESS_ENTRIES) return false;
        names.push(entry.name as unknown as Buffer);
      }
    } finally {
      listing.closeSync();
    }
    const prefix = Buffer.from(`${dir}/`);
    for (const name of names) {
      try {
        unlinkSync(Buffer.concat([prefix, name]));
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') return false;
      }
    }
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}
