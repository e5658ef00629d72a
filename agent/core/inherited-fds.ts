// File descriptors the agent inherited from whoever started it (a supervisor's pipe, a
// socket left open by a shell) would be inherited again by every run and shell: libuv does
// not close them in children. Node's own descriptors are close-on-exec; whatever above
// stderr is not, at start, came from outside and is closed before anything else opens. (Node 20
// already marks inherited fds up to 16 close-on-exec itself; higher ones reach this check.)
import { closeSync, readdirSync, readFileSync } from 'node:fs';

const O_CLOEXEC = 0o2000000;

/** Closes every fd > 2 without O_CLOEXEC; returns how many. Linux only (/proc); elsewhere 0. */
export function closeInheritedFds(): number {
  let entries: string[];
  try {
    entries = readdirSync('/proc/self/fd');
  } catch {
    return 0;
  }
  // An IPC channel Node itself was given (fork()) must stay.
  const keep = new Set([process.env.NODE_CHANNEL_FD].filter((v): v is string => v !== undefined));
  let closed = 0;
  for (const entry of entries) {
    const fd = Number(entry);
    if (!Number.isInteger(fd) || fd <= 2 || keep.has(entry)) continue;
    try {
      const flags = parseInt(/^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '', 8);
      if (Number.isNaN(flags) || flags & O_CLOEXEC) continue;
      closeSync(fd);
      closed++;
    } catch {
      // the directory's own fd, already gone by now
    }
  }
  return closed;
}
