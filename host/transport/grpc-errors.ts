// gRPC failures → the SDK's typed errors. The agent puts a google.rpc.Status with one
// google.rpc.ErrorInfo in the `grpc-status-details-bin` trailer of every error; its reason
// and metadata become the error's `reason` and `metadata`, the gRPC code picks the class.
import { fromBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { StatusSchema } from '../../proto/gen/google/rpc/status_pb.js';
import { ErrorInfoSchema } from '../../proto/gen/google/rpc/error_details_pb.js';
import {
  AbortError,
  AgentError,
  AlreadyExistsError,
  AuthenticationError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  RunboxError,
  SandboxUnavailableError,
  TimeoutError,
  type RunboxErrorOptions,
} from '../errors.js';

const DETAILS_KEY = 'grpc-status-details-bin';

function isServiceError(error: unknown): error is grpc.ServiceError {
  return typeof error === 'object' && error !== null && 'code' in error && 'details' in error;
}

/** The ErrorInfo the agent attached, if any (a status from elsewhere may carry none). */
export function errorInfoOf(error: grpc.ServiceError): { reason: string; metadata: Record<string, string> } | undefined {
  const raw = error.metadata?.get(DETAILS_KEY)[0];
  if (!(raw instanceof Buffer)) return undefined;
  try {
    const status = fromBinary(StatusSchema, raw);
    for (const detail of status.details) {
      const info = anyUnpack(detail, ErrorInfoSchema);
      if (info) return { reason: info.reason, metadata: { ...info.metadata } };
    }
  } catch {
    /* undecodable details: fall back to the code alone */
  }
  return undefined;
}

/** Maps a grpc-js error to the SDK's typed errors; `what` names the call for the message. */
export function fromGrpcError(error: unknown, what: string): RunboxError {
  if (error instanceof RunboxError) return error;
  if (!isServiceError(error)) return new AgentError(`${what}: ${String(error)}`, { cause: error, reason: 'AGENT_ANSWER_INVALID' });
  const details = error.details || error.message;
  const info = errorInfoOf(error);
  const options: RunboxErrorOptions = { cause: error, ...(info ?? {}) };
  switch (error.code) {
    case grpc.status.UNAVAILABLE:
      return new SandboxUnavailableError(
        `${what}: the agent is not reachable (${details}); check the target, or call waitReady() while the VM boots`,
        { reason: 'UNAVAILABLE', ...options },
      );
    case grpc.status.UNAUTHENTICATED:
      return new AuthenticationError(`${what}: ${details}`, options);
    case grpc.status.FAILED_PRECONDITION:
      return new FailedPreconditionError(`${what}: ${details}`, options);
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.OUT_OF_RANGE:
      return new InvalidArgumentError(`${what}: ${details}`, options);
    case grpc.status.RESOURCE_EXHAUSTED:
      return new ResourceExhaustedError(`${what}: ${details}`, options);
    case grpc.status.DEADLINE_EXCEEDED:
      return new TimeoutError(`${what}: the request timeout fired before the agent answered; raise requestTimeoutMs`, {
        reason: 'REQUEST_TIMEOUT',
        metadata: { option: 'requestTimeoutMs' },
        cause: error,
      });
    case grpc.status.CANCELLED:
      return new AbortError(`${what}: cancelled`, { reason: 'CANCELLED', ...options });
    case grpc.status.NOT_FOUND:
      return new NotFoundError(`${what}: ${details}`, options);
    case grpc.status.PERMISSION_DENIED:
      return new PermissionDeniedError(`${what}: ${details}`, options);
    case grpc.status.ALREADY_EXISTS:
      return new AlreadyExistsError(`${what}: ${details}`, options);
    default:
      return new AgentError(`${what}: ${details} (${grpc.status[error.code] ?? error.code})`, options);
  }
}
