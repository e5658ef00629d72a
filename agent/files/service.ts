// FilesService: file operations performed by a worker process that runs as the run-as user
// (agent/files/worker/main.ts), so the kernel enforces that user's permissions. Streams are
// flow-controlled end to end: a slow client pauses the worker's reads, a slow disk pauses
// the client's writes; the agent holds a bounded window per transfer.
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import type { ImplementationOf } from '../../proto/grpc.js';
import {
  FileInfoSchema,
  FileType,
  ListDirResponseSchema,
  MakeDirResponseSchema,
  ReadFileResponseSchema,
  RemoveResponseSchema,
  StatResponseSchema,
  WriteFileResponseSchema,
  type FileInfo,
  type FilesService,
  type ListDirRequest,
  type ReadFileRequest,
  type ReadFileResponse,
  type WriteFileRequest,
  type WriteFileStart,
  type WriteFileResponse,
} from '../../proto/gen/runbox/v1/files_pb.js';
import type { AgentContext } from '../core/context.js';
import { failCall, rpcError, toStatus } from '../server/errors.js';
import { FileWorker, parseJson, type WorkerOp } from './worker-client.js';
import { FROM_WORKER, TO_WORKER, type WorkerFailure, type WorkerFileInfo, type WorkerListPage } from './protocol.js';
import { failureToStatus } from './errors.js';
import { checkMode, checkPath } from './paths.js';
import { ownerName } from './owners.js';

/**
 * Concurrent ReadFile + WriteFile streams. Each holds a bounded window (READ_WINDOW_CHUNKS,
 * WRITE_WINDOW_BYTES), so this bounds what file transfers can make the agent hold in all.
 */
export const MAX_FILE_STREAMS = 32;

/** Read chunks (256 KiB each) the worker may send ahead of the client. */
const READ_WINDOW_CHUNKS = 4;
/** Bytes of a write the agent lets the client get ahead of the disk. */
const WRITE_WINDOW_BYTES = 2 << 20;

const TYPES: Record<WorkerFileInfo['type'], FileType> = {
  file: FileType.FILE,
  directory: FileType.DIRECTORY,
  symlink: FileType.SYMLINK,
  other: FileType.OTHER,
};

function toFileInfo(info: WorkerFileInfo): FileInfo {
  return create(FileInfoSchema, {
    path: info.path,
    name: info.name,
    type: TYPES[info.type],
    size: BigInt(info.size),
    mode: info.mode,
    modifiedMs: BigInt(info.mtimeMs),
    owner: ownerName(info.uid),
    symlinkTarget: info.target,
    // Set only for a name that is not UTF-8; `name` then holds its display form.
    ...(info.rawName === undefined ? {} : { rawName: Buffer.from(info.rawName, 'base64') }),
  });
}

const MAX_PAGE_SIZE = 10_000;

function pageArguments(request: ListDirRequest): { pageSize: number; after?: string } {
  if (request.pageSize > MAX_PAGE_SIZE)
    throw rpcError('FIELD_INVALID', `page_size ${request.pageSize} is over ${MAX_PAGE_SIZE}`, { field: 'page_size' });
  if (request.pageToken === '') return { pageSize: request.pageSize };
  if (!/^[A-Za-z0-9_-]+$/.test(request.pageToken) || request.pageToken.length > 2048) {
    throw rpcError('FIELD_INVALID', 'page_token is not a next_page_token this agent gave: pass it back unchanged', { field: 'page_token' });
  }
  // The token is the last name of the previous page as base64url of its bytes (the worker makes
  // it; names need not be UTF-8): opaque to clients, stable across changes to the directory.
  return { pageSize: request.pageSize, after: request.pageToken };
}

const isFailure = (error: unknown): error is WorkerFailure =>
  typeof error === 'object' && error !== null && 'code' in error && 'syscall' in error;

