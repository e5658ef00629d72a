// Writing a sandbox file from bytes, text or a stream, with backpressure both ways.
import type { Readable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { clientStreamCall } from '../../proto/grpc.js';
import { FilesService, WriteFileRequestSchema, WriteFileStartSchema, type WriteFileRequest } from '../../proto/gen/runbox/v1/files_pb.js';
import { AbortError, InvalidArgumentError } from '../errors.js';
import { cancelCall, cancelOnAbort, throwIfAborted } from '../transport/calls.js';
import type { Connection } from '../transport/connection.js';
import { fromGrpcError } from '../transport/grpc-errors.js';
import { toFileInfo, type FileInfo, type WriteOptions } from './types.js';

/** Bytes per WriteFile message. */
const CHUNK_BYTES = 256 * 1024;

/** Splits `data` into message-sized views (no copies). */
function* chunks(data: Uint8Array): Generator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) yield data.subarray(offset, offset + CHUNK_BYTES);
}

/**
 * Writes a file from a string (UTF-8), bytes or a Node Readable (streamed with backpressure).
 * The file is complete when this resolves; a failed or aborted write can leave a partial file.
 */
export async function writeFile(
  connection: Connection,
  path: string,
  data: string | Uint8Array | Readable,
  options: WriteOptions = {},
): Promise<FileInfo> {
  const what = `write ${path}`;
  throwIfAborted(options.signal, what);
  if (options.mode !== undefined && (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o7777)) {
    throw new InvalidArgumentError(`${what}: mode ${options.mode}: must be permission bits 0-0o7777`, {
      reason: 'MODE_INVALID',
      metadata: { option: 'mode' },
    });
  }
  const { call: untracked, response } = clientStreamCall(connection.client, FilesService.method.writeFile, connection.context());
  const call = connection.track(untracked);
  const detach = cancelOnAbort(options.signal, call);
  // The agent may refuse at any point (permissions, disk full): stop sending when it answers.
  let answered = false;
  const answer = response.finally(() => (answered = true));
  answer.catch(() => undefined);
  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        call.off('drain', done);
        resolve();
      };
      call.on('drain', done);
      answer.then(done, done);
    });
  const send = async (request: WriteFileRequest) => {
    if (!call.write(request)) await drained();
  };
  try {
    await send(
      create(WriteFileRequestSchema, {
        event: {
          case: 'start',
          value: create(WriteFileStartSchema, {
            path,
            mode: options.mode ?? 0,
            createParents: options.createParents ?? false,
            noOverwrite: options.noOverwrite ?? false,
          }),
        },
      }),
    );
    const source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
      typeof data === 'string'
        ? chunks(new TextEncoder().encode(data))
        : data instanceof Uint8Array
          ? chunks(data)
          : (data as AsyncIterable<Uint8Array>);
    for await (const piece of source) {
      if (answered) break;
      const bytes = typeof piece === 'string' ? Buffer.from(piece) : piece;
      for (const chunk of chunks(bytes)) {
        if (answered) break;
        await send(create(WriteFileRequestSchema, { event: { case: 'data', value: chunk } }));
      }
    }
    if (!answered) call.end();
    return toFileInfo((await response).info);
  } catch (error) {
    if (options.signal?.aborted) throw new AbortError(`${what}: aborted`, { cause: error, reason: 'ABORTED' });
    cancelCall(call);
    throw fromGrpcError(error, what);
  } finally {
    detach();
  }
}
