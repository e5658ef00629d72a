// Content ids of what goes into an image: the spec, the agent bundle and the guest files.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ContentId } from './manifest.js';
import type { ResolvedSpec } from './spec.js';

export function sha256(data: string | Buffer): ContentId {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Hash of every file under dir (relative names + bytes), sorted: agent bundle and guest init files. */
export async function dirDigest(dir: string): Promise<ContentId> {
  const h = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      const st = await stat(p);
      h.update(`${relative(dir, p)}\0${st.mode & 0o777}\0`);
      h.update(await readFile(p));
      h.update('\0');
    }
  };
  await walk(dir);
  return `sha256:${h.digest('hex')}`;
}

export function specHash(spec: ResolvedSpec): Promise<ContentId> {
  return Promise.resolve(sha256(JSON.stringify(spec)));
}

/** Relative paths of an image's files inside outDir. */
