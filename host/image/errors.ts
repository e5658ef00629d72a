// The image builder's own error, in a module of its own so that every step (build.ts, kernel.ts)
// can throw it without importing the builder.
import { RunboxError, type ErrorCode } from '../errors.js';

/**
 * An image build, or one of its steps (the kernel, the vmlinux, the initramfs), failed. With a
 * build log, the message ends with its path; a step called on its own has none.
 */
export class BuildError extends RunboxError {
  static override readonly code: ErrorCode = 'build_failed';
  constructor(
    message: string,
    readonly logFile?: string,
    options: { cause?: unknown; metadata?: Record<string, string> } = {},
  ) {
    super(logFile === undefined ? message : `${message}\n(full build log: ${logFile})`, { reason: 'BUILD_FAILED', ...options });
  }
}
