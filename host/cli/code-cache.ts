// Where the runbox command keeps its V8 code cache (host/cli-loader.ts), and the rules that make
// reading it safe. The cache is V8 bytecode the CLI runs as the user, so only the user may have
// written it: it lives in the user's own cache directory, which must be theirs alone (0700, or
// there is no cache), and a file someone else owns or could write is never read. V8 itself
// refuses data made for another bundle, Node version or set of flags (the file is then written
// again).
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ours = (uid: number) => uid === process.getuid?.();

/** `<cache root>/runbox-cli`, made 0700 if missing; undefined when it is not ours alone. */
export function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  try {
    // The passwd home of our uid, not $HOME: under sudo, $HOME may still be someone else's.
    const root = env.XDG_CACHE_HOME || path.join(os.userInfo().homedir, '.cache');
    if (!path.isAbsolute(root)) return undefined;
    const dir = path.join(root, 'runbox-cli');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = statSync(dir);
    return stat.isDirectory() && ours(stat.uid) && (stat.mode & 0o077) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** One cache file per verb (each compiles its own functions), Node version and architecture. */
export function cacheFile(env: NodeJS.ProcessEnv, verb: string | undefined): string | undefined {
  const dir = cacheDir(env);
  const name = verb !== undefined && /^[a-z][a-z-]{0,19}$/.test(verb) ? verb : 'other';
  return dir && path.join(dir, `${process.version}-${process.arch}-${name}.v8`);
}

/** The cached bytes when the file is ours and only we may write it; undefined otherwise. */
export function readCache(file: string): Buffer | undefined {
  try {
    const stat = statSync(file);
    if (!stat.isFile() || !ours(stat.uid) || (stat.mode & 0o022) !== 0) return undefined;
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Replaces the file at once (a concurrent start reads the old or the new one, never half). */
export function writeCache(file: string, data: Uint8Array): void {
  try {
    const temp = `${file}.${process.pid}`;
    writeFileSync(temp, data, { mode: 0o600 });
    renameSync(temp, file);
  } catch {
    /* not writable: the next start compiles again */
  }
}
