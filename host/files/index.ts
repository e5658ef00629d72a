// Host side of FilesService: `sb.files.read/write/list/stat/remove/makeDir`. Everything runs
// as the sandbox's user on the agent. Transfers stream in 256 KiB chunks with backpressure
// both ways, so a 1 GiB file never sits in memory unless you ask for it as one buffer.
import type { Readable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import {
  FilesService,
  ListDirRequestSchema,
  MakeDirRequestSchema,
  RemoveRequestSchema,
  StatRequestSchema,
} from '../../proto/gen/runbox/v1/files_pb.js';
import type { CallOptions, Connection } from '../transport/connection.js';
import { readStream } from './read.js';
import {
  DEFAULT_READ_MAX_BYTES,
  toFileInfo,
  type FileInfo,
  type MakeDirOptions,
  type ReadOptions,
  type RemoveOptions,
  type WriteOptions,
} from './types.js';
import { ResourceExhaustedError } from '../errors.js';
import { nonNegativeOption } from '../transport/options.js';

import { writeFile } from './write.js';

export type * from './types.js';

/**
 * Files in the sandbox (`sb.files`), read and written as the sandbox's user, so the guest's
 * permissions decide. Errors are typed: NotFoundError, PermissionDeniedError, AlreadyExistsError,
 * ResourceExhaustedError (disk full), InvalidArgumentError (bad path, wrong file type).
 */
export class FilesApi {
  readonly #connection: Connection;

  /** Not public: a Sandbox has one. */
  constructor(internal: never);
  /** @internal Created by Sandbox. */
  constructor(connection: Connection);
  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /**
   * A file as a Node Readable of Buffers, streamed with backpressure. Errors (NotFoundError,
   * PermissionDeniedError, ...) arrive as the stream's 'error' (as for any Readable, listen
   * for it, or consume with pipeline / for await). `info` resolves with the file's details
   * before the first byte, or rejects with the same error.
   */
  readStream(path: string, options: CallOptions = {}): Readable & { info: Promise<FileInfo> } {
    return readStream(this.#connection, path, options);
  }

  /** A whole file in memory, at most `maxBytes` (default 64 MiB). For large files use readStream. */
  async read(path: string, options: ReadOptions = {}): Promise<Uint8Array> {
    const maxBytes = nonNegativeOption(options.maxBytes, 'maxBytes') ?? DEFAULT_READ_MAX_BYTES;
    const stream = this.readStream(path, options);
    const tooLarge = (size: number) =>
      new ResourceExhaustedError(
        `read ${path}: the file is over maxBytes ${maxBytes} (${size} bytes so far); raise maxBytes or use readStream`,
        {
          reason: 'READ_TOO_LARGE',
          metadata: { option: 'maxBytes', limit: String(maxBytes), path },
        },
      );
    const parts: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) {
        stream.destroy();
        throw tooLarge(total);
      }
      parts.push(chunk as Buffer);
    }
    return new Uint8Array(Buffer.concat(parts));
  }

  /** A whole file decoded as UTF-8 (at most `maxBytes`, as read). */
  async readText(path: string, options: ReadOptions = {}): Promise<string> {
    return new TextDecoder().decode(await this.read(path, options));
  }

  write(path: string, data: string | Uint8Array | Readable, options: WriteOptions = {}): Promise<FileInfo> {
    return writeFile(this.#connection, path, data, options);
  }

  /**
   * The entries of a directory, sorted by name (bytewise). A name that is not UTF-8 comes with
   * its exact bytes as `rawName` and a display form as `name` (see FileInfo).
   */
  async list(path: string, options: CallOptions = {}): Promise<FileInfo[]> {
    // The agent sends a page at a time (each response fits 4 MiB); this collects them all.
    const entries: FileInfo[] = [];
    let pageToken = '';
    do {
      const page = await this.#connection.unary(
        FilesService.method.listDir,
        create(ListDirRequestSchema, { path, pageToken }),
        `list ${path}`,
        options,
      );
      for (const entry of page.entries) entries.push(toFileInfo(entry));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return entries;
  }

  /** Details of a path (a symlink is described, not followed). */
  async stat(path: string, options: CallOptions = {}): Promise<FileInfo> {
    const r = await this.#connection.unary(FilesService.method.stat, create(StatRequestSchema, { path }), `stat ${path}`, options);
    return toFileInfo(r.info);
  }

  /** Removes a file, a symlink, an empty directory, or with `recursive` a whole tree. */
  async remove(path: string, options: RemoveOptions = {}): Promise<void> {
    await this.#connection.unary(
      FilesService.method.remove,
      create(RemoveRequestSchema, { path, recursive: options.recursive ?? false }),
      `remove ${path}`,
      options,
    );
  }

  /**
   * Creates a directory; `mode` (default 0o755) is applied exactly to the directory it creates.
   * With `parents`, missing parents are created too and an existing directory is not an error.
   */
  async makeDir(path: string, options: MakeDirOptions = {}): Promise<FileInfo> {
    const r = await this.#connection.unary(
      FilesService.method.makeDir,
      create(MakeDirRequestSchema, { path, parents: options.parents ?? false, mode: options.mode ?? 0 }),
      `makeDir ${path}`,
      options,
    );
    return toFileInfo(r.info);
  }
}
