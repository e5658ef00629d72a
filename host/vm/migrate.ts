// Saving and loading a VM's whole state (RAM, CPU, devices) with QEMU's migration to a file.
// QEMU 7.2 has no file: URI, so the stream goes through `exec:` — a /bin/sh command line QEMU
// builds — and the only value in it is a path runbox made, checked to hold no shell syntax.
import { stat } from 'node:fs/promises';
import { RunboxError, type ErrorCode } from '../errors.js';
import { qmpCommand } from './qmp.js';

/** Paths runbox itself makes under $RUNBOX_HOME: letters, digits and . _ - / only. */
const SAFE_PATH = /^\/[A-Za-z0-9._/-]+$/;

/** Saving or loading a VM's state failed (QEMU refused, died, or the disk filled); nothing half-made is kept. */
export class SnapshotError extends RunboxError {
  static override readonly code: ErrorCode = 'snapshot_failed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { reason: 'SNAPSHOT_FAILED', ...options });
  }
}

function shellSafe(file: string): string {
  if (!SAFE_PATH.test(file) || file.includes('..')) {
    throw new SnapshotError(
      `${JSON.stringify(file)}: a state file path may only hold letters, digits, ".", "_", "-" and "/" (set RUNBOX_HOME to such a path)`,
    );
  }
  return file;
}

/**
 * Every VM saves and loads with x-ignore-shared: RAM that is a shared file (a template's
 * boot) is left out of the stream, as the file holds it; anonymous or private RAM is saved in
 * full. Source and destination must agree on it (it changes the stream's format).
 */
async function ignoreShared(qmpSocket: string): Promise<void> {
  await qmpCommand(qmpSocket, 'migrate-set-capabilities', 3_000, { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
}

export interface SavedState {
  bytes: number;
  ms: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Loads `stateFile` into a QEMU started with `-incoming defer` and lets it run. A VM saved
 * while stopped (as runbox saves) stays paused after loading; `cont` starts it.
 * @throws SnapshotError when loading fails (QEMU exits, or reports the migration failed) or
 *   does not finish within `timeoutMs`.
 */
export async function startLoaded(
  qmpSocket: string,
  stateFile: string,
  exited: () => string | undefined,
  /** Called just before `cont`: from then on the guest may write to its disk. */
  running: () => void,
  timeoutMs = 120_000,
): Promise<number> {
  const uri = `exec:cat ${shellSafe(stateFile)}`;
  const started = Date.now();
  let last = '';
  // QMP answers a moment after QEMU starts; then the load is started over it.
  for (;;) {
    const ended = exited();
    if (ended !== undefined) throw new SnapshotError(`loading the saved state failed: QEMU ended (${ended})`);
    try {
      await qmpCommand(qmpSocket, 'query-status');
      break;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() - started > timeoutMs)
      throw new SnapshotError(`QEMU's QMP socket did not answer within ${timeoutMs} ms (last: ${last})`);
    await sleep(20);
  }
  try {
    await ignoreShared(qmpSocket);
    await qmpCommand(qmpSocket, 'migrate-incoming', 3_000, { uri });
  } catch (error) {
    throw new SnapshotError(`loading the saved state failed: ${(error as Error).message}`, { cause: error });
  }
  for (;;) {
    const ended = exited();
    if (ended !== undefined) throw new SnapshotError(`loading the saved state failed: QEMU ended (${ended})`);
    try {
      const status = ((await qmpCommand(qmpSocket, 'query-status')) as { status?: string }).status ?? '';
      last = status;
      if (status === 'running') {
        running();
        return Date.now() - started;
      }
      if (status === 'paused' || status === 'postmigrate') {
        const migration = (await qmpCommand(qmpSocket, 'query-migrate')) as { status?: string; 'error-desc'?: string };
        if (migration.status === 'failed')
          throw new SnapshotError(`loading the saved state failed: ${migration['error-desc'] ?? 'QEMU gave no reason'}`);
        running();
        await qmpCommand(qmpSocket, 'cont');
        return Date.now() - started;
      }
    } catch (error) {
      if (error instanceof SnapshotError) throw error;
      last = (error as Error).message; // the QMP socket is not there yet, or QEMU is busy loading
    }
    if (Date.now() - started > timeoutMs)
      throw new SnapshotError(`loading the saved state did not finish within ${timeoutMs} ms (last: ${last})`);
    await sleep(50);
  }
}

/**
 * Stops the VM (vCPUs halt; it stays stopped) and writes its state to `file`. The disks are
 * flushed by QEMU when the migration completes, so they match the saved memory from then on.
 * @throws SnapshotError when QEMU reports the migration failed (disk full, QEMU killed) or it
 *   does not finish within `timeoutMs`.
 */
export async function saveState(qmpSocket: string, file: string, timeoutMs = 120_000): Promise<SavedState> {
  const uri = `exec:cat > ${shellSafe(file)}`;
  const started = Date.now();
  try {
    await qmpCommand(qmpSocket, 'stop');
    await ignoreShared(qmpSocket);
    // The guest is stopped: no reason to throttle the copy (QEMU's default is 128 MiB/s).
    await qmpCommand(qmpSocket, 'migrate-set-parameters', 3_000, { 'max-bandwidth': 16 * 1024 ** 3 });
    await qmpCommand(qmpSocket, 'migrate', 3_000, { uri });
  } catch (error) {
    throw new SnapshotError(`saving the VM state to ${file} failed: ${(error as Error).message}`, { cause: error });
  }
  for (;;) {
    let info: { status?: string; 'error-desc'?: string };
    try {
      info = (await qmpCommand(qmpSocket, 'query-migrate')) as typeof info;
    } catch (error) {
      throw new SnapshotError(`saving the VM state to ${file}: QEMU stopped answering (${(error as Error).message})`, { cause: error });
    }
    if (info.status === 'completed') break;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new SnapshotError(`saving the VM state to ${file} ${info.status}: ${info['error-desc'] ?? 'QEMU gave no reason'}`);
    }
    if (Date.now() - started > timeoutMs) throw new SnapshotError(`saving the VM state to ${file} did not finish within ${timeoutMs} ms`);
    await sleep(50);
  }
  return { bytes: (await stat(file)).size, ms: Date.now() - started };
}
