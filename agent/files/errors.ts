// errno → the RPC error of a file operation; every message names the operation and the path.
import { rpcError, type Reason, type RpcError } from '../server/errors.js';
import type { WorkerFailure } from './protocol.js';

const BY_ERRNO: Record<string, [Reason, string]> = {
  ENOENT: ['FILE_NOT_FOUND', 'no such file or directory'],
  EACCES: ['PERMISSION_DENIED', 'permission denied'],
  EPERM: ['PERMISSION_DENIED', 'operation not permitted'],
  EROFS: ['PERMISSION_DENIED', 'read-only file system'],
  EEXIST: ['FILE_EXISTS', 'already exists'],
  ENOSPC: ['DISK_FULL', 'no space left on device'],
  EDQUOT: ['DISK_FULL', 'disk quota exceeded'],
  EFBIG: ['FILE_TOO_LARGE', 'file too large'],
  EMFILE: ['TOO_MANY_OPEN_FILES', 'too many open files'],
  E2BIG: ['DIRECTORY_TOO_LARGE', 'directory has more than 1000000 entries, more than ListDir sorts'],
  ENOTDIR: ['NOT_A_DIRECTORY', 'a component of the path is not a directory'],
  EISDIR: ['IS_A_DIRECTORY', 'is a directory'],
  ENOTEMPTY: ['DIRECTORY_NOT_EMPTY', 'directory not empty (remove it with recursive)'],
  ENOTREG: ['NOT_A_REGULAR_FILE', 'not a regular file (FIFOs and sockets are not transferred; devices are not read)'],
  ENXIO: ['NO_SUCH_DEVICE', 'no such device or reader'],
  ELOOP: ['SYMLINK_LOOP', 'too many levels of symbolic links'],
  ENAMETOOLONG: ['NAME_TOO_LONG', 'file name too long'],
  EINVAL: ['FIELD_INVALID', 'invalid argument'],
};

export function failureToStatus(operation: string, path: string, failure: WorkerFailure): RpcError {
  const known = BY_ERRNO[failure.code];
  const where = `${operation} ${JSON.stringify(path)}`;
  const metadata = { path, errno: failure.code };
  if (known) return rpcError(known[0], `${where}: ${known[1]} (${failure.code})`, metadata);
  if (failure.code === 'EWORKER') return rpcError('FILE_WORKER_FAILED', `${where}: ${failure.message}; retry`, { path });
  return rpcError('FILE_ERROR', `${where}: ${failure.message} (${failure.code})`, metadata);
}
