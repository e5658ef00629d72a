// The agent's one way to fail an RPC. Code anywhere throws `rpcError(reason, message, metadata)`
// where it finds the problem; the service hands it to `failCall` / a unary callback through
// `toStatus`, which sends the gRPC code of the reason, the human message, and a
// google.rpc.Status holding a google.rpc.ErrorInfo (reason, domain, metadata) in the
// `grpc-status-details-bin` trailer, so any language's client can branch on the reason.
import { create, toBinary } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { ErrorInfoSchema } from '../../proto/gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../proto/gen/google/rpc/status_pb.js';
import { REASONS, REASON_DOMAIN, type Reason } from './reasons.js';

export type { Reason } from './reasons.js';

/** Messages echo client input (paths, names): bounded, so an 8 MiB field makes no 8 MiB status. */
const MAX_MESSAGE_CHARS = 2048;
const MAX_METADATA_CHARS = 256;

const cap = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`);

/** A refused or failed RPC: its reason (which fixes the gRPC code), message and metadata. */
export class RpcError extends Error {
  readonly code: grpc.status;

  constructor(
    readonly reason: Reason,
    message: string,
    readonly metadata: Readonly<Record<string, string>> = {},
  ) {
    super(cap(message, MAX_MESSAGE_CHARS));
    this.code = REASONS[reason].code;
  }
}

export function rpcError(reason: Reason, message: string, metadata: Record<string, string> = {}): RpcError {
  return new RpcError(reason, message, metadata);
}

/** Any thrown value as an RpcError: unknown errors are INTERNAL with their message. */
export function asRpcError(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new RpcError('INTERNAL', `internal error: ${message}`);
}

/** The trailer value: google.rpc.Status { code, message, details: [ErrorInfo] }. */
function statusDetails(error: RpcError): Buffer {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(error.metadata)) metadata[key] = cap(value, MAX_METADATA_CHARS);
  const info = create(ErrorInfoSchema, { reason: error.reason, domain: REASON_DOMAIN, metadata });
  const status = create(StatusSchema, { code: error.code, message: error.message, details: [anyPack(ErrorInfoSchema, info)] });
  return Buffer.from(toBinary(StatusSchema, status));
}

/** What grpc-js sends for an error: code, details (the message) and trailers with the details. */
export function toStatus(error: unknown): grpc.StatusObject {
  const rpc = asRpcError(error);
  const metadata = new grpc.Metadata();
  metadata.set('grpc-status-details-bin', statusDetails(rpc));
  return { code: rpc.code, details: rpc.message, metadata };
}

/** Ends a streaming call with the error's status. */
export function failCall(call: { emit(event: 'error', error: grpc.StatusObject): unknown }, error: unknown): void {
  call.emit('error', toStatus(error));
}
