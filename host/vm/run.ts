// Small process helpers for the launcher: run a host tool to completion (argv only, never a shell).
import { execFile } from 'node:child_process';
import { RunboxError } from '../errors.js';

export class HostToolError extends RunboxError {}

/** Runs argv and returns stdout; a failure names the command and quotes its stderr. */
export function runTool(argv: string[], options: { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { timeout: options.timeoutMs ?? 30_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const why = (stderr || error.message).trim().split('\n').slice(-3).join(' / ');
      reject(new HostToolError(`${argv.join(' ')} failed: ${why}`, { cause: error }));
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command line, or undefined when it is gone: tells our QEMU from a reused pid. */
export async function commandLine(pid: number): Promise<string[] | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `pid` is gone; false when it is still there after timeoutMs. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}
