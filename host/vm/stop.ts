// Stopping a local VM and removing everything it had: QEMU, the forwarder, the namespace (and its
// TAP), the overlay disk and the state directory.
//
// There is no guest shutdown. The root disk is a throwaway overlay and the token disk read-only,
// so nothing in the guest needs flushing for the image's sake; and the guest could not act on an
// ACPI power button anyway (Debian's cloud kernel has the button driver as a module that the
// initramfs does not load). QEMU is told `quit` over QMP, which ends it at once; SIGTERM and then
// SIGKILL (to its whole process group) follow if it does not go.
import { rm } from 'node:fs/promises';
import { commandLine, isAlive, killGroup, waitGone } from '../local/pids.js';
import { qmpCommand } from './qmp.js';
import { deleteNamespace } from './network.js';
import type { VmState } from './state.js';

export type StopMethod = 'qmp-quit' | 'sigterm' | 'sigkill' | 'already-exited';

/** True when `pid` is still the process we started for this VM (its argv names the VM's dir). */
async function ours(pid: number, dir: string): Promise<boolean> {
  const argv = await commandLine(pid);
  return argv !== undefined && argv.some((a) => a.includes(dir));
}

/** Ends QEMU: QMP `quit`, then SIGTERM and SIGKILL to its group if it lingers. */
export async function stopQemu(state: VmState): Promise<StopMethod> {
  if (!isAlive(state.pid) || !(await ours(state.pid, state.dir))) return 'already-exited';
  try {
    await qmpCommand(state.qmpSocket, 'quit');
  } catch {
    // QMP unreachable: fall through to signals
  }
  if (await waitGone(state.pid, 5_000)) return 'qmp-quit';
  killGroup(state.pid, 'SIGTERM');
  if (await waitGone(state.pid, 5_000)) return 'sigterm';
  killGroup(state.pid, 'SIGKILL');
  await waitGone(state.pid, 5_000);
  return 'sigkill';
}

/** Ends the socat forwarder; it forks a child per connection, and its process group holds them all. */
export async function stopForwarder(state: VmState): Promise<void> {
  if (state.forwarderPid === undefined || !isAlive(state.forwarderPid) || !(await ours(state.forwarderPid, state.dir))) return;
  killGroup(state.forwarderPid, 'SIGTERM');
  if (!(await waitGone(state.forwarderPid, 3_000))) killGroup(state.forwarderPid, 'SIGKILL');
}

/**
 * Stops a VM from its state (`runbox vm stop`, another process): QEMU, the forwarder, the
 * namespace and (unless `keepDir`) the VM directory, with the same steps bootVm's cleanup uses.
 */
export async function stopVm(state: VmState, options: { keepDir?: boolean } = {}): Promise<StopMethod> {
  const method = await stopQemu(state);
  await stopForwarder(state);
  if (state.netns) await deleteNamespace(state.netns);
  if (!options.keepDir) await rm(state.dir, { recursive: true, force: true });
  return method;
}
