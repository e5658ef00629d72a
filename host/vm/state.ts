// state.json of a local VM: everything `runbox vm stop|ls` needs to find and clean up a VM that
// another runbox process started (e.g. `vm run --detach`).
import { readFile, readdir, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { vmsDir } from './paths.js';
import type { Accel, Machine } from './qemu.js';

export type NetMode = 'tap' | 'user';

export interface VmState {
  id: string;
  image: string;
  init: 'systemd' | 'openrc';
  dir: string;
  /** QEMU's pid (runs in its own process group). */
  pid: number;
  /** The socat forwarding agent.sock into the namespace (tap only). */
  forwarderPid?: number;
  net: NetMode;
  /** What the host dials: unix://<dir>/agent.sock (tap) or tcp://127.0.0.1:<port> (user). */
  target: string;
  /** The agent's address on the guest network: dial it from inside `netns` (tap only). */
  guestTarget: string;
  netns?: string;
  consoleLog: string;
  consoleSocket: string;
  qmpSocket: string;
  machine: Machine;
  accel: Accel;
  cpus: number;
  memoryMiB: number;
  tokenRequired: boolean;
  startedAt: string;
  /** Seconds from QEMU's start to the first Health answer. */
  bootToReadySeconds?: number;
  /** The kernel command line it booted with (a template records it for its restores). */
  append?: string;
  /** What it was restored from ("template <key>", "paused <id>"); absent for a cold boot. */
  restoredFrom?: string;
  /** The token disk it runs with (its own, or the template's it was restored from). */
  tokenDisk?: string;
  /** A restored guest has run (after `cont`): its disk no longer matches the saved state. */
  guestRan?: boolean;
}

export const STATE_FILE = 'state.json';

/** Where a claimed sandbox's token is kept (0600, in the VM's 0700 directory; gone with it). */
export function sandboxTokenFile(state: Pick<VmState, 'dir'>): string {
  return join(state.dir, 'sandbox-token');
}

export async function writeState(state: VmState): Promise<void> {
  const file = join(state.dir, STATE_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

export async function readState(dir: string): Promise<VmState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as VmState;
  } catch {
    return undefined;
  }
}

/** Every VM directory with a state file, oldest first. */
export async function listStates(env: NodeJS.ProcessEnv = process.env): Promise<VmState[]> {
  const root = vmsDir(env);
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const states = (await Promise.all(names.map((n) => readState(join(root, n))))).filter((s): s is VmState => s !== undefined);
  return states.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
