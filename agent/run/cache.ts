// Compiled binaries by sha256(language, version, source), so a repeated run skips the
// compile stage. The cache directory is root-owned and only readable by runs: a compile
// stage writes its output into the run's private directory, and the agent copies it in
// (never following links, only regular files the run-as user owns). A run therefore
// cannot plant a binary under another source's key.
import { createHash } from 'node:crypto';
import {
  chmodSync, chownSync, closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync,
  renameSync, rmSync, statSync, utimesSync, writeFileSync, readFileSync,
} from 'node:fs';
import path from 'node:path';
import type { RunAsUser } from '../users.js';

/** Entries kept before the least recently used ones are evicted. */
const MAX_ENTRIES = 512;
/** Largest compile output the cache copies (a static Go or Rust binary is a few MiB). */
const MAX_OUTPUT_BYTES = 256 << 20;
const isRoot = () => process.getuid?.() === 0;

export class CompileCache {
  readonly binDir: string;

  constructor(readonly cacheDir: string, user: RunAsUser) {
    this.binDir = path.join(cacheDir, 'bin');
    mkdirSync(this.binDir, { recursive: true, mode: 0o755 });
    if (isRoot()) {
      for (const dir of [cacheDir, this.binDir]) {
        chownSync(dir, 0, 0);
        chmodSync(dir, 0o755);
      }
      // The Go build cache and GOPATH must be writable by the compiler, which runs as the user.
      for (const name of ['go-build', 'gopath']) {
        const dir = path.join(cacheDir, name);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        chownSync(dir, user.uid, user.gid);
      }
    }
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
    const temp = `${final}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(temp, data, { mode: 0o755, flag: 'wx' });
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
