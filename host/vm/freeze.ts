// Holding a running sandbox's user code still while its memory is saved (pause, fork), so no
// restored copy runs user code before its Claim (docs/lifecycle.md, "Restore hygiene").
import { freezeUserCode, thawUserCode, type FreezeResult } from '../lifecycle/index.js';
import { Connection } from '../transport/connection.js';
import { parseTarget } from '../transport/target.js';
import { SnapshotError } from './migrate.js';

/** Guest time after which a frozen agent lets user code go on by itself (a host that died mid-pause). */
const AUTO_THAW_MS = 120_000;

async function withAgent<T>(target: string, token: string, what: (connection: Connection) => Promise<T>): Promise<T> {
  // A connection of its own, closed before the memory is saved: the saved guest keeps no half-open call.
  const connection = await Connection.open(parseTarget(target), { token });
  try {
    return await what(connection);
  } finally {
    await connection.close();
  }
}

/**
 * Freezes user code in the sandbox at `target`; frozen is false (with why) on an agent without
 * cgroups. A failure (the agent unreachable, QEMU gone) is the snapshot's: SnapshotError.
 */
export async function freezeVmUserCode(target: string, token: string): Promise<FreezeResult> {
  try {
    return await withAgent(target, token, (connection) => freezeUserCode(connection, { autoThawMs: AUTO_THAW_MS }));
  } catch (error) {
    throw new SnapshotError(`freezing user code before the save failed, nothing was saved: ${(error as Error).message}`, { cause: error });
  }
}

/** Lets the sandbox's user code go on (the copy that runs on after a fork, or after a failed pause). */
export function thawVmUserCode(target: string, token: string): Promise<boolean> {
  return withAgent(target, token, (connection) => thawUserCode(connection));
}
