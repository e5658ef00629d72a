// Paused sandboxes: a running VM's memory, devices and disk saved under
// $RUNBOX_HOME/paused/<id>/ (0700) and QEMU ended, so it holds no RAM; resumed later by any
// process on this host as the same machine (same boot, processes where they were). A paused
// state is resumed once: the resume takes its disk and removes it.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { runboxHome } from '../image/paths.js';
import { saveState, SnapshotError } from './migrate.js';
import { qmpCommand } from './qmp.js';
import { freezeVmUserCode, thawVmUserCode } from './freeze.js';
import { isVmId } from './paths.js';
import type { VmHandle } from './boot.js';
import { sha256Of, type RestoreSource } from './template.js';
import type { VmState } from './state.js';

export function pausedDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(runboxHome(env), 'paused');
}

export interface PausedMeta {
  format: 1;
  id: string;
  image: string;
  /** The machine it must resume as (the same QEMU command line but for paths). */
  vm: Pick<VmState, 'init' | 'net' | 'machine' | 'accel' | 'cpus' | 'memoryMiB'>;
  append: string;
  /** The token the saved agent answers to (it is claimed with a new one on resume). */
  token: string;
  /** The token disk of the template it came from (a restore needs the same devices). */
  tokenDisk: string;
  state: { size: number; sha256: string };
  pausedAt: string;
}

/**
 * Saves `vm` (its user code frozen, then the VM stopped) under paused/<its id> and ends it.
 * Written in a temporary directory and renamed whole: if saving fails (QEMU killed, disk
 * full) nothing is kept and the VM is left running as it was, its user code thawed.
 */
export async function pauseVm(
  vm: Pick<VmHandle, 'id' | 'state' | 'stop'>,
  token: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const root = pausedDir(env);
  await mkdir(root, { recursive: true, mode: 0o700 });
  const temp = join(root, `.tmp-${vm.id}`);
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { mode: 0o700 });
  const state = vm.state;
  const tokenDisk = state.tokenDisk;
  if (!state.restoredFrom || !tokenDisk || dirname(tokenDisk) === state.dir) {
    await rm(temp, { recursive: true, force: true });
    throw new InvalidArgumentError(`VM ${vm.id}: only sandboxes restored from a snapshot (createSandbox, resumeSandbox) can be paused`);
  }
  let frozen = false;
  try {
    // User code stops first: the resumed copy lets it go on only after its Claim.
    frozen = (await freezeVmUserCode(state.target, token)).frozen;
    const saved = await saveState(state.qmpSocket, join(temp, 'mem.state'));
    await rename(join(state.dir, 'root.qcow2'), join(temp, 'root.qcow2'));
    const meta: PausedMeta = {
      format: 1,
      id: vm.id,
      image: state.image,
      vm: { init: state.init, net: state.net, machine: state.machine, accel: state.accel, cpus: state.cpus, memoryMiB: state.memoryMiB },
      append: state.append ?? '',
      token,
      tokenDisk,
      state: { size: saved.bytes, sha256: await sha256Of(join(temp, 'mem.state')) },
      pausedAt: new Date().toISOString(),
    };
    await writeFile(join(temp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n', { mode: 0o600 });
    await rename(temp, join(root, vm.id));
  } catch (error) {
    // The disk may already be out of the VM: put it back, and let the VM run on.
    await rename(join(temp, 'root.qcow2'), join(state.dir, 'root.qcow2')).catch(() => undefined);
    await rm(temp, { recursive: true, force: true });
    await qmpCommand(state.qmpSocket, 'cont').catch(() => undefined);
    if (frozen) await thawVmUserCode(state.target, token).catch(() => undefined);
    throw error;
  }
  await vm.stop();
  return vm.id;
}

/** The paused sandbox `id`, checked (size, sha256) and ready to resume. */
export async function readPaused(id: string, env: NodeJS.ProcessEnv = process.env): Promise<{ meta: PausedMeta; source: RestoreSource }> {
  if (!isVmId(id)) throw new NotFoundError(`paused sandbox ${JSON.stringify(id)}: not an id runbox makes (8 hex digits)`);
  const dir = join(pausedDir(env), id);
  let meta: PausedMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as PausedMeta;
  } catch {
    throw new NotFoundError(`paused sandbox ${id}: not found in ${pausedDir(env)} (already resumed, or never paused here)`);
  }
  const stateFile = join(dir, 'mem.state');
  const info = await stat(stateFile).catch(() => undefined);
  if (!info || info.size !== meta.state.size || (await sha256Of(stateFile)) !== meta.state.sha256) {
    throw new SnapshotError(
      `paused sandbox ${id}: its saved state is damaged (size or sha256 differ from what was saved); it cannot be resumed`,
    );
  }
  const source: RestoreSource = {
    label: `paused ${id}`,
    image: meta.image,
    stateFile,
    disk: join(dir, 'root.qcow2'),
    diskUse: 'move',
    tokenDisk: meta.tokenDisk,
    append: meta.append,
    token: meta.token,
  };
  return { meta, source };
}

/** Removes a paused sandbox's state once it has been resumed (its disk went with it). */
export async function removePaused(id: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await rm(join(pausedDir(env), id), { recursive: true, force: true });
}
