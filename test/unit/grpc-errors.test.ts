// gRPC failures → typed SDK errors, fed with exactly what the agent sends: the status that
// agent/server/errors.ts builds (code, message, google.rpc.Status + ErrorInfo trailer).
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { rpcError, toStatus } from '../../agent/server/errors.js';
import { REASONS, type Reason } from '../../agent/server/reasons.js';
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
} from '../../host/errors.js';
import { errorInfoOf, fromGrpcError } from '../../host/transport/grpc-errors.js';

/** A grpc-js client error as the call would report the agent's status. */
function serviceError(status: grpc.StatusObject): grpc.ServiceError {
  return Object.assign(new Error(`${status.code} ${grpc.status[status.code]}: ${status.details}`), status);
}

const BY_CODE: [grpc.status, typeof RunboxError][] = [
  [grpc.status.INVALID_ARGUMENT, InvalidArgumentError],
  [grpc.status.OUT_OF_RANGE, InvalidArgumentError],
  [grpc.status.FAILED_PRECONDITION, FailedPreconditionError],
  [grpc.status.UNAUTHENTICATED, AuthenticationError],
  [grpc.status.RESOURCE_EXHAUSTED, ResourceExhaustedError],
  [grpc.status.NOT_FOUND, NotFoundError],
  [grpc.status.PERMISSION_DENIED, PermissionDeniedError],
  [grpc.status.ALREADY_EXISTS, AlreadyExistsError],
  [grpc.status.UNAVAILABLE, SandboxUnavailableError],
  [grpc.status.DEADLINE_EXCEEDED, TimeoutError],
  [grpc.status.CANCELLED, AbortError],
  [grpc.status.INTERNAL, AgentError],
  [grpc.status.ABORTED, AgentError],
  [grpc.status.UNKNOWN, AgentError],
];

describe('fromGrpcError', () => {
  it.each(Object.keys(REASONS) as Reason[])('%s round-trips: class by code, reason and metadata from ErrorInfo', (reason) => {
    const error = fromGrpcError(serviceError(toStatus(rpcError(reason, `because ${reason}`, { field: 'x' }))), 'call');
    const expected = BY_CODE.find(([code]) => code === REASONS[reason].code)![1];
    expect(error).toBeInstanceOf(expected);
    expect(error.code).toBe(expected.code);
    if (expected !== TimeoutError) {
      expect(error.reason).toBe(reason);
      expect(error.metadata).toEqual({ field: 'x' });
    }
    expect(error.message).toMatch(/^call: /);
  });

  it.each(BY_CODE)('code %i without details → %o with a default reason', (code, type) => {
    const error = fromGrpcError(serviceError({ code, details: 'plain', metadata: new grpc.Metadata() }), 'call');
    expect(error).toBeInstanceOf(type);
    expect(error.reason).toMatch(/^[A-Z_]+$/);
    expect(error.metadata).toEqual(type === TimeoutError ? { option: 'requestTimeoutMs' } : {});
  });

  it.each([
    ['garbage bytes', Buffer.from([0xff, 0x01, 0x02])],
    ['an empty Status', Buffer.alloc(0)],
  ])('undecodable details (%s) fall back to the code alone', (_name, bytes) => {
    const metadata = new grpc.Metadata();
    metadata.set('grpc-status-details-bin', bytes);
    const error = serviceError({ code: grpc.status.NOT_FOUND, details: 'x', metadata });
    expect(errorInfoOf(error)).toBeUndefined();
    expect(fromGrpcError(error, 'call')).toBeInstanceOf(NotFoundError);
  });

  it.each([
    ['a string', 'boom'],
    ['a plain Error', new Error('boom')],
    ['undefined', undefined],
  ])('%s that is not a gRPC error is an AgentError', (_name, thrown) => {
    const error = fromGrpcError(thrown, 'call');
    expect(error).toBeInstanceOf(AgentError);
    expect(error.reason).toBe('AGENT_ANSWER_INVALID');
  });

  it('a RunboxError passes through unchanged', () => {
    const original = new InvalidArgumentError('mine', { reason: 'MINE' });
    expect(fromGrpcError(original, 'call')).toBe(original);
  });

  it('the agent caps long messages and metadata values', () => {
    const status = toStatus(rpcError('LANGUAGE_UNKNOWN', 'x'.repeat(100_000), { language: 'y'.repeat(10_000) }));
    expect(status.details.length).toBeLessThan(2200);
    const info = errorInfoOf(serviceError(status))!;
    expect(info.metadata.language!.length).toBeLessThan(300);
  });
});
