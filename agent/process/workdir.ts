// A run's private directory: <workDir>/<id>, owned by the run-as user, mode 0700, removed
// after the run. The parent is root-owned 0711 (traversable, not listable), so the random
// id is the only way in: other runs cannot find, let alone change, this run's files.
import { spawn } from 'node:child_process';
import { chownSync, closeSync, constants, existsSync, fchownSync, mkdirSync, openSync, chmodSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { log } from '../core/log.js';
import type { RunAsUser } from '../core/users.js';

const isRoot = () => process.getuid?.() === 0;

/** Creates the parent once per agent; idempotent. */
export function ensureWorkRoot(workDir: string): void {
  mkdirSync(workDir, { recursive: true, mode: 0o711 });
  if (isRoot()) {
    chownSync(workDir, 0, 0);
    chmodSync(workDir, 0o711);
  }
}

/** Creates <workDir>/<id> owned by `user`, mode 0700. */
export function createPrivateDir(workDir: string, id: string, user: RunAsUser): string {
  ensureWorkRoot(workDir);
  const dir = path.join(workDir, id);
  mkdirSync(dir, { mode: 0o700 });
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

/**
 * Removes a private directory and everything the run left in it. Never throws.
 *
 * Not fs.rm: it walks by path string (lstat, then readdir/unlink of "dir/sub/..."), so a
 * process of the run-as user that is still alive (a shell session, a concurrent run) can
 * swap a subdirectory for a symlink between the lstat and the walk and make root delete
 * files outside. coreutils' rm descends with openat(O_NOFOLLOW) and checks each directory's
 * device/inode, which such a swap cannot fool. The directory path is ours, passed as argv.
 */
export async function removePrivateDir(dir: string): Promise<void> {
  const removed = await new Promise<boolean>((resolve) => {
    const child = spawn(RM, ['-rf', '--one-file-system', '--', dir], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
  if (removed || !existsSync(dir)) return;
  try {
    // No coreutils rm (or it failed): only the unprivileged case can get here safely.
    if (!isRoot()) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    else log.warn('run.dir_left', { path: dir, reason: `${RM} could not remove it` });
  } catch {
    /* best effort; the next run uses a fresh id anyway */
  }
}
