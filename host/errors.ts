// Typed errors of the SDK, the CLI, the image builder and the VM launcher. Each message says
// what to change. A program that fails is a result (RunResult.status), never one of these;
// these are for calls that could not be made. Every error has a `code` (runbox's own kind of
// failure) and a stable `reason` (UPPER_SNAKE, the agent's google.rpc.ErrorInfo reason when it
// came from the agent; see docs/errors.md), plus `metadata` naming the field or limit concerned.

/** runbox's own error kinds; one per error class, independent of the transport. */
export type ErrorCode =
  | 'runbox_error'
  | 'unavailable'
  | 'unauthenticated'
  | 'invalid_argument'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'timeout'
  | 'aborted'
  | 'not_found'
  | 'permission_denied'
  | 'already_exists'
  | 'agent_error'
  | 'build_failed'
  | 'command_failed'
  | 'vm_boot_failed'
  | 'snapshot_failed'
  | 'registry_failed';

export interface RunboxErrorOptions {
  cause?: unknown;
  /** Stable machine-readable reason; defaults to the code in upper case. */
  reason?: string;
  /** What the reason concerns, e.g. { field: 'language' } or { flag: '--max-concurrent', limit: '32' }. */
  metadata?: Record<string, string>;
}

/** Base class of every error runbox throws; `instanceof RunboxError` catches them all. */
export class RunboxError extends Error {
  static readonly code: ErrorCode = 'runbox_error';
  /** Which kind of failure this is (one per class). */
  readonly code: ErrorCode;
  /** Stable UPPER_SNAKE reason, e.g. 'TOO_MANY_RUNS', 'LANGUAGE_UNKNOWN', 'TARGET_INVALID'. */
  readonly reason: string;
  /** The field, flag or limit the reason concerns. */
  readonly metadata: Readonly<Record<string, string>>;

  constructor(message: string, options: RunboxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = (new.target as unknown as { code: ErrorCode }).code;
    this.reason = options.reason ?? this.code.toUpperCase();
    this.metadata = Object.freeze({ ...options.metadata });
  }
}

/** The agent could not be reached: wrong target, VM not up yet, or the connection dropped. */
export class SandboxUnavailableError extends RunboxError {
  static override readonly code: ErrorCode = 'unavailable';
}
/** The agent requires a token and none or a wrong one was sent: pass `{ token }` (CLI: --token-file). */
export class AuthenticationError extends RunboxError {
  static override readonly code: ErrorCode = 'unauthenticated';
}
/** A request field, option or flag was rejected; the message names it and the allowed values. */
export class InvalidArgumentError extends RunboxError {
  static override readonly code: ErrorCode = 'invalid_argument';
}
/** The request is well-formed but the sandbox's state refuses it (a directory where a file was expected, a directory not empty). */
export class FailedPreconditionError extends InvalidArgumentError {
  static override readonly code: ErrorCode = 'failed_precondition';
}
/** The agent is at a limit (e.g. --max-concurrent runs, disk full); retry later or raise the limit. */
export class ResourceExhaustedError extends RunboxError {
  static override readonly code: ErrorCode = 'resource_exhausted';
}
/** A timeout (`requestTimeoutMs`, `timeoutMs` of waitReady) fired before the agent answered. */
export class TimeoutError extends RunboxError {
  static override readonly code: ErrorCode = 'timeout';
}
/** The caller's AbortSignal fired, or the Sandbox was closed under the call. */
export class AbortError extends RunboxError {
  static override readonly code: ErrorCode = 'aborted';
}
/** The path, shell session, image or other named thing does not exist (or no longer does). */
export class NotFoundError extends RunboxError {
  static override readonly code: ErrorCode = 'not_found';
}
/** The sandbox's user may not do this (a file operation refused by the guest's permissions). */
export class PermissionDeniedError extends RunboxError {
  static override readonly code: ErrorCode = 'permission_denied';
}
/** The path exists already (`noOverwrite` writes, `makeDir` without `parents`). */
export class AlreadyExistsError extends RunboxError {
  static override readonly code: ErrorCode = 'already_exists';
}
/** The agent failed internally or answered something this SDK does not understand. */
export class AgentError extends RunboxError {
  static override readonly code: ErrorCode = 'agent_error';
}
