// Public types of the files capability, and the wire FileInfo → FileInfo mapping.
import { FileType, type FileInfo as WireFileInfo } from '../../proto/gen/runbox/v1/files_pb.js';
import { AgentError } from '../errors.js';
import type { CallOptions } from '../transport/connection.js';

/** A file, directory or symlink in the sandbox. */
export interface FileInfo {
  /** Absolute path; when `rawName` is set it ends in the display form of `name`: for showing, not for other calls. */
  path: string;
  /**
   * The name, exact unless `rawName` is set: then a display form (valid UTF-8 as it is, every
   * other byte as `\xNN`), since the name is not UTF-8.
   */
  name: string;
  /**
   * The name's exact bytes, present only when they are not valid UTF-8 (only `list` meets such
   * names). Path-based calls cannot reach that entry; removing its directory recursively can.
   */
  rawName?: Uint8Array;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  modified: Date;
  owner: string;
  /** Where a symlink points ('' otherwise); a target that is not UTF-8 is in the display form of `name`. */
  symlinkTarget: string;
}

/** Options of `sb.files.write()`. */
/** Default `maxBytes` of `read`/`readText`: a whole file in memory; stream larger ones with readStream. */
export const DEFAULT_READ_MAX_BYTES = 64 << 20;

export interface ReadOptions extends CallOptions {
  /**
   * Refuse files larger than this (ResourceExhaustedError, reason READ_TOO_LARGE) instead of
   * holding them in memory; counted as bytes arrive, so a file that grows while it is read, or
   * a guest that sends more than the size it announced, is cut off too. Default 64 MiB.
   */
  maxBytes?: number;
}

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

export function toFileInfo(info: WireFileInfo | undefined): FileInfo {
  if (!info) throw new AgentError('files: the agent answered without file information', { reason: 'AGENT_ANSWER_INVALID' });
  return {
    path: info.path,
    name: info.name,
    type: TYPES[info.type] ?? 'other',
    size: Number(info.size),
    mode: info.mode,
    modified: new Date(Number(info.modifiedMs)),
    owner: info.owner,
    symlinkTarget: info.symlinkTarget,
    ...(info.rawName.length > 0 ? { rawName: info.rawName } : {}),
  };
}
