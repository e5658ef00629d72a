// A pulled image's config is the registry's word, not ours: before any of it names a file,
// every field a pull uses is checked (names, init, artifact paths inside the image directory,
// content ids, sizes).
import { RegistryError } from './errors.js';
import type { ImageEntry } from '../image/manifest.js';
import { ARTIFACT_KINDS } from './media-types.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Relative, no `..`, no hidden first component: only what a build writes (e.g. python/systemd/rootfs.ext4). */
const PATH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;
const ID = /^sha256:[0-9a-f]{64}$/;

export function checkEntry(value: unknown, where: string): ImageEntry {
  const bad = (why: string) =>
    new RegistryError(`${where}: its config is not a valid runbox image entry: ${why}`, { reason: 'CONFIG_INVALID' });
  if (typeof value !== 'object' || value === null) throw bad('not an object');
  const e = value as ImageEntry;
  if (typeof e.name !== 'string' || !NAME.test(e.name)) throw bad(`name ${JSON.stringify(e.name)}`);
  if (e.init !== 'systemd' && e.init !== 'openrc') throw bad(`init ${JSON.stringify(e.init)}`);
  for (const kind of ARTIFACT_KINDS) {
    const a = e[kind] as { file?: unknown; size?: unknown; id?: unknown } | undefined;
    if (!a || typeof a.file !== 'string' || !PATH.test(a.file) || a.file.split('/').includes('..'))
      throw bad(`${kind}.file ${JSON.stringify(a?.file)}`);
    if (typeof a.id !== 'string' || !ID.test(a.id)) throw bad(`${kind}.id ${JSON.stringify(a.id)}`);
    if (typeof a.size !== 'number' || !Number.isSafeInteger(a.size) || a.size < 0) throw bad(`${kind}.size ${JSON.stringify(a.size)}`);
  }
  return e;
}
