// Every reason the agent can give for a failed RPC, with the gRPC code it travels under. The
// reason is the stable, machine-readable part (google.rpc.ErrorInfo.reason); the message is for
// people and may change. docs/errors.md lists the same table (a test keeps them in step).
import { status } from '@grpc/grpc-js';

interface ReasonSpec {
  code: status;
  /** When the agent gives it; metadata keys in [brackets]. */
  when: string;
}

export const REASONS = {
  // Requests of any service
  FIELD_INVALID: { code: status.INVALID_ARGUMENT, when: 'a field is malformed: NUL byte, empty, relative path, out of range [field]' },
  MESSAGE_UNEXPECTED: { code: status.INVALID_ARGUMENT, when: 'a stream message came out of order, or was empty [field]' },
  // Authentication
  TOKEN_MISSING: {
    code: status.UNAUTHENTICATED,
    when: 'the agent requires a token (--token-file, or since a Claim) and the call sent no authorization header',
  },
  TOKEN_MISMATCH: { code: status.UNAUTHENTICATED, when: "the bearer token is not the agent's" },
  // ProcessService
  LANGUAGE_UNKNOWN: { code: status.INVALID_ARGUMENT, when: 'RunCode names a language this agent has no toolchain for [field, language]' },
  SOURCE_TOO_LARGE: { code: status.INVALID_ARGUMENT, when: 'the source is over --max-source-bytes [field, flag, limit]' },
  ARGS_TOO_LARGE: {
    code: status.INVALID_ARGUMENT,
    when: "argv/args + env are over --max-source-bytes or the kernel's ARG_MAX [field, flag, limit]",
  },
  CWD_INVALID: { code: status.INVALID_ARGUMENT, when: 'cwd is not an absolute path to an existing directory [field]' },
  SIGNAL_UNKNOWN: { code: status.INVALID_ARGUMENT, when: 'a signal name outside the allowed list [field]' },
  STDIN_CLOSED: { code: status.INVALID_ARGUMENT, when: 'stdin sent after close_stdin, or without keep_stdin_open [field]' },
  TOO_MANY_RUNS: { code: status.RESOURCE_EXHAUSTED, when: 'the agent already runs --max-concurrent runs [flag, limit]' },
  RUN_UIDS_EXHAUSTED: { code: status.RESOURCE_EXHAUSTED, when: 'per-run isolation found no free uid in --run-uids [flag]' },
  // ShellService
  TERMINAL_SIZE_INVALID: { code: status.INVALID_ARGUMENT, when: 'cols or rows outside 1-2000 / 1-1000 [field]' },
  TOO_MANY_SHELLS: { code: status.RESOURCE_EXHAUSTED, when: '--max-shells sessions are open [flag, limit]' },
  SHELL_NOT_FOUND: { code: status.NOT_FOUND, when: 'attach to a session that exited or whose grace period ran out [session]' },
  SHELL_TAKEN_OVER: { code: status.ABORTED, when: 'another client attached to the session this stream held [session]' },
  SHELL_START_FAILED: { code: status.FAILED_PRECONDITION, when: 'the command could not be started on a pty [field]' },
  // ContextService
  CONTEXT_LANGUAGE_UNSUPPORTED: {
    code: status.INVALID_ARGUMENT,
    when: 'CreateContext names a language without a context driver (only python and javascript have one) [field, language]',
  },
  TOO_MANY_CONTEXTS: { code: status.RESOURCE_EXHAUSTED, when: '--max-contexts contexts are open [flag, limit]' },
  CONTEXT_NOT_FOUND: { code: status.NOT_FOUND, when: 'no such context, or it was closed (idle too long, CloseContext) [context]' },
  CONTEXT_BUSY: { code: status.FAILED_PRECONDITION, when: 'Execute while the context runs another cell [context]' },
  CONTEXT_DEAD: { code: status.FAILED_PRECONDITION, when: 'Execute on a context whose process ended; RestartContext revives it [context]' },
  CONTEXT_START_FAILED: {
    code: status.FAILED_PRECONDITION,
    when: "the context's interpreter could not start (e.g. no IPython in the image); the message has its words [language]",
  },
  // FilesService (errno in [errno], the path in [path])
  PATH_INVALID: { code: status.INVALID_ARGUMENT, when: 'a path that is empty, relative, holds NUL or is over 4096 bytes [field]' },
  MODE_INVALID: { code: status.INVALID_ARGUMENT, when: 'permission bits over 07777 [field]' },
  FILE_NOT_FOUND: { code: status.NOT_FOUND, when: 'ENOENT [path, errno]' },
  PERMISSION_DENIED: { code: status.PERMISSION_DENIED, when: 'EACCES, EPERM, EROFS: the run-as user may not [path, errno]' },
  FILE_EXISTS: { code: status.ALREADY_EXISTS, when: 'EEXIST: no_overwrite, or mkdir without parents [path, errno]' },
  DISK_FULL: { code: status.RESOURCE_EXHAUSTED, when: 'ENOSPC, EDQUOT [path, errno]' },
  FILE_TOO_LARGE: { code: status.RESOURCE_EXHAUSTED, when: 'EFBIG [path, errno]' },
  TOO_MANY_OPEN_FILES: { code: status.RESOURCE_EXHAUSTED, when: 'EMFILE [path, errno]' },
  DIRECTORY_TOO_LARGE: { code: status.RESOURCE_EXHAUSTED, when: 'more entries than ListDir returns [path, limit]' },
  NOT_A_DIRECTORY: { code: status.FAILED_PRECONDITION, when: 'ENOTDIR [path, errno]' },
  IS_A_DIRECTORY: { code: status.FAILED_PRECONDITION, when: 'EISDIR [path, errno]' },
  DIRECTORY_NOT_EMPTY: { code: status.FAILED_PRECONDITION, when: 'ENOTEMPTY: remove it with recursive [path, errno]' },
  NOT_A_REGULAR_FILE: { code: status.FAILED_PRECONDITION, when: 'a FIFO, socket or device where a file was expected [path]' },
  NO_SUCH_DEVICE: { code: status.FAILED_PRECONDITION, when: 'ENXIO [path, errno]' },
  SYMLINK_LOOP: { code: status.FAILED_PRECONDITION, when: 'ELOOP [path, errno]' },
  NAME_TOO_LONG: { code: status.INVALID_ARGUMENT, when: 'ENAMETOOLONG [path, errno]' },
  TOO_MANY_FILE_STREAMS: { code: status.RESOURCE_EXHAUSTED, when: 'more than 32 ReadFile/WriteFile streams at once [limit]' },
  FILE_WORKER_FAILED: { code: status.UNAVAILABLE, when: 'the file worker died under the operation; retry [path]' },
  FILE_ERROR: { code: status.INTERNAL, when: 'any other errno [path, errno]' },
  // LifecycleService
  CLAIM_FAILED: {
    code: status.INTERNAL,
    when: 'Claim could not write --claimed-token-file; the old token stays the only one accepted [flag, path]',
  },
  // grpc.health.v1.Health
  HEALTH_SERVICE_UNKNOWN: { code: status.NOT_FOUND, when: 'Check names a service this agent does not serve [service]' },
  // SystemService, and anything unexpected
  SYSINFO_FAILED: { code: status.INTERNAL, when: 'collecting system information failed' },
  INTERNAL: { code: status.INTERNAL, when: 'a bug in the agent; the message says what failed' },
} as const satisfies Record<string, ReasonSpec>;

export type Reason = keyof typeof REASONS;

/** The ErrorInfo domain of every runbox reason. */
export const REASON_DOMAIN = 'runbox.dev';
