// Compiled binaries by sha256(language, version, source), so a repeated run skips the
// compile stage. The cache directory is root-owned (the agent takes it over, without ever
// following a link, if an image or a run left it otherwise): a compile stage writes its output
// into the run's private directory, and the agent copies it in (never following links, only
// regular files the run-as user owns). A run therefore cannot plant a binary under another
// source's key. `bin/` is 0711: a run can open an entry whose name (the key) it knows, which
// takes knowing the source, but cannot list what other runs compiled. An ELF entry is 0711
// too (execve needs no read permission), so even a known name cannot be read; a script output
// (TypeScript's main.js, run by node) must stay readable, 0644.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  readFileSync,
} from 'node:fs';
import path from 'node:path';
import type { RunAsUser } from '../core/users.js';
import { freshHex } from '../core/ids.js';

/** Entries kept before the least recently used ones are evicted. */
const MAX_ENTRIES = 512;
/** Largest compile output the cache copies (a static Go or Rust binary is a few MiB). */
const MAX_OUTPUT_BYTES = 256 << 20;
const isRoot = () => process.getuid?.() === 0;
/** Searchable, not listable: an entry is reached only by its key. */
const BIN_DIR_MODE = 0o711;
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Execute-only for an ELF binary (the kernel maps it without read permission); readable for a script an interpreter must read. */
function entryMode(data: Buffer): number {
  return data.subarray(0, 4).equals(ELF_MAGIC) ? 0o711 : 0o644;
}

/**
 * Makes `dir` a real directory with this owner and mode, never following a link: a link or
 * file in its place is removed first. Ownership and mode are set through an O_NOFOLLOW
 * descriptor, so a path swapped after the check cannot redirect a chown to, say, /etc.
 */
function ownDirectory(dir: string, uid: number, gid: number, mode: number): { ownerBefore: number } {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR')
      rmSync(dir, { force: true }); // the link or file itself, not its target
    else if (code !== 'ENOENT') throw error;
    mkdirSync(dir, { mode });
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  }
  try {
    const ownerBefore = fstatSync(fd).uid;
    fchownSync(fd, uid, gid);
    fchmodSync(fd, mode);
    return { ownerBefore };
  } finally {
    closeSync(fd);
  }
}

export class CompileCache {
  readonly binDir: string;

  constructor(
    readonly cacheDir: string,
    user: RunAsUser,
  ) {
    this.binDir = path.join(cacheDir, 'bin');
    if (!isRoot()) {
      mkdirSync(this.binDir, { recursive: true, mode: BIN_DIR_MODE });
      return;
    }
    // Order matters: once the cache directory is root's, user code can no longer add, swap
    // or rename anything in it, so its children are checked against a stable directory.
    mkdirSync(path.dirname(cacheDir), { recursive: true, mode: 0o755 });
    ownDirectory(cacheDir, 0, 0, 0o755);
    if (ownDirectory(this.binDir, 0, 0, BIN_DIR_MODE).ownerBefore !== 0) {
      // A bin directory someone else owned may hold binaries planted under a source's key.
      execFileSync('/bin/rm', ['-rf', '--one-file-system', '--', this.binDir]);
      ownDirectory(this.binDir, 0, 0, BIN_DIR_MODE);
    }
    // The Go build cache and GOPATH must be writable by the compiler, which runs as the user.
    for (const name of ['go-build', 'gopath']) ownDirectory(path.join(cacheDir, name), user.uid, user.gid, 0o700);
  }

  static key(language: string, version: string, source: Uint8Array): string {
    return createHash('sha256').update(`${language}\0${version}\0`).update(source).digest('hex');
  }

  /** The cached output for `key`, or undefined. A hit refreshes its age for eviction. */
  lookup(key: string): string | undefined {
    const file = path.join(this.binDir, key);
    try {
      if (!statSync(file).isFile()) return undefined;
      const now = new Date();
      utimesSync(file, now, now);
      return file;
    } catch {
      return undefined;
    }
  }

  /**
   * Copies a compile output into the cache; returns its cached path. `expectedUid` is the
   * run-as user: anything else (a link, a device, a file of someone else) is refused.
   */
  store(key: string, output: string, expectedUid: number): string {
    // O_NONBLOCK: a FIFO planted in place of the output must not block the agent's event loop
    // in open(); fstat then refuses it.
    const fd = openSync(output, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    let data: Buffer;
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new Error('compile output is not a regular file');
      if (isRoot() && stat.uid !== expectedUid) throw new Error('compile output is not owned by the run-as user');
      // Read whole into the agent's memory: a planted sparse giant must not take it down.
      if (stat.size > MAX_OUTPUT_BYTES) throw new Error(`compile output is ${stat.size} bytes, over the cache's ${MAX_OUTPUT_BYTES}`);
      data = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
    const final = path.join(this.binDir, key);
    const temp = `${final}.${process.pid}.${freshHex(8)}.tmp`;
    writeFileSync(temp, data, { mode: entryMode(data), flag: 'wx' });
    chmodSync(temp, entryMode(data)); // the mode given to open() is filtered by the umask
    renameSync(temp, final); // atomic: a concurrent run sees the old or the new file, never half
    this.#evict();
    return final;
  }

  #evict(): void {
    const entries = readdirSync(this.binDir).filter((e) => !e.endsWith('.tmp'));
    if (entries.length <= MAX_ENTRIES) return;
    const aged = entries
      .map((name) => {
        try {
          return { name, mtime: statSync(path.join(this.binDir, name)).mtimeMs };
        } catch {
          return { name, mtime: 0 };
        }
      })
      .sort((a, b) => a.mtime - b.mtime);
    for (const { name } of aged.slice(0, entries.length - MAX_ENTRIES)) rmSync(path.join(this.binDir, name), { force: true });
  }
}
