// Every local sandbox this host has: running VMs (booted, restored, resumed, forked), paused
// ones on disk, and the leftovers of a runbox process that died without stopping its VMs
// (QEMU gone, its directory still there), which are shown as dead and cleaned up.
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAlive } from '../local/pids.js';
import { listStates, type VmState } from './state.js';
import { pausedDir, type PausedMeta } from './pause.js';
import { stopVm } from './stop.js';

export interface SandboxInfo {
  id: string;
  status: 'running' | 'paused' | 'dead';
  image: string;
  init: VmState['init'];
  /** When it was started (running, dead) or paused. */
  since: string;
  ageSeconds: number;
  memoryMiB: number;
  /** QEMU's resident memory (running only). */
  rssMiB?: number;
  /** What to dial (running only). */
  target?: string;
  /** "template <key>", "paused <id>", "fork of <id>"; absent for a cold boot. */
  restoredFrom?: string;
}

/** QEMU's resident set in MiB, from /proc (one small read per VM). */
function rssMiB(pid: number): number | undefined {
  try {
    const kib = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Math.round(Number(kib) / 1024);
  } catch {
    return undefined;
  }
}

const age = (since: string) => Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));

/**
 * Running, paused and dead sandboxes, oldest first. With `clean` (the default) a dead one's
 * directory, namespace and forwarder are removed once it has been listed.
 */
export async function listSandboxes(options: { clean?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<SandboxInfo[]> {
  const env = options.env ?? process.env;
  const found: SandboxInfo[] = [];
  for (const state of await listStates(env)) {
    const running = state.pid > 0 && isAlive(state.pid);
    found.push({
      id: state.id,
      status: running ? 'running' : 'dead',
      image: state.image,
      init: state.init,
      since: state.startedAt,
      ageSeconds: age(state.startedAt),
      memoryMiB: state.memoryMiB,
      ...(running ? { rssMiB: rssMiB(state.pid), target: state.target } : {}),
      ...(state.restoredFrom ? { restoredFrom: state.restoredFrom } : {}),
    });
    if (!running && options.clean !== false) await stopVm(state);
  }
  let names: string[] = [];
  try {
    names = await readdir(pausedDir(env));
  } catch {
    /* nothing paused yet */
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    try {
      const meta = JSON.parse(await readFile(join(pausedDir(env), name, 'meta.json'), 'utf8')) as PausedMeta;
      found.push({
        id: meta.id,
        status: 'paused',
        image: meta.image,
        init: meta.vm.init,
        since: meta.pausedAt,
        ageSeconds: age(meta.pausedAt),
        memoryMiB: meta.vm.memoryMiB,
      });
    } catch {
      /* a paused directory without its meta: being written, or not ours */
    }
  }
  return found.sort((a, b) => a.since.localeCompare(b.since));
}
