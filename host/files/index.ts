// Host side of FilesService: `sb.files.read/write/list/stat/remove/makeDir`. Everything runs
// as the sandbox's user on the agent. Transfers stream in 256 KiB chunks with backpressure
// both ways, so a 1 GiB file never sits in memory unless you ask for it as one buffer.
import { create } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { Readable } from 'node:stream';
import { clientStreamCall, serverStreamCall } from '../../proto/grpc.js';
import {
  FileType,
  FilesService,
  ListDirRequestSchema,
  MakeDirRequestSchema,
  ReadFileRequestSchema,
  RemoveRequestSchema,
  StatRequestSchema,
  WriteFileRequestSchema,
  WriteFileStartSchema,
  type FileInfo as WireFileInfo,
  type ReadFileResponse,
  type WriteFileRequest,
} from '../../proto/gen/runbox/v1/files_pb.js';
import { cancelCall, cancelOnAbort, throwIfAborted, type CallOptions, type Connection } from '../transport/connection.js';
import { AbortError, AgentError, InvalidArgumentError } from '../errors.js';
import { fromGrpcError } from '../transport/grpc-errors.js';

/** Bytes per WriteFile message. */
const CHUNK_BYTES = 256 * 1024;

/** A file, directory or symlink in the sandbox. */
export interface FileInfo {
  path: string;
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  modified: Date;
  owner: string;
  /** Where a symlink points ('' otherwise). */
  symlinkTarget: string;
}

/** Options of `sb.files.write()`. */
export interface WriteOptions extends CallOptions {
  /** Permission bits of a new file (default 0o644); an existing file keeps its own. */
  mode?: number;
  /** Create missing parent directories (0o755). */
  createParents?: boolean;
  /** Fail with AlreadyExistsError instead of replacing an existing file. */
  noOverwrite?: boolean;
}

/** Options of `sb.files.remove()`. */
export interface RemoveOptions extends CallOptions {
  /** Remove a directory and everything in it. */
  recursive?: boolean;
}

/** Options of `sb.files.makeDir()`. */
export interface MakeDirOptions extends CallOptions {
  /** Create missing parents; an existing directory is then not an error. */
  parents?: boolean;
  /** Permission bits (default 0o755). */
  mode?: number;
}

const TYPES: Record<FileType, FileInfo['type']> = {
  [FileType.UNSPECIFIED]: 'other',
  [FileType.FILE]: 'file',
  [FileType.DIRECTORY]: 'directory',
  [FileType.SYMLINK]: 'symlink',
  [FileType.OTHER]: 'other',
};

function toFileInfo(info: WireFileInfo | undefined): FileInfo {
  if (!info) throw new AgentError('files: the agent answered without file information');
  return {
    path: info.path,
    name: info.name,
    type: TYPES[info.type] ?? 'other',
    size: Number(info.size),
    mode: info.mode,
    modified: new Date(Number(info.modifiedMs)),
    owner: info.owner,
    symlinkTarget: info.symlinkTarget,
  };
}

/** Splits `data` into message-sized views (no copies). */
function* chunks(data: Uint8Array): Generator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += CHUNK_BYTES) yield data.subarray(offset, offset + CHUNK_BYTES);
}

/**
 * Files in the sandbox (`sb.files`), read and written as the sandbox's user, so the guest's
 * permissions decide. Errors are typed: NotFoundError, PermissionDeniedError, AlreadyExistsError,
 * ResourceExhaustedError (disk full), InvalidArgumentError (bad path, wrong file type).
 */
export class FilesApi {
  constructor(readonly connection: Connection) {}

