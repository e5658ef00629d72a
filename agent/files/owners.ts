// uid → user name for FileInfo.owner, from /etc/passwd, re-read at most every few seconds.
import { readFileSync } from 'node:fs';

const TTL_MS = 5_000;
let cache: { at: number; names: Map<number, string> } | undefined;

export function ownerName(uid: number): string {
  if (uid < 0) return '';
  if (!cache || Date.now() - cache.at > TTL_MS) {
    const names = new Map<number, string>();
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id !== undefined) names.set(Number(id), name);
      }
    } catch {
      /* no passwd: numbers only */
    }
    cache = { at: Date.now(), names };
  }
  return cache.names.get(uid) ?? String(uid);
}
