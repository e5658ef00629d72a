// Reading a sandbox file as a stream: gRPC delivers only as fast as the reader takes.
import { Readable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { serverStreamCall } from '../../proto/grpc.js';
import { FilesService, ReadFileRequestSchema, type ReadFileResponse } from '../../proto/gen/runbox/v1/files_pb.js';
import { AbortError } from '../errors.js';
import { cancelCall, cancelOnAbort, throwIfAborted } from '../transport/calls.js';
import type { CallOptions, Connection } from '../transport/connection.js';
import { fromGrpcError } from '../transport/grpc-errors.js';
import { toFileInfo, type FileInfo } from './types.js';

/**
 * A file as a Node Readable of Buffers, streamed with backpressure. Errors (NotFoundError,
 * PermissionDeniedError, ...) arrive as the stream's 'error' (as for any Readable, listen
 * for it, or consume with pipeline / for await). `info` resolves with the file's details
 * before the first byte, or rejects with the same error.
 */
export function readStream(connection: Connection, path: string, options: CallOptions = {}): Readable & { info: Promise<FileInfo> } {
  const what = `read ${path}`;
  throwIfAborted(options.signal, what);
  const call = connection.track(
    serverStreamCall(connection.client, FilesService.method.readFile, create(ReadFileRequestSchema, { path }), connection.context()),
  );
  const detach = cancelOnAbort(options.signal, call);
  let settleInfo!: { resolve: (i: FileInfo) => void; reject: (e: Error) => void };
  const info = new Promise<FileInfo>((resolve, reject) => (settleInfo = { resolve, reject }));
  info.catch(() => undefined);
  const out = Object.assign(
    new Readable({
      // The reader wants more: let gRPC deliver again (it stops reading the socket while paused).
      read: () => call.resume(),
      destroy: (error, callback) => {
        detach();
        cancelCall(call);
        callback(error);
      },
    }),
    { info },
  );
  call.on('data', (response: ReadFileResponse) => {
    if (response.event.case === 'info') settleInfo.resolve(toFileInfo(response.event.value));
    else if (
      response.event.case === 'data' &&
      !out.push(Buffer.from(response.event.value.buffer, response.event.value.byteOffset, response.event.value.byteLength))
    ) {
      call.pause();
    }
  });
  call.on('end', () => {
    detach();
    out.push(null);
  });
  call.on('error', (error: grpc.ServiceError) => {
    detach();
    const mapped = options.signal?.aborted
      ? new AbortError(`${what}: aborted`, { cause: error, reason: 'ABORTED' })
      : fromGrpcError(error, what);
    settleInfo.reject(mapped);
    out.destroy(mapped);
  });
  return out;
}
