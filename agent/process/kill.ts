// Ending a run's whole process tree without cgroups: SIGKILL the process group, then find
// every process still carrying the run's marker variable in /proc/<pid>/environ (this
// catches `setsid` and double-fork escapees) and kill those, until none is left.
import { readdirSync, readFileSync, statSync } from 'node:fs';

/** The environment variable every process of a run inherits; its value is the run's stage id. */
export const MARKER_VARIABLE = 'RUNBOX_RUN_ID';

const MAX_ROUNDS = 20;

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

/**
 * Pids (other than ours) whose environment holds MARKER_VARIABLE=<marker>. Only processes
 * owned by `uid` are read: run processes never change uid, and this keeps the scan cheap.
 */
export function findMarked(marker: string, uid: number): number[] {
  const needle = Buffer.from(`\0${MARKER_VARIABLE}=${marker}\0`);
  const first = Buffer.from(`${MARKER_VARIABLE}=${marker}\0`);
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (statSync(`/proc/${entry}`).uid !== uid) continue;
      const environ = readFileSync(`/proc/${entry}/environ`);
      if (environ.includes(needle) || environ.subarray(0, first.length).equals(first)) found.push(pid);
    } catch {
      /* exited meanwhile, or not readable */
    }
  }
  return found;
}

/** SIGKILLs the group and every marked process until a scan finds nothing. */
export function killTree(pgid: number | undefined, marker: string, uid: number): void {
  if (pgid !== undefined) signalGroup(pgid, 'SIGKILL');
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const pids = findMarked(marker, uid);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** Sends a signal to a run's process group (ProcessInput.signal). False when the group is gone. */
export function signalTree(pgid: number, signal: NodeJS.Signals): boolean {
  return signalGroup(pgid, signal);
}
