// The steps of bootVm that deal with running processes: QEMU, the socat forwarder, the
// wait for the agent, and the console log kept when a boot fails.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sandbox } from '../sandbox.js';
import { waitForFirstBytes } from '../transport/first-bytes.js';
import { parseTarget } from '../transport/target.js';
import type { Health } from '../system/index.js';
import { AbortError, SandboxUnavailableError } from '../errors.js';
import { spawnDaemon } from '../local/command.js';
import { sleep } from '../local/pids.js';
import { TAP_NET } from './bootargs.js';
import { inNamespace } from './network.js';
import { AGENT_PORT } from './boot-plan.js';
import type { VmState } from './state.js';
import { VmBootError } from './boot-error.js';

export interface RunningQemu {
  process: ChildProcess;
  /** Resolves when QEMU exits (whoever ended it). */
  exited: Promise<void>;
  /** How it ended, once it has: "exit code 1", "signal SIGKILL", a spawn error. */
  exitReason(): string | undefined;
}

export function startQemu(state: VmState, argv: string[], logFile: string): RunningQemu {
  const child = spawnDaemon(state.netns ? inNamespace(state.netns, argv) : argv, logFile);
  state.pid = child.pid!;
  let reason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      reason = signal ? `signal ${signal}` : `exit code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      reason = error.message;
      resolve();
    });
  });
  return { process: child, exited, exitReason: () => reason };
}

/** VMs this process must end if it exits first: one 'exit' listener for all of them, however many. */
const endOnExit = new Set<VmState>();

function endAll(): void {
  for (const state of endOnExit) {
    for (const pid of [state.pid, state.forwarderPid]) {
      if (pid)
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
    }
    if (state.netns)
      try {
        execFileSync('ip', ['netns', 'del', state.netns], { stdio: 'ignore' });
      } catch {
        /* gone */
      }
  }
}

/**
 * If this process dies without stop(), QEMU and the namespace must not outlive it. Synchronous:
 * 'exit' allows nothing else. Returns the function that removes the hook.
 */
export function killOnExit(state: VmState): () => void {
  if (endOnExit.size === 0) process.once('exit', endAll);
  endOnExit.add(state);
  return () => {
    endOnExit.delete(state);
    if (endOnExit.size === 0) process.removeListener('exit', endAll);
  };
}

export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitForFile(path: string, timeoutMs: number, alive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (!alive() || Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** The host cannot enter the namespace: socat inside it forwards a Unix socket to the guest's agent. */
export async function startForwarder(state: VmState, socketPath: string): Promise<ChildProcess> {
  const log = join(state.dir, 'forwarder.log');
  const forwarder = spawnDaemon(
    inNamespace(state.netns!, ['socat', `UNIX-LISTEN:${socketPath},fork,mode=600`, `TCP:${TAP_NET.guestIp}:${AGENT_PORT}`]),
    log,
  );
  state.forwarderPid = forwarder.pid!;
  let gone = false;
  forwarder.once('exit', () => (gone = true));
  if (!(await waitForFile(socketPath, 10_000, () => !gone))) {
    throw new SandboxUnavailableError(`forwarder (socat) did not create ${socketPath}: ${tail(log, 5)}`);
  }
  return forwarder;
}

/** A failed boot's directory is removed: keep its console log where the error message says. */
async function keepConsoleLog(id: string, consoleLog: string): Promise<string> {
  const kept = join(tmpdir(), `runbox-vm-${id}-console.log`);
  try {
    await copyFile(consoleLog, kept);
    return kept;
  } catch {
    return consoleLog;
  }
}

export interface WaitOptions {
  token?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  qemuLog: string;
}

/** Waits for Health (and, with a token, one authenticated call); a failure quotes QEMU's and the console's last lines. */
export async function waitForAgent(state: VmState, qemu: RunningQemu, options: WaitOptions): Promise<Health> {
  const sandbox = await Sandbox.connect(state.target, { token: options.token });
  const ready = new AbortController();
  const onAbort = () => ready.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  void qemu.exited.then(() => ready.abort());
  try {
    // Below gRPC first: a connection made before the guest has its address can hang for
    // seconds under user-mode networking (host/transport/first-bytes.ts).
    await waitForFirstBytes(parseTarget(state.target), { deadline: Date.now() + options.timeoutMs, signal: ready.signal });
    return await sandbox.waitReady({ timeoutMs: options.timeoutMs, signal: ready.signal });
  } catch (error) {
    if (options.signal?.aborted) throw new AbortError('bootVm: aborted while waiting for the agent', { cause: error });
    const kept = await keepConsoleLog(state.id, state.consoleLog);
    const ended = qemu.exitReason();
    if (ended !== undefined) {
      throw new VmBootError(
        `VM ${state.id}: QEMU ended before the agent answered (${ended}).\nqemu: ${tail(options.qemuLog, 5)}\nconsole (${kept}):\n${tail(kept, 15)}`,
        kept,
        { cause: error },
      );
    }
    throw new VmBootError(`VM ${state.id}: ${(error as Error).message}\nconsole (${kept}):\n${tail(kept, 15)}`, kept, { cause: error });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await sandbox.close();
  }
}