  /**
   * A file as a Node Readable of Buffers, streamed with backpressure. Errors (NotFoundError,
   * PermissionDeniedError, ...) arrive as the stream's 'error' (as for any Readable, listen
   * for it, or consume with pipeline / for await). `info` resolves with the file's details
   * before the first byte, or rejects with the same error.
   */
  readStream(path: string, options: CallOptions = {}): Readable & { info: Promise<FileInfo> } {
    const what = `read ${path}`;
    throwIfAborted(options.signal, what);
    const call = this.connection.track(serverStreamCall(this.connection.client, FilesService.method.readFile, create(ReadFileRequestSchema, { path }), this.connection.context()));
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
      else if (response.event.case === 'data' && !out.push(Buffer.from(response.event.value.buffer, response.event.value.byteOffset, response.event.value.byteLength))) {
        call.pause();
      }
    });
    call.on('end', () => {
      detach();
      out.push(null);
    });
    call.on('error', (error: grpc.ServiceError) => {
      detach();
      const mapped = options.signal?.aborted ? new AbortError(`${what}: aborted`, { cause: error }) : fromGrpcError(error, what);
      settleInfo.reject(mapped);
      out.destroy(mapped);
    });
    return out;
  }

  /** A whole file in memory. For large files prefer readStream. */
  async read(path: string, options: CallOptions = {}): Promise<Uint8Array> {
    const parts: Buffer[] = [];
    for await (const chunk of this.readStream(path, options)) parts.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(parts));
  }

  /** A whole file decoded as UTF-8. */
  async readText(path: string, options: CallOptions = {}): Promise<string> {
    return new TextDecoder().decode(await this.read(path, options));
  }

  /**
   * Writes a file from a string (UTF-8), bytes or a Node Readable (streamed with backpressure).
   * The file is complete when this resolves; a failed or aborted write can leave a partial file.
   */
  async write(path: string, data: string | Uint8Array | Readable, options: WriteOptions = {}): Promise<FileInfo> {
    const what = `write ${path}`;
    throwIfAborted(options.signal, what);
    if (options.mode !== undefined && (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o7777)) {
      throw new InvalidArgumentError(`${what}: mode ${options.mode}: must be permission bits 0-0o7777`);
    }
    const { call: untracked, response } = clientStreamCall(this.connection.client, FilesService.method.writeFile, this.connection.context());
    const call = this.connection.track(untracked);
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
      await send(create(WriteFileRequestSchema, {
        event: {
          case: 'start',
          value: create(WriteFileStartSchema, { path, mode: options.mode ?? 0, createParents: options.createParents ?? false, noOverwrite: options.noOverwrite ?? false }),
        },
      }));
      const source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
        typeof data === 'string' ? chunks(new TextEncoder().encode(data)) : data instanceof Uint8Array ? chunks(data) : (data as AsyncIterable<Uint8Array>);
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
      if (options.signal?.aborted) throw new AbortError(`${what}: aborted`, { cause: error });
      cancelCall(call);
      throw fromGrpcError(error, what);
    } finally {
      detach();
    }
  }

  /** The entries of a directory, sorted by name. */
  async list(path: string, options: CallOptions = {}): Promise<FileInfo[]> {
    const r = await this.connection.unary(FilesService.method.listDir, create(ListDirRequestSchema, { path }), `list ${path}`, options);
    return r.entries.map(toFileInfo);
  }

  /** Details of a path (a symlink is described, not followed). */
  async stat(path: string, options: CallOptions = {}): Promise<FileInfo> {
    const r = await this.connection.unary(FilesService.method.stat, create(StatRequestSchema, { path }), `stat ${path}`, options);
    return toFileInfo(r.info);
  }

  /** Removes a file, a symlink, an empty directory, or with `recursive` a whole tree. */
  async remove(path: string, options: RemoveOptions = {}): Promise<void> {
    await this.connection.unary(FilesService.method.remove, create(RemoveRequestSchema, { path, recursive: options.recursive ?? false }), `remove ${path}`, options);
  }

  /**
   * Creates a directory; `mode` (default 0o755) is applied exactly to the directory it creates.
   * With `parents`, missing parents are created too and an existing directory is not an error.
   */
  async makeDir(path: string, options: MakeDirOptions = {}): Promise<FileInfo> {
    const r = await this.connection.unary(
      FilesService.method.makeDir,
      create(MakeDirRequestSchema, { path, parents: options.parents ?? false, mode: options.mode ?? 0 }),
      `makeDir ${path}`,
      options,
    );
    return toFileInfo(r.info);
  }
}
