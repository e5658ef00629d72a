// Ending a run's whole process tree without cgroups: SIGKILL the process group, then find
// every process still carrying the run's marker variable in /proc/<pid>/environ (this
// catches `setsid` and double-fork escapees), stop them so they cannot fork any more, and
// kill them all once a scan finds nothing new. Best effort: a process that drops the marker
// escapes it; the cgroup backend (cgroup.kill) is the real guarantee.
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';

/** The environment variable every process of a run inherits; its value is the run's stage id. */
export const MARKER_VARIABLE = 'RUNBOX_RUN_ID';

/** Scans before giving up on a tree that keeps forking (each finds only new, running processes). */
const MAX_ROUNDS = 200;
/**
 * Bytes of a process's environment read per scan: bounds the cost of processes with huge
 * environments. A marker pushed past this by a deliberately huge environment is as good as
 * removed, which user code can always do.
 */
const ENVIRON_READ_BYTES = 64 << 10;
const QUIET_SCANS = 3;
const environBuffer = Buffer.alloc(ENVIRON_READ_BYTES);

function readEnviron(pid: string): Buffer {
  const fd = openSync(`/proc/${pid}/environ`, 'r');
  try {
    const n = readSync(fd, environBuffer, 0, ENVIRON_READ_BYTES, 0);
    return environBuffer.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

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
      const environ = readEnviron(entry);
      if (environ.includes(needle) || environ.subarray(0, first.length).equals(first)) found.push(pid);
    } catch {
      /* exited meanwhile, or not readable */
    }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    /* already gone */
  }
}

/**
 * SIGKILLs the group, then freezes every marked process (SIGSTOP: a stopped process cannot
 * fork, so a fork-and-exit hopper cannot outrun the scan) until a scan finds none it has not
 * stopped, then SIGKILLs them all.
 */
export function killTree(pgid: number | undefined, marker: string, uid: number): void {
  if (pgid !== undefined) signalGroup(pgid, 'SIGKILL');
  if (pgid !== undefined && lastPid() === pgid) return;
  stopThenKill(() => findMarked(marker, uid));
}

/**
 * The pid the kernel handed out last in our pid namespace (/proc/loadavg's fifth field).
 * When it is still the stage's main process, nothing was created after it: no process or
 * thread, so nothing of the run can be left (with the group already SIGKILLed, a fork still
 * under way is aborted) and the /proc scan is skipped. The one miss is a run that cycles
 * through the whole pid space to land a new process exactly on its main process's freed pid,
 * which is no easier an escape than dropping the marker variable.
 */
export function lastPid(): number | undefined {
  try {
    const last = Number(readFileSync('/proc/loadavg', 'latin1').split(' ')[4]);
    return Number.isInteger(last) ? last : undefined;
  } catch {
    return undefined;
  }
}

/** Pids (other than ours) owned by `uid`, whatever their environment says. */
export function findOwned(uid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const owner = statSync(`/proc/${entry}`).uid;
      // A non-dumpable process's /proc entry is root's, as is a setuid program's: its
      // real/effective/saved uids say whose it is.
      if (owner === uid || (owner === 0 && hasUid(entry, uid))) found.push(pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

function hasUid(pid: string, uid: number): boolean {
  const line = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return line !== null && line.slice(1).some((id) => Number(id) === uid);
}

/**
 * Ends every process of `uid`: with per-run isolation a uid is one run's or shell's alone, so
 * this is exact even for processes that dropped the marker (the `none` backend's blind spot).
 */
export function killUser(uid: number): void {
  stopThenKill(() => findOwned(uid));
}

function stopThenKill(find: () => number[]): void {
  const stopped = new Set<number>();
  // A process caught mid-execve has no readable environ for an instant: once a scan has found
  // something (a tree that keeps forking), only QUIET_SCANS empty scans in a row mean it is all
  // stopped. A first scan that finds nothing (the usual end of a run) is enough on its own, so
  // every run's end costs one /proc scan as before.
  for (let round = 0, quiet = 0; round < MAX_ROUNDS; round++) {
    const fresh = find().filter((pid) => !stopped.has(pid));
    quiet = fresh.length === 0 ? quiet + 1 : 0;
    if (quiet > 0 && (stopped.size === 0 || quiet >= QUIET_SCANS)) break;
    for (const pid of fresh) {
      signal(pid, 'SIGSTOP');
      stopped.add(pid);
    }
  }
  // Stopped processes cannot fork: killing what was stopped leaves nothing of the tree.
  for (const pid of stopped) signal(pid, 'SIGKILL');
}

/** Sends a signal to a run's process group (ProcessInput.signal). False when the group is gone. */
export function signalTree(pgid: number, signal: NodeJS.Signals): boolean {
  return signalGroup(pgid, signal);
}
