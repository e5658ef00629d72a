// Finding and ending the processes of a pty session through /proc. The shell is a session
// leader (node-pty calls setsid), and job control moves each job into its own process group,
// so "everything the user started" is the session, not the shell's process group.
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  pid: number;
  pgrp: number;
  session: number;
  /** Foreground process group of the controlling terminal, -1 when none. */
  tpgid: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: the fixed fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, pgrp: Number(fields[2]), session: Number(fields[3]), tpgid: Number(fields[5]) };
}

/** The foreground process group of the terminal `leaderPid` controls, or its own group. */
export function foregroundGroup(leaderPid: number): number {
  const stat = readStat(leaderPid);
  return stat && stat.tpgid > 0 ? stat.tpgid : leaderPid;
}

/** Pids of every live process in session `sid`. */
export function sessionMembers(sid: number): number[] {
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    if (readStat(pid)?.session === sid) members.push(pid);
  }
  return members;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Hangs up session `sid` like a closed terminal would: SIGHUP (+ SIGCONT so stopped jobs see
 * it), then SIGKILL whatever is still there after `killAfterMs`. Returns a function that
 * kills the survivors right away (used when the agent is about to exit).
 */
export function hangUpSession(sid: number, killAfterMs: number): () => void {
  const members = sessionMembers(sid);
  if (members.length === 0) return () => {};
  signalAll(members, 'SIGHUP');
  signalAll(members, 'SIGCONT');
  let done = false;
  const killRest = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    process.off('exit', killRest);
    signalAll(sessionMembers(sid), 'SIGKILL');
  };
  const timer = setTimeout(killRest, killAfterMs);
  // If the agent exits before the timer fires, no survivor may outlive it.
  process.once('exit', killRest);
  return killRest;
}