/** Runs a one-answer op and maps its errors; `path` has been checked already. */
async function unaryOp<T>(worker: FileWorker, operation: string, path: string, args: Record<string, unknown>): Promise<T> {
  try {
    return await worker.call<T>({ ...args, path });
  } catch (error) {
    throw isFailure(error) ? failureToStatus(operation, path, error) : error;
  }
}

function unary<Req, Res>(handler: (request: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toStatus(error)),
    );
  };
}

function readFile(worker: FileWorker, call: grpc.ServerWritableStream<ReadFileRequest, ReadFileResponse>): void {
  let path: string;
  try {
    path = checkPath('path', call.request.path);
  } catch (error) {
    failCall(call, error);
    return;
  }
  let owed = 0;
  let done = false;
  const end = (error?: unknown) => {
    if (done) return;
    done = true;
    op.close();
    if (error) failCall(call, error);
    else call.end();
  };
  const op: WorkerOp = worker.start(
    { op: 'read', path, credit: READ_WINDOW_CHUNKS },
    {
      frame: (kind, payload) => {
        if (kind === FROM_WORKER.ready) {
          call.write(create(ReadFileResponseSchema, { event: { case: 'info', value: toFileInfo(parseJson<WorkerFileInfo>(payload)) } }));
        } else if (kind === FROM_WORKER.data) {
          // Credit flows back only as fast as gRPC takes the data: memory stays bounded.
          if (call.write(create(ReadFileResponseSchema, { event: { case: 'data', value: payload } }))) op.credit(1);
          else owed++;
        } else if (kind === FROM_WORKER.eof) end();
        else if (kind === FROM_WORKER.fail) end(failureToStatus('read', path, parseJson<WorkerFailure>(payload)));
      },
      crashed: (failure) => end(failureToStatus('read', path, failure)),
    },
  );
  call.on('drain', () => {
    if (owed > 0 && !done) op.credit(owed);
    owed = 0;
  });
  call.on('cancelled', () => {
    if (done) return;
    done = true;
    op.abort();
  });
}

/** The first WriteFileRequest: it must be `start`. */
function startOf(request: WriteFileRequest): WriteFileStart {
  if (request.event.case === 'start') return request.event.value;
  throw rpcError(
    'MESSAGE_UNEXPECTED',
    `the first WriteFileRequest must be start (path, mode), got ${request.event.case ?? 'an empty event'}`,
    {
      field: 'start',
    },
  );
}

/** Every later WriteFileRequest: it must carry data. */
function dataOf(request: WriteFileRequest, path: string): Uint8Array {
  if (request.event.case === 'data') return request.event.value;
  throw rpcError(
    'MESSAGE_UNEXPECTED',
    `start.path ${JSON.stringify(path)}: only the first WriteFileRequest may be start; later ones carry data`,
    {
      field: 'start',
    },
  );
}

