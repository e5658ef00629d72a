// --claimed-token-file: the token Claim gave this agent, kept where only the agent may write
// so an agent restarted inside a clone (systemd's Restart=always) requires the clone's
// token, not the template's --token-file, which every clone of that template shares.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { MAX_TOKEN_BYTES, parseToken } from '../server/auth.js';
import { freshHex } from '../core/ids.js';

const FLAG = '--claimed-token-file';
const uid = () => process.getuid?.() ?? 0;

/**
 * The token in `file`, or undefined when there is no file or it holds none (the agent then
 * uses --token-file). A file someone else could have written stops the agent: accepting it
 * would hand the sandbox to whoever wrote it.
 */
export function readClaimedToken(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${FLAG} ${file}: ${(error as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== uid() || (stat.mode & 0o077) !== 0) {
      throw new Error(`${FLAG} ${file}: not a regular file of the agent's user with mode 0600; refusing its token`);
    }
    const buffer = Buffer.alloc(MAX_TOKEN_BYTES);
    const size = readSync(fd, buffer, 0, buffer.length, 0);
    return parseToken(buffer.subarray(0, size)) || undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `file` with `token`, mode 0600, atomically (a temporary file renamed over it), in
 * a directory the agent's user owns and nobody else may write (created 0700 if missing).
 */
export function writeClaimedToken(file: string, token: string): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (!stat.isDirectory() || stat.uid !== uid() || (stat.mode & 0o022) !== 0) {
    throw new Error(`${dir} must be a directory of the agent's user that no one else may write`);
  }
  const temp = path.join(dir, `.${path.basename(file)}.${freshHex(8)}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      writeSync(fd, token);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
