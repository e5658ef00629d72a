// Typed errors of the SDK. Each message says what to change. A program that fails is a
// result (RunResult.status), never one of these; these are for calls that could not be made.
import * as grpc from '@grpc/grpc-js';

/** Base class of every error the SDK throws; `instanceof RunboxError` catches them all. */
export class RunboxError extends Error {
  /** The gRPC status code behind this error, when there was one. */
  readonly code: grpc.status | undefined;
  constructor(message: string, code?: grpc.status, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The agent could not be reached: wrong target, VM not up yet, or the connection dropped. */
export class SandboxUnavailableError extends RunboxError {}
/** The agent requires a token and none or a wrong one was sent: pass `{ token }` (CLI: --token-file). */
export class AuthenticationError extends RunboxError {}
/** A request field was rejected; the message names the field and the allowed values. */
export class InvalidArgumentError extends RunboxError {}
/** The agent is at a limit (e.g. --max-concurrent runs, disk full); retry later or raise the limit. */
export class ResourceExhaustedError extends RunboxError {}
/** The request timeout (`requestTimeoutMs` / `timeoutMs` of waitReady) fired before the agent answered. */
export class TimeoutError extends RunboxError {}
/** The caller's AbortSignal fired. */
export class AbortError extends RunboxError {}
/** The path, shell session or other named thing does not exist (or no longer: an expired shell session). */
export class NotFoundError extends RunboxError {}
/** The sandbox's user may not do this (a file operation refused by the guest's permissions). */
export class PermissionDeniedError extends RunboxError {}
/** The path exists already (`noOverwrite` writes, `makeDir` without `parents`). */
export class AlreadyExistsError extends RunboxError {}
/** The agent failed internally or answered something this SDK does not understand. */
export class AgentError extends RunboxError {}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return typeof error === 'object' && error !== null && 'code' in error && 'details' in error;
}

/** Maps a grpc-js error to the SDK's typed errors; `what` names the call for the message. */
export function fromGrpcError(error: unknown, what: string): RunboxError {
  if (error instanceof RunboxError) return error;
  if (!isServiceError(error)) return new AgentError(`${what}: ${String(error)}`, undefined, { cause: error });
  const details = error.details || error.message;
  const options = { cause: error };
  switch (error.code) {
    case grpc.status.UNAVAILABLE:
      return new SandboxUnavailableError(
        `${what}: the agent is not reachable (${details}); check the target, or call waitReady() while the VM boots`,
        error.code,
        options,
      );
    case grpc.status.UNAUTHENTICATED:
      return new AuthenticationError(`${what}: ${details}`, error.code, options);
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.OUT_OF_RANGE:
      return new InvalidArgumentError(`${what}: ${details}`, error.code, options);
    case grpc.status.RESOURCE_EXHAUSTED:
      return new ResourceExhaustedError(`${what}: ${details}`, error.code, options);
    case grpc.status.DEADLINE_EXCEEDED:
      return new TimeoutError(`${what}: the request timeout fired before the agent answered; raise requestTimeoutMs`, error.code, options);
    case grpc.status.CANCELLED:
      return new AbortError(`${what}: cancelled`, error.code, options);
    case grpc.status.NOT_FOUND:
      return new NotFoundError(`${what}: ${details}`, error.code, options);
    case grpc.status.PERMISSION_DENIED:
      return new PermissionDeniedError(`${what}: ${details}`, error.code, options);
    case grpc.status.ALREADY_EXISTS:
      return new AlreadyExistsError(`${what}: ${details}`, error.code, options);
    default:
      return new AgentError(`${what}: ${details} (${grpc.status[error.code] ?? error.code})`, error.code, options);
  }
}