function writeFile(
  worker: FileWorker,
  call: grpc.ServerReadableStream<WriteFileRequest, WriteFileResponse>,
  callback: grpc.sendUnaryData<WriteFileResponse>,
): void {
  let op: WorkerOp | undefined;
  let path = '';
  let ready = false;
  let ended = false;
  let done = false;
  let inFlight = 0;

  const finish = (error: unknown, info?: WorkerFileInfo) => {
    if (done) return;
    done = true;
    op?.close();
    call.resume(); // drain anything the client still sends; it is dropped
    if (info) callback(null, create(WriteFileResponseSchema, { info: toFileInfo(info) }));
    else {
      if (op) op.send(TO_WORKER.abort);
      callback(toStatus(error));
    }
  };

  const start = (request: WriteFileRequest) => {
    const s = startOf(request);
    path = checkPath('start.path', s.path);
    checkMode('start.mode', s.mode);
    // Data waits until the worker has the file open, so a refused path fails before any upload.
    call.pause();
    op = worker.start(
      { op: 'write', path, mode: s.mode, createParents: s.createParents, noOverwrite: s.noOverwrite },
      {
        frame: (kind, payload) => {
          if (kind === FROM_WORKER.ready) {
            ready = true;
            if (ended) op!.send(TO_WORKER.end);
            else call.resume();
          } else if (kind === FROM_WORKER.ack) {
            inFlight -= payload.readUInt32BE(0);
            if (inFlight <= WRITE_WINDOW_BYTES / 2 && !ended) call.resume();
          } else if (kind === FROM_WORKER.ok) finish(null, parseJson<WorkerFileInfo>(payload));
          else if (kind === FROM_WORKER.fail) finish(failureToStatus('write', path, parseJson<WorkerFailure>(payload)));
        },
        crashed: (failure) => finish(failureToStatus('write', path, failure)),
      },
    );
  };

  call.on('data', (request: WriteFileRequest) => {
    if (done) return;
    try {
      if (!op) return start(request);
      const data = dataOf(request, path);
      if (data.length === 0) return;
      inFlight += data.length;
      op.send(TO_WORKER.data, data);
      if (inFlight > WRITE_WINDOW_BYTES) call.pause();
    } catch (error) {
      finish(error);
    }
  });
  call.on('end', () => {
    if (done) return;
    ended = true;
    if (!op)
      return finish(
        rpcError('MESSAGE_UNEXPECTED', 'WriteFile: the stream ended without a start message naming the path', { field: 'start' }),
      );
    if (ready) op.send(TO_WORKER.end);
  });
  call.on('cancelled', () => {
    if (done) return;
    done = true;
    op?.abort();
  });
}

/** Counts live transfer streams; a stream over the limit is refused before it touches the worker. */
function streamSlots(): { take(): (() => void) | undefined } {
  let live = 0;
  return {
    take() {
      if (live >= MAX_FILE_STREAMS) return undefined;
      live++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        live--;
      };
    },
  };
}

const tooManyStreams = () =>
  rpcError(
    'TOO_MANY_FILE_STREAMS',
    `the agent is already moving ${MAX_FILE_STREAMS} files (ReadFile/WriteFile streams at once); retry when one ends`,
    {
      limit: String(MAX_FILE_STREAMS),
    },
  );

export function filesService(ctx: AgentContext): ImplementationOf<typeof FilesService> {
  const worker = new FileWorker(ctx.runAs, ctx.config.fileTimeoutMs, { backend: ctx.limits, memoryBytes: ctx.config.defaults.memoryBytes });
  ctx.live.add(worker);
  const slots = streamSlots();
  return {
    readFile: (call) => {
      const release = slots.take();
      if (!release) return failCall(call, tooManyStreams());
      call.once('close', release);
      call.once('finish', release);
      call.once('cancelled', release);
      readFile(worker, call);
    },
    writeFile: (call, callback) => {
      const release = slots.take();
      if (!release) return callback(toStatus(tooManyStreams()));
      writeFile(worker, call, (error, value) => {
        release();
        callback(error, value);
      });
      call.once('cancelled', release);
    },
    listDir: unary(async (request) => {
      const path = checkPath('path', request.path);
      const page = await unaryOp<WorkerListPage>(worker, 'list', path, { op: 'list', ...pageArguments(request) });
      return create(ListDirResponseSchema, {
        entries: page.entries.map(toFileInfo),
        nextPageToken: page.next ?? '',
      });
    }),
    stat: unary(async (request) => {
      const path = checkPath('path', request.path);
      return create(StatResponseSchema, { info: toFileInfo(await unaryOp<WorkerFileInfo>(worker, 'stat', path, { op: 'stat' })) });
    }),
    remove: unary(async (request) => {
      const path = checkPath('path', request.path);
      await unaryOp(worker, 'remove', path, { op: 'remove', recursive: request.recursive });
      return create(RemoveResponseSchema);
    }),
    makeDir: unary(async (request) => {
      const path = checkPath('path', request.path);
      checkMode('mode', request.mode);
      const info = await unaryOp<WorkerFileInfo>(worker, 'mkdir', path, { op: 'mkdir', parents: request.parents, mode: request.mode });
      return create(MakeDirResponseSchema, { info: toFileInfo(info) });
    }),
  };
}
