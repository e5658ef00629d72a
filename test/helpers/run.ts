// Helpers for the run/exec tests: the built CLI as a child process, /proc scans for
// processes that outlived their run, and polling without timing assertions.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from './agent.js';

/**
 * One compile cache (and so one Go build cache) for all test agents: a cold Go cache costs
 * ~15 s of compiling the standard library per agent. Compile-cache tests use unique sources,
 * so sharing cannot fake a hit. Pass it as `--cache-dir` (the last flag wins).
 */
export const SHARED_CACHE = path.join(os.tmpdir(), 'runbox-test-cache');

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the built CLI; `input` is written to its stdin (then closed); stdin is /dev/null otherwise. */
export function cli(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

export interface ProcEntry {
  pid: number;
  state: string;
  cmdline: string;
}

/**
 * Live processes (not zombies) whose command line contains `token`. Zombies have no command
 * line any more: a killed orphan waits as a zombie until PID 1 reaps it, and PID 1 of this
 * dev container does not reap; in a VM, systemd does.
 */
export function processesWith(token: string): ProcEntry[] {
  const found: ProcEntry[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (!cmdline.includes(token)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
      if (state !== 'Z') found.push({ pid: Number(entry), state, cmdline });
    } catch {
      /* exited meanwhile */
    }
  }
  return found;
}

/** Polls until `check` returns true; false when `limitMs` passed first. Not a timing assertion. */
export async function eventually(check: () => boolean, limitMs = 15_000): Promise<boolean> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** A token unique to one test, to find its processes in /proc. */
export function uniqueToken(): string {
  // A fractional sleep duration doubles as a unique, harmless command-line marker.
  return `7${Math.floor(Math.random() * 1e6)}.${Math.floor(Math.random() * 1e6)}`;
}
