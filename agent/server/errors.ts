// A gRPC status as an exception: service modules throw it where the problem is found and
// the RPC handler turns it into the call's status, so every refusal carries a precise code.
import * as grpc from '@grpc/grpc-js';

export class StatusError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
  }
}

export const invalidArgument = (details: string) => new StatusError(grpc.status.INVALID_ARGUMENT, details);
export const notFound = (details: string) => new StatusError(grpc.status.NOT_FOUND, details);
export const failedPrecondition = (details: string) => new StatusError(grpc.status.FAILED_PRECONDITION, details);
export const resourceExhausted = (details: string) => new StatusError(grpc.status.RESOURCE_EXHAUSTED, details);

/** The grpc-js error object for any thrown value; unknown errors become INTERNAL with their message. */
export function toServiceError(error: unknown): Partial<grpc.StatusObject> & { code: grpc.status; details: string } {
  if (error instanceof StatusError) return { code: error.code, details: error.details };
  return { code: grpc.status.INTERNAL, details: `internal error: ${(error as Error)?.message ?? String(error)}` };
}
