// Forking a running VM into n new ones that each go on from its state at that moment: its
// memory and devices are saved once (the parent stopped meanwhile), each child gets a disk of
// its own holding what the parent's disk had at that moment, and the parent runs on.
//
// A child's disk is the parent's overlay flattened onto the shared, never-written base it
// sits on (the template's disk): `qemu-img convert -B base`, which writes only the blocks
// the parent changed. So every VM's chain stays one private overlay over one shared base,
// however often it is forked or paused, and a child never depends on a file of its parent's.
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runboxHome } from '../image/paths.js';
import { runCommand, TOOL_TIMEOUT_MS } from '../local/command.js';
import { InvalidArgumentError } from '../errors.js';
import { saveState, SnapshotError } from './migrate.js';
import { qmpCommand } from './qmp.js';
import { freezeVmUserCode, thawVmUserCode } from './freeze.js';
import type { VmHandle } from './boot.js';
import type { RestoreSource } from './template.js';

/** Forks at once, at most. */
export const MAX_FORKS = 32;

async function backingOf(disk: string): Promise<string> {
  // -U: QEMU holds the image's lock; the guest is stopped and its disk flushed, so reading is safe.
  const info = JSON.parse(await runCommand(['qemu-img', 'info', '-U', '--output=json', disk], { timeoutMs: TOOL_TIMEOUT_MS })) as {
    'full-backing-filename'?: string;
  };
  const base = info['full-backing-filename'];
  if (!base) throw new SnapshotError(`${disk} has no backing file: only sandboxes restored from a snapshot can be forked`);
  return base;
}

/**
 * Saves `parent` (stopping it while it does), makes `n` restore sources for children (each
 * with a disk of its own), lets the parent run on, and hands every source to `start` at once
 * (`start` restores and claims). Rejects with the first failure once all have settled. The
 * saved state is removed once every child has loaded it.
 */
export async function forkVm(
  parent: Pick<VmHandle, 'id' | 'state'>,
  token: string,
  n: number,
  start: (source: RestoreSource, index: number) => Promise<void>,
): Promise<void> {
  if (!Number.isInteger(n) || n < 1 || n > MAX_FORKS)
    throw new InvalidArgumentError(`fork(${n}): n must be an integer from 1 to ${MAX_FORKS}`);
  const state = parent.state;
  if (!state.restoredFrom || !state.tokenDisk || !state.append) {
    throw new InvalidArgumentError(`VM ${parent.id}: only sandboxes restored from a snapshot (createSandbox, resumeSandbox) can be forked`);
  }
  const dir = join(runboxHome(), 'forks', `${parent.id}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stateFile = join(dir, 'mem.state');
  const disks: string[] = [];
  let frozen = false;
  try {
    try {
      // User code stops first: each child lets it go on only after its own Claim.
      frozen = (await freezeVmUserCode(state.target, token)).frozen;
      await saveState(state.qmpSocket, stateFile);
      const overlay = join(state.dir, 'root.qcow2');
      const base = await backingOf(overlay);
      for (let i = 0; i < n; i++) {
        const disk = join(dir, `child-${i}.qcow2`);
        await runCommand(['qemu-img', 'convert', '-U', '-O', 'qcow2', '-B', base, '-F', 'qcow2', overlay, disk], {
          timeoutMs: TOOL_TIMEOUT_MS,
        });
        disks.push(disk);
      }
    } finally {
      // The parent goes on whatever happened to the children (after a completed save, `cont`
      // hands the disk back to it).
      await qmpCommand(state.qmpSocket, 'cont').catch(() => undefined);
      if (frozen) await thawVmUserCode(state.target, token).catch(() => undefined); // else it thaws by itself (AUTO_THAW_MS)
    }
    // All children load at once (each QEMU reads the one state file); the first failure is
    // reported after every start has settled, so the caller can end the ones that came up.
    const started = await Promise.allSettled(
      disks.map((disk, i) =>
        start(
          {
            label: `fork of ${parent.id}`,
            image: state.image,
            stateFile,
            disk,
            diskUse: 'move',
            tokenDisk: state.tokenDisk!,
            append: state.append!,
            token,
          },
          i,
        ),
      ),
    );
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
