import { RunboxError, type ErrorCode } from '../errors.js';

/** The VM did not get to a serving agent: QEMU exited first or readyTimeoutMs passed. */
export class VmBootError extends RunboxError {
  static override readonly code: ErrorCode = 'vm_boot_failed';
  /** Path of the kept console log ($TMPDIR/runbox-vm-<id>-console.log); the message quotes its last lines. */
  readonly consoleLog: string;
  constructor(message: string, consoleLog: string, options?: { cause?: unknown }) {
    super(message, { reason: 'VM_BOOT_FAILED', ...options });
    this.consoleLog = consoleLog;
  }
}
