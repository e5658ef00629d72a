// Where runbox keeps its per-user state on the host. Shared by the image builder and the VM launcher.
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

/** Default RUNBOX_HOME when the environment variable is unset. */
export const DEFAULT_RUNBOX_HOME = join(homedir(), '.cache', 'runbox');

/** $RUNBOX_HOME, else ~/.cache/runbox. */
export function runboxHome(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.RUNBOX_HOME;
  return v && v.length > 0 ? resolve(v) : DEFAULT_RUNBOX_HOME;
}

/** Default output directory of `runbox image build`: $RUNBOX_HOME/images. */
export function defaultImagesDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(runboxHome(env), 'images');
}

/** Downloaded kernel packages and their extracted trees: $RUNBOX_HOME/kernel-cache. */
export function kernelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(runboxHome(env), 'kernel-cache');
}

/**
 * Repository root. Works from host/image/*.ts (source, run by vitest) and from dist/host/*.js
 * (esbuild bundle): walk up until a directory holding init/images is found.
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'init', 'images', 'base.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** Directory of the built-in image specs (init/images). */
export function specsDir(): string {
  return join(repoRoot(), 'init', 'images');
}

/** Default agent bundle directory (dist/agent, produced by `npm run build`). */
export function defaultAgentDir(): string {
  return join(repoRoot(), 'dist', 'agent');
}

/** Directory of the guest-side files (units, scripts) installed into every image. */
export function initDir(): string {
  return join(repoRoot(), 'init');
}
