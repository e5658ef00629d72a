// Test helpers for shell sessions: collect a handle's output and wait for a pattern in it.
import { readFileSync } from 'node:fs';
import type { ShellHandle } from '../../host/index.js';

export interface Screen {
  /** Everything received so far (raw bytes). */
  bytes(): Buffer;
  /** Everything received so far as text. */
  text(): string;
  /** Resolves once the output (from `from` on) matches; rejects after `timeoutMs` showing what came. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** The output length now: pass to waitFor's successor to only look at newer output. */
  mark(): number;
  waitForAfter(mark: number, pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

export function screen(handle: ShellHandle): Screen {
  const chunks: Buffer[] = [];
  let waiters: (() => void)[] = [];
  handle.onData((data) => {
    chunks.push(Buffer.from(data));
    const current = waiters;
    waiters = [];
    for (const w of current) w();
  });
  const bytes = () => Buffer.concat(chunks);
  const waitForAfter = (mark: number, pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${bytes().subarray(mark).toString('utf8')}`)),
        timeoutMs,
      );
      const check = () => {
        const match = bytes().subarray(mark).toString('utf8').match(pattern);
        if (match) {
          clearTimeout(timer);
          resolve(match);
        } else waiters.push(check);
      };
      check();
    });
  return {
    bytes,
    text: () => bytes().toString('utf8'),
    mark: () => bytes().length,
    waitFor: (pattern, timeoutMs) => waitForAfter(0, pattern, timeoutMs),
    waitForAfter,
  };
}

/** Polls `condition` until it holds (or gives up after `timeoutMs`, failing the test). */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Whether pid is a running process. A zombie counts as gone: it is dead, only not reaped
 * (on a host whose PID 1 does not reap orphans, killed jobs stay zombies).
 */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The command name of the foreground process group leader of the terminal `shellPid` controls. */
export function foregroundCommand(shellPid: number): string {
  try {
    const stat = readFileSync(`/proc/${shellPid}/stat`, 'utf8');
    const tpgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[5]);
    return readFileSync(`/proc/${tpgid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
